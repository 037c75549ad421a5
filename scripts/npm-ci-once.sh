#!/bin/sh
# Installs a directory's pinned npm dependencies into a build-tree directory, once:
# copies SRC_DIR's package.json and package-lock.json (and any FILES, relative to SRC_DIR)
# into WORK_DIR, then runs `npm ci` there only when package-lock.json changed since the last
# install (a copy of it is kept in node_modules as the stamp). Exit 77 (ctest's "skipped")
# when node or npm is missing; npm's own failure is a failure.
# Usage: npm-ci-once.sh SRC_DIR WORK_DIR [FILES...]
set -eu
if [ $# -lt 2 ]; then
  echo "usage: npm-ci-once.sh SRC_DIR WORK_DIR [FILES...]" >&2
  exit 2
fi
src=$1
work=$2
shift 2
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "skipped: node and npm are needed (scripts/deps.sh installs nodejs npm)"
  exit 77
fi
mkdir -p "$work"
cp "$src/package.json" "$src/package-lock.json" "$work/"
for f in "$@"; do
  cp "$src/$f" "$work/"
done
stamp="$work/node_modules/.dropsim-installed-lock"
if ! cmp -s "$src/package-lock.json" "$stamp" 2>/dev/null; then
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$src/package-lock.json" "$stamp"
fi

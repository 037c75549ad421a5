#!/bin/sh
# ctest wrapper for the Toxiproxy Node client test: installs the pinned client into
# WORK_DIR (npm ci, only when package-lock.json changed since the last install), then runs
# the test against SERVER_COMMAND. Exit 77 (skipped) when node or npm is missing.
# Usage: run.sh WORK_DIR SERVER_COMMAND [ARGS...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$1
shift
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "skipped: node and npm are needed (scripts/deps.sh installs nodejs npm)"
  exit 77
fi
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/toxiproxy_client_test.mjs" "$work/"
stamp="$work/node_modules/.dropsim-installed-lock"
if ! cmp -s "$here/package-lock.json" "$stamp" 2>/dev/null; then
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$here/package-lock.json" "$stamp"
fi
exec node "$work/toxiproxy_client_test.mjs" "$@"

#!/bin/sh
# ctest wrapper for the browser example: copies the example into WORK_DIR, installs its npm
# packages there (npm ci, only when package-lock.json changed since the last install), then
# runs close_codes_test.mjs, which leaves WORK_DIR/close-codes.png.
# Exit 77 (skipped) when node, npm or Chromium is missing.
# Usage: run.sh WORK_DIR DROPSIM
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$1
dropsim=$2
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "skipped: node and npm are needed (scripts/deps.sh installs nodejs npm)"
  exit 77
fi
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "skipped: $chromium not found (scripts/deps.sh installs Debian's chromium)"
  exit 77
fi
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/server.mjs" "$here/close-codes.html" \
   "$here/close_codes_test.mjs" "$work/"
stamp="$work/node_modules/.dropsim-installed-lock"
if ! cmp -s "$here/package-lock.json" "$stamp" 2>/dev/null; then
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$here/package-lock.json" "$stamp"
fi
CHROMIUM=$chromium exec node "$work/close_codes_test.mjs" "$dropsim" "$work"

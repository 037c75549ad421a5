#!/bin/sh
# ctest wrapper for the Toxiproxy Node client test: installs the pinned client into
# WORK_DIR (scripts/npm-ci-once.sh: npm ci, only when package-lock.json changed since the
# last install), then runs the test against SERVER_COMMAND. Exit 77 (skipped) when node or
# npm is missing.
# Usage: run.sh WORK_DIR SERVER_COMMAND [ARGS...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$1
shift
sh "$here/../../scripts/npm-ci-once.sh" "$here" "$work" toxiproxy_client_test.mjs
exec node "$work/toxiproxy_client_test.mjs" "$@"

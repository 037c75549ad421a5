#!/bin/sh
# Plays the war story (war-story.mjs) through dropsim. Installs `ws` (pinned by
# package-lock.json) into WORK_DIR once, with scripts/npm-ci-once.sh; exit 77 (skipped)
# without node and npm.
# Usage: run.sh [--dropsim PATH] [--work DIR] [--test] [war-story.mjs options]
#   --dropsim  the binary (default: build/dropsim of this checkout)
#   --work     where ws is installed and the configs are written (default: build/examples/war-story)
#   --test     run test-war-story.mjs instead: the story, then assertions on what happened
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dropsim=$root/build/dropsim
work=$root/build/examples/war-story
script=war-story.mjs
while [ $# -gt 0 ]; do
  case $1 in
    --dropsim) dropsim=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --test) script=test-war-story.mjs; shift ;;
    *) break ;;
  esac
done
if [ ! -x "$dropsim" ]; then
  echo "no dropsim at $dropsim: build it first (make build), or pass --dropsim PATH" >&2
  exit 2
fi
sh "$root/scripts/npm-ci-once.sh" "$here" "$work" \
  server.mjs client.mjs war-story.mjs test-war-story.mjs dropsim.yaml
exec node "$work/$script" --dropsim "$dropsim" --work "$work" "$@"

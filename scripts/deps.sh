#!/usr/bin/env bash
# Installs what dropsim needs to build and test, from Debian 12 packages, and only what is
# missing: quiet and quick when everything is already there. Works as root on a bare
# machine (uses sudo when not root and sudo exists).
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake pkg-config
  # libraries (the fixed stack)
  libasio-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev libgtest-dev node-llhttp
  # WebSocket integration tests: an independent client and server (tests/integration/*.py)
  python3 python3-websockets
)
# `--fuzz` (make fuzz): clang with libFuzzer and the sanitizer runtimes, on top of the above.
fuzz_packages=(clang libclang-rt-14-dev)

case "${1:-}" in
  "") ;;
  --fuzz) packages+=("${fuzz_packages[@]}") ;;
  *) echo "usage: scripts/deps.sh [--fuzz]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
((${#missing[@]} == 0)) && exit 0

echo "deps: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps: need root (or sudo) to apt-get install ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
# Package lists may be absent or stale on a fresh machine: refresh once, then install.
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"

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
  # the control API's JSON
  nlohmann-json3-dev
  # WebSocket integration tests: an independent client and server (tests/integration/*.py)
  python3 python3-websockets
  # the fidelity suite's references (tests/conformance): real nginx (with its stream
  # module), HAProxy, Apache httpd and Caddy, which the suite starts itself in the
  # foreground on its own ports and configs
  nginx-light libnginx-mod-stream haproxy apache2 caddy
  # examples/browser: a real browser, driven headless by the example's test
  chromium
)
# Installed only as test references: never started or enabled as services by us.
services=(nginx haproxy apache2 caddy)
# `--fuzz` (make fuzz): clang with libFuzzer and the sanitizer runtimes, on top of the above.
fuzz_packages=(clang libclang-rt-14-dev)
# `--bench` (make bench): the load generators bench/compare.py drives through dropsim,
# nginx and HAProxy: iperf3 (bulk TCP) and sockperf (64 B ping-pong).
bench_packages=(iperf3 sockperf)

case "${1:-}" in
  "") ;;
  --fuzz) packages+=("${fuzz_packages[@]}") ;;
  --bench) packages+=("${bench_packages[@]}") ;;
  *) echo "usage: scripts/deps.sh [--fuzz | --bench]" >&2; exit 2 ;;
esac

# The Toxiproxy Node client test (tests/toxiproxy-node): Debian's node and npm, only when
# no node is installed at all (a newer one from elsewhere serves as well).
if ! command -v node >/dev/null; then packages+=(nodejs npm); fi

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
# Debian's nginx and haproxy packages start their service on install; a policy-rc.d that
# answers 101 ("action forbidden") stops that. Ours only if there is none already.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# scripts/deps.sh: no service starts while it installs packages\nexit 101\n' |
    "${sudo_cmd[@]}" tee "$policy" >/dev/null
  "${sudo_cmd[@]}" chmod 755 "$policy"
  trap '"${sudo_cmd[@]}" rm -f "$policy"' EXIT
fi
# Package lists may be absent or stale on a fresh machine: refresh once, then install.
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# ...and do not leave the references enabled for the next boot either.
if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
  for s in "${services[@]}"; do
    if [[ " ${missing[*]} " == *" $s"* ]]; then "${sudo_cmd[@]}" systemctl disable --now "$s" >/dev/null 2>&1 || true; fi
  done
fi
echo "deps: done"

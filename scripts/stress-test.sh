#!/bin/sh
# `make stress-test`: the test suite as a busy, differently tuned machine runs it. Starts
# STRESS_BURNERS busy loops (default 2: one per core of a 2-core machine), runs the whole
# ctest suite STRESS_RUNS times (default 5) beside them, and then, when run as root with
# a writable sysctl, once more (STRESS_SYSCTL_RUNS) under each of a few kernel socket-buffer
# settings: the large and small maxima the suite must not depend on, and a tiny one.
# Prints pass/fail and the duration of every run; exits 1 if any run failed. The burners
# and the sysctl values are restored on exit, also on Ctrl-C. Not part of `make test` or CI.
#
#   scripts/stress-test.sh [BUILD_DIR]     (STRESS_SYSCTL=off: never touch sysctl;
#                                           STRESS_CTEST_ARGS: extra ctest arguments, e.g. -R pipe)
set -u

build=${1:-build}
runs=${STRESS_RUNS:-5}
burners=${STRESS_BURNERS:-2}
sysctl_runs=${STRESS_SYSCTL_RUNS:-1}
jobs=${JOBS:-$(nproc)}
ctest_args=${STRESS_CTEST_ARGS:-}

[ -f "$build/CTestTestfile.cmake" ] || { echo "stress-test: no test tree in $build (make build first)" >&2; exit 2; }

# "tcp_rmem|tcp_wmem" triples to try; the first two are the machines of issue 10.
buffer_settings='4096 131072 33554432|4096 16384 4194304
4096 87380 6291456|4096 16384 4194304
4096 4096 65536|4096 4096 65536'

burner_pids=""
saved_rmem=""
saved_wmem=""

cleanup() {
  for pid in $burner_pids; do kill "$pid" 2>/dev/null; done
  if [ -n "$saved_rmem" ]; then
    sysctl -q -w net.ipv4.tcp_rmem="$saved_rmem" net.ipv4.tcp_wmem="$saved_wmem" >/dev/null &&
      echo "stress-test: restored tcp_rmem=\"$saved_rmem\" tcp_wmem=\"$saved_wmem\""
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

i=0
while [ "$i" -lt "$burners" ]; do
  # Bounded, in case this script is killed with SIGKILL and cannot stop them.
  timeout 7200 sh -c 'while :; do :; done' &
  burner_pids="$burner_pids $!"
  i=$((i + 1))
done
echo "stress-test: $burners CPU burner(s) running (pids$burner_pids)"

results=""
failed=0

# Runs the suite once; $1 names the kernel setting in the summary.
run_suite() {
  start=$(date +%s)
  log="$build/stress-test-$(date +%s%N).log"
  # shellcheck disable=SC2086  # ctest_args is a word list on purpose
  if (cd "$build" && ctest --output-on-failure --timeout 300 -j "$jobs" $ctest_args) >"$log" 2>&1; then
    verdict=pass
    rm -f "$log"
  else
    verdict=FAIL
    failed=$((failed + 1))
  fi
  took=$(($(date +%s) - start))
  summary=$(grep -E '^[0-9]+% tests passed' "$log" 2>/dev/null || true)
  line="$verdict  ${took}s  $1${summary:+  ($summary; log: $log)}"
  echo "stress-test: $line"
  results="$results
$line"
}

current="tcp_rmem=\"$(sysctl -n net.ipv4.tcp_rmem 2>/dev/null | tr -s '\t ' ' ')\" tcp_wmem=\"$(sysctl -n net.ipv4.tcp_wmem 2>/dev/null | tr -s '\t ' ' ')\""
n=1
while [ "$n" -le "$runs" ]; do
  run_suite "run $n/$runs, $current"
  n=$((n + 1))
done

if [ "${STRESS_SYSCTL:-auto}" = off ]; then
  echo "stress-test: STRESS_SYSCTL=off: socket-buffer settings not varied"
elif [ "$(id -u)" != 0 ] || ! [ -w /proc/sys/net/ipv4/tcp_rmem ]; then
  echo "stress-test: not root or sysctl read-only: socket-buffer settings not varied"
else
  saved_rmem=$(sysctl -n net.ipv4.tcp_rmem | tr -s '\t ' ' ')
  saved_wmem=$(sysctl -n net.ipv4.tcp_wmem | tr -s '\t ' ' ')
  echo "$buffer_settings" | while IFS='|' read -r rmem wmem; do echo "$rmem|$wmem"; done >"$build/.stress-settings"
  while IFS='|' read -r rmem wmem; do
    if ! sysctl -q -w net.ipv4.tcp_rmem="$rmem" net.ipv4.tcp_wmem="$wmem" >/dev/null; then
      echo "stress-test: could not set tcp_rmem=\"$rmem\" tcp_wmem=\"$wmem\"; skipped"
      continue
    fi
    n=1
    while [ "$n" -le "$sysctl_runs" ]; do
      run_suite "tcp_rmem=\"$rmem\" tcp_wmem=\"$wmem\""
      n=$((n + 1))
    done
  done <"$build/.stress-settings"
  rm -f "$build/.stress-settings"
fi

echo
echo "stress-test summary ($burners burner(s), ctest -j $jobs):$results"
[ "$failed" -eq 0 ] || { echo "stress-test: $failed run(s) failed"; exit 1; }
echo "stress-test: every run passed"

# Thin wrapper over CMake. `make demo` and `make test` work on a fresh Debian 12 machine:
# each installs what is missing first (scripts/deps.sh), then builds.
BUILD      ?= build
SAN_BUILD  ?= build-san
TSAN_BUILD ?= build-tsan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: all deps build test stress-test sanitize tsan demo bench fidelity clean

all: build

deps:
	@scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 300 -j $(JOBS)

# The suite STRESS_RUNS times (default 5) beside two CPU burners, then once under each of
# a few kernel socket-buffer settings when run as root (restored afterwards); pass/fail and
# duration per run (scripts/stress-test.sh). Slow; not part of `make test` or CI.
STRESS_RUNS ?= 5
stress-test: build
	STRESS_RUNS=$(STRESS_RUNS) JOBS=$(JOBS) scripts/stress-test.sh $(BUILD)

# A second tree with AddressSanitizer + UndefinedBehaviorSanitizer, running the same tests.
sanitize: deps
	cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDROPSIM_SANITIZE=ON -DDROPSIM_BUILD_BENCH=OFF $(CMAKE_ARGS)
	cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure --timeout 600 -j $(JOBS)

# A third tree with ThreadSanitizer: the suite again, the real binary's sessions on worker
# threads (`run --threads`, default the cores; the Runtime and API tests run with two
# workers too). Any data race fails the test that ran into it (halt_on_error: the
# binaries the tests start stop with exit code 66); tests/tsan.supp says what is ignored.
tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDROPSIM_TSAN=ON -DDROPSIM_BUILD_BENCH=OFF $(CMAKE_ARGS)
	cmake --build $(TSAN_BUILD) -j $(JOBS)
	cd $(TSAN_BUILD) && \
	  TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  ctest --output-on-failure --timeout 900 -j $(JOBS) -E conformance

# The fidelity matrix (tests/conformance): real nginx, HAProxy, Apache httpd and Caddy against dropsim's
# profiles; prints it, writes $(BUILD)/fidelity.json and rewrites docs/fidelity.md.
fidelity: build
	/usr/bin/python3 tests/conformance/run.py --dropsim $(BUILD)/dropsim \
	  --json $(BUILD)/fidelity.json --markdown docs/fidelity.md

demo: build
	$(BUILD)/dropsim demo

# dropsim's own bench (build/bench/dropsim_bench: dropsim against direct loopback, in
# process), then bench/compare.py: dropsim side by side with real nginx and HAProxy in one
# run, rounds shuffled, a table of ratios to nginx (issue 14). iperf3 and sockperf come
# from `scripts/deps.sh --bench`. BENCH_ARGS goes to compare.py (--quick, --rounds N);
# Both rewrite docs/performance.md; `make bench-compare` runs compare.py alone.
BENCH_ARGS ?=
bench: build
	@scripts/deps.sh --bench
	$(BUILD)/bench/dropsim_bench
	/usr/bin/python3 bench/compare.py --dropsim $(BUILD)/dropsim --markdown docs/performance.md $(BENCH_ARGS)

.PHONY: bench-compare
bench-compare: build
	@scripts/deps.sh --bench
	/usr/bin/python3 bench/compare.py --dropsim $(BUILD)/dropsim --markdown docs/performance.md $(BENCH_ARGS)

# 1,000 clients through a tcp proxy under `ulimit -n 256`: the cap, the API meanwhile, the
# descriptors after (bench/capacity.py; LIMIT= and CLIENTS= change the figures).
LIMIT ?= 256
CLIENTS ?= 1000
.PHONY: bench-capacity
bench-capacity: build
	/usr/bin/python3 bench/capacity.py --dropsim $(BUILD)/dropsim --limit $(LIMIT) --clients $(CLIENTS)

# libFuzzer targets (fuzz/*_fuzz.cpp) in a clang tree of their own, each run for
# FUZZ_SECONDS on a corpus kept in $(FUZZ_BUILD)/corpus/<name>, seeded from the committed
# fuzz/corpus/<name> when there is one; FUZZ_ARGS adds libFuzzer flags (-runs=1000000).
# Not part of `make test`.
FUZZ_ARGS ?=
.PHONY: fuzz
fuzz:
	@scripts/deps.sh --fuzz
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDROPSIM_FUZZ=ON \
	  -DDROPSIM_BUILD_TESTS=OFF -DDROPSIM_BUILD_BENCH=OFF $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	@set -e; for bin in $(FUZZ_BUILD)/fuzz/*_fuzz; do \
	  [ -x "$$bin" ] || continue; name=$$(basename "$$bin"); \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$name $(FUZZ_BUILD)/artifacts; \
	  echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
	  seeds=; if [ -d fuzz/corpus/$$name ]; then seeds=fuzz/corpus/$$name; fi; \
	  "$$bin" -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(FUZZ_ARGS) \
	    -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$name- $(FUZZ_BUILD)/corpus/$$name $$seeds; \
	done

clean:
	rm -rf $(BUILD) $(SAN_BUILD)

# Thin wrapper over CMake. `make demo` and `make test` work on a fresh Debian 12 machine:
# each installs what is missing first (scripts/deps.sh), then builds.
BUILD      ?= build
SAN_BUILD  ?= build-san
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps build test sanitize demo bench clean

all: build

deps:
	@scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 300 -j $(JOBS)

# A second tree with AddressSanitizer + UndefinedBehaviorSanitizer, running the same tests.
sanitize: deps
	cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDROPSIM_SANITIZE=ON -DDROPSIM_BUILD_BENCH=OFF $(CMAKE_ARGS)
	cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure --timeout 600 -j $(JOBS)

demo: build
	$(BUILD)/dropsim demo

bench: build
	$(BUILD)/bench/dropsim_bench

clean:
	rm -rf $(BUILD) $(SAN_BUILD)

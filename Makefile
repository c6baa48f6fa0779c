# The two README commands. Everything real happens in CMake (CMakeLists.txt) and scripts/.
JOBS ?= 2
BUILD ?= build
ASAN_BUILD ?= build-asan
# ON: -march=native (faster here, runs only on CPUs like the build machine's); given explicitly so
# that a build directory configured with ON before goes back to the portable default
NATIVE ?= OFF

.PHONY: all deps build check check-fast demo fuzz bench clean

all: build

deps:
	@./scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCGALR_WERROR=ON -DCGALR_NATIVE=$(NATIVE) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Tests twice: optimised, then under AddressSanitizer + UndefinedBehaviorSanitizer.
check: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCGALR_WERROR=ON -DCGALR_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j$(JOBS)

check-fast: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

demo: build
	@./scripts/demo.sh $(BUILD)

fuzz: deps
	@./scripts/fuzz.sh

bench: build
	@./scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz

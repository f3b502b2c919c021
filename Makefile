# netsock — top-level driver over CMake. See README.md.
#   make          release build (gcc, warnings as errors) in build/
#   make demo     build and run the simulated-network demo
#   make test     bootstrap packages, build with ASan+UBSan (clang), run ctest
#   make fuzz     run every libFuzzer target long (FUZZ_SECONDS each)
#   make soak     the TCP simulation suite over SOAK_SEEDS seeds
#   make bench    run the benchmarks
#   make install  install into $(DESTDIR)$(PREFIX) (default /usr/local): library,
#                 headers, netsock, man pages, netsock.pc, CMake package
#   make uninstall  remove what the last make install installed
BUILD      ?= build
BUILD_TYPE ?= RelWithDebInfo
TEST_BUILD ?= build-test
FUZZ_SECONDS ?= 300
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all build demo test test-build fuzz soak bench clean bootstrap install uninstall

all: build

bootstrap:
	@./scripts/bootstrap

build:
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DNS_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@./$(BUILD)/netsock demo

test-build: bootstrap
	@CC=clang cmake -S . -B $(TEST_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	    -DNS_SANITIZE=ON -DNS_FUZZ=ON >/dev/null
	@cmake --build $(TEST_BUILD) -j $(JOBS)

# The release build (gcc) is built too so both compilers keep warnings clean.
test: test-build build
	@cd $(TEST_BUILD) && ctest --output-on-failure -j $(JOBS)

fuzz: test-build
	@for f in $(TEST_BUILD)/tests/fuzz_*; do \
	    n=$$(basename $$f); mkdir -p fuzz-corpus/$$n; \
	    echo "== $$n for $(FUZZ_SECONDS) s (corpus fuzz-corpus/$$n)"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 fuzz-corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	done

# Many more simulation seeds than make test runs (SOAK_SEEDS of them).
SOAK_SEEDS ?= 5000
soak: test-build
	@NETSOCK_SEEDS=$(SOAK_SEEDS) ./$(TEST_BUILD)/tests/test_sim_tcp

bench: build
	@./bench/run.sh $(BUILD)

# The release build, configured for PREFIX (GNUInstallDirs below it), then
# installed under DESTDIR (empty: the real root).
install:
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DNS_TESTS=OFF \
	    -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@DESTDIR=$(DESTDIR) cmake --install $(BUILD)

uninstall:
	@test -f $(BUILD)/install_manifest.txt || { echo "nothing installed from $(BUILD)"; exit 1; }
	@xargs -d '\n' rm -fv < $(BUILD)/install_manifest.txt

clean:
	rm -rf $(BUILD) $(TEST_BUILD)

# netsock — top-level driver over CMake. See README.md.
#   make          release build (gcc, warnings as errors) in build/
#   make demo     build and run the simulated-network demo
#   make test     bootstrap packages, build with ASan+UBSan (clang), run the
#                 threaded tests under ThreadSanitizer (build-tsan/), run ctest
#   make fuzz     run every libFuzzer target long (FUZZ_SECONDS each)
#   make soak     the TCP simulation suite over SOAK_SEEDS seeds
#   make bench    run the benchmarks
#   make install  install into $(DESTDIR)$(PREFIX) (default /usr/local): library,
#                 headers, netsock, man pages, netsock.pc, CMake package
#   make uninstall  remove what the last make install installed
BUILD      ?= build
BUILD_TYPE ?= RelWithDebInfo
TEST_BUILD ?= build-test
TSAN_BUILD ?= build-tsan
FUZZ_SECONDS ?= 300
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all build demo test test-build tsan fuzz soak bench clean bootstrap install uninstall

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

# The tests that share a stack between threads, built with clang's
# ThreadSanitizer in a tree of their own (TSan and ASan do not mix): any
# data race it reports fails the run (halt_on_error).
TSAN_TESTS := test_threads test_iothread
tsan: bootstrap
	@CC=clang cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DNS_TSAN=ON >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS) --target $(TSAN_TESTS)
	@for t in $(TSAN_TESTS); do \
	    echo "== ThreadSanitizer: $$t"; \
	    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" ./$(TSAN_BUILD)/tests/$$t >$(TSAN_BUILD)/$$t.log 2>&1 \
	        || { cat $(TSAN_BUILD)/$$t.log; echo "ThreadSanitizer: $$t failed"; exit 1; }; \
	    tail -n 1 $(TSAN_BUILD)/$$t.log; \
	done

# The release build (gcc) is built too so both compilers keep warnings
# clean; the ThreadSanitizer run comes before ctest, whose summary ends
# the output.
test: test-build build tsan
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
	rm -rf $(BUILD) $(TEST_BUILD) $(TSAN_BUILD)

# weft — the two commands a user needs: `make demo` and `make test`.
# Both install the Debian packages they need (as root, or through sudo).

DEBIAN_PACKAGES := g++ cmake make pkg-config libcaf-dev libmsgpack-cxx-dev \
  libcurl4-openssl-dev catch2 libyaml-cpp-dev nlohmann-json3-dev libcli11-dev \
  libkainjow-mustache-dev zlib1g-dev libgoogle-perftools-dev \
  libhttp-parser-dev liblua5.4-dev libvalijson-dev rapidjson-dev
# What only the test suite needs: lintian checks the Debian packages,
# clang-format the style of the tree (tests/style_check.cmake), openssl
# makes the cluster TLS tests' certificates.
TEST_PACKAGES := lintian clang-format openssl
BUILD_DIR ?= build
# CI builds Release (GCC 12 at -O3 warns where -O2 does not, and without
# debug info the build takes a third less time); elsewhere RelWithDebInfo.
BUILD_TYPE ?= $(if $(filter true,$(CI)),Release,RelWithDebInfo)
JOBS ?= $(shell nproc)
COMMA := ,
HASH := $(shell printf '\043')
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# On CI (CI=true) a compiler warning fails the build.
WERROR := $(if $(filter true,$(CI)),ON,OFF)

.PHONY: deps test-deps build demo test package bench sanitize asan tsan tidy clean

deps:
	@if ! dpkg -s $(DEBIAN_PACKAGES) >/dev/null 2>&1; then \
	  echo "weft: installing Debian packages: $(DEBIAN_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(DEBIAN_PACKAGES); \
	fi

test-deps: deps
	@if ! dpkg -s $(TEST_PACKAGES) >/dev/null 2>&1; then \
	  echo "weft: installing Debian packages for the tests: $(TEST_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(TEST_PACKAGES); \
	fi

build: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DWEFT_WERROR=$(WERROR) >/dev/null
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The mission in one command: builds only the `weft` binary (not the tests
# or the benchmarks), then one run, a load of 2,000 audited runs, and the
# last trace.
DEMO_TICKETS := [{"text":"db down","score":0.9},{"text":"typo","score":0.1},{"text":"login slow","score":0.5}]
demo: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	cmake --build $(BUILD_DIR) -j $(JOBS) --target weft
	@echo; echo "== 1/3  one run of examples/hello.yaml"
	./$(BUILD_DIR)/weft run examples/hello.yaml -i name=World
	@echo; echo "== 2/3  2,000 runs of examples/triage.yaml, 200 at once: a map of 3 child runs, each with a router"
	@rm -f weft-demo-traces.jsonl
	./$(BUILD_DIR)/weft load examples/triage.yaml -i 'tickets=$(DEMO_TICKETS)' --runs 2000 --concurrency 200 \
	  --session-id demo --user-id you --trace-file weft-demo-traces.jsonl
	@echo; echo "== 3/3  the last of those traces"
	./$(BUILD_DIR)/weft trace show weft-demo-traces.jsonl --last 1
	@echo
	@echo "weft ran each flow as a tree of actors, 200 runs at once, and wrote one trace per run (weft-demo-traces.jsonl)."
	@echo "The audit read them back: every span parented inside its own run's trace, session and user on each; the tree above is one."

# On CI the concurrency, serve and exporter tests then run again under
# AddressSanitizer + UBSan (make sanitize).
test: test-deps build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600 -LE long
ifeq ($(CI),true)
	$(MAKE) sanitize
endif

# AddressSanitizer + UBSan builds live in build-asan: -O0 with line tables
# (-g1), which compiles in half the time of -O1 with UBSan's checks.
ASAN_TREE := cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1" \
  -DWEFT_SANITIZE=address -DWEFT_WERROR=$(WERROR) >/dev/null
UBSAN_ENV := UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$(CURDIR)/tests/ubsan.supp
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1 $(UBSAN_ENV)
ASAN_ENV_NO_LEAKS := ASAN_OPTIONS=detect_leaks=0 $(UBSAN_ENV)

# The concurrency, serve and exporter tests under AddressSanitizer + UBSan
# (CMakeLists.txt lists them: weft_sanitized_tests). CI runs this. The HTTP
# server's tests run without LeakSanitizer: when the actor system stops
# while a connection is closing, CAF 0.17's io multiplexer leaves that
# connection's broker and the acceptor alive (a ~4 KB cycle of brokers,
# scribes and mailbox elements, at exit only; tests/README.md). Every other
# test runs with leak checks on.
SERVER_TESTS := $(foreach t,background concurrency http limits metrics openai sse sse_concurrency,[$(HASH)serve_$(t)_test])
sanitize: deps
	$(ASAN_TREE)
	cmake --build build-asan -j $(JOBS) --target weft_sanitized_tests
	cd build-asan && $(ASAN_ENV) ./weft_sanitized_tests -# "$(subst $(eval) ,,$(addprefix ~,$(SERVER_TESTS)))"
	cd build-asan && $(ASAN_ENV_NO_LEAKS) ./weft_sanitized_tests -# "$(subst $(eval) ,$(COMMA),$(SERVER_TESTS))"

# The whole suite under AddressSanitizer + UBSan.
asan: deps
	$(ASAN_TREE)
	cmake --build build-asan -j $(JOBS) --target weft weft_tests
	cd build-asan && $(ASAN_ENV) ./weft_tests

# The concurrency tests under ThreadSanitizer. Debian's libcaf_core is not
# built with -fsanitize=thread, so TSan cannot see the synchronisation inside
# CAF's mailboxes and reports every message hand-off as a race; the target is
# kept for a CAF built from source with TSan (see bench/RESULTS.md).
tsan: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_SANITIZE=thread >/dev/null
	cmake --build build-tsan -j $(JOBS) --target weft_tests
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ./weft_tests "[concurrency]"

# Debian packages in $(BUILD_DIR): weft (the command) and libweft-dev (headers,
# static library, CMake package, pkg-config file). Install them with
# `sudo apt-get install ./$(BUILD_DIR)/*.deb`.
package: build
	cd $(BUILD_DIR) && cpack -G DEB

bench: build
	@dpkg -s wrk >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk
	./$(BUILD_DIR)/weft_bench
	./$(BUILD_DIR)/weft_exporter_bench
	./$(BUILD_DIR)/weft_serve_bench
	./$(BUILD_DIR)/weft_lua_bench

# clang-tidy (Debian's 14) with the checks in .clang-tidy over every source
# file of the build, tests and benchmarks included. A finding fails it. Its
# own tree, configured only: clang cannot read GCC's precompiled headers.
tidy: deps
	@command -v run-clang-tidy >/dev/null || DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq clang-tidy
	cmake -S . -B build-tidy -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DWEFT_PCH=OFF >/dev/null
	run-clang-tidy -p build-tidy -j $(JOBS) -quiet -warnings-as-errors='*' \
	  '$(CURDIR)/(actors|bench|cli|cluster|components|config|export|flows|net|serve|tests|tracing)/.*\.cpp$$'

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan build-tidy

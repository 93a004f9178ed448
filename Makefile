# Thin wrapper over Meson for the README's commands. The real build is meson.build.
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all deps demo check check-asan check-valgrind check-xen bench bench-xen fuzz clean deb

all: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	./scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD)

# The main job: run on the embedded default, no Xen needed.
demo: all
	./scripts/demo $(BUILD)

# Every test, plus the sanitizer build of the unit tests, valgrind, and a
# short fuzz run.
check: all
	meson test -C $(BUILD) --print-errorlogs
	$(MAKE) check-asan
	$(MAKE) check-valgrind
	$(MAKE) fuzz

check-asan: deps
	[ -f $(ASAN_BUILD)/build.ninja ] || meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C $(ASAN_BUILD)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
		meson test -C $(ASAN_BUILD) --print-errorlogs

# Every test under valgrind (memcheck) on the normal build: invalid reads and
# writes, uninitialised values and definite leaks fail the test. Programs the
# tests spawn (closerd, closer-sim) run natively. CLOSER_UNDER_VALGRIND tells
# the two tests that would otherwise fail for valgrind's sake (a time bound,
# the process's own comm) to allow for it.
check-valgrind: all
	CLOSER_UNDER_VALGRIND=1 meson test -C $(BUILD) --print-errorlogs --timeout-multiplier 10 --no-suite docs-scripts --no-suite lab-scripts \
		--wrap='valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --track-origins=no -q'

# A short libFuzzer run of each fuzz target (clang build in build-fuzz/).
fuzz: deps
	./scripts/fuzz-smoke

# End-to-end on a real Xen 4.17 host booted in QEMU (tests/xen, docs/xen-lab.md).
# Needs root; exits 77 with the reason when this machine cannot run the lab.
check-xen: all
	./tests/xen/check-xen $(BUILD)

# Every benchmark figure with its target; fails (exit 1) when one is missed.
# Also installs the peers it compares with (scripts/install-deps --bench).
bench: all
	./scripts/install-deps --bench
	@# meson finds libyajl-dev at configure time: configure again if it came late
	@grep -q 'HAVE_YAJL' $(BUILD)/build.ninja || meson setup --reconfigure $(BUILD) >/dev/null
	ninja -C $(BUILD)
	./scripts/bench $(BUILD)

# The thesis' benchmarks 1-2 on the Xen lab, closer vs stock (root, up to 60 min;
# tests/xen/bench-xen --help). Not part of check: it measures, it does not test.
bench-xen: all
	./tests/xen/bench-xen --build $(BUILD) $(BENCH_XEN_ARGS)

# The Debian package (debian/) into out/deb/closer_VERSION_ARCH.deb (and the
# symlink out/deb/closer.deb). Not part of `check`: it needs debhelper.
deb:
	./scripts/build-deb

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz out

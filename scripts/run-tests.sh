#!/bin/sh
# Installs what is missing, builds soterd warning-free, and runs every test:
# the GTest unit tests and the integration suites (private system bus,
# dbusmock's polkitd, libfprint's virtual reader: soterd's D-Bus API,
# libsoter from C and PyGObject, soterctl in a pty), with libsoter's API
# documentation built with fatal warnings; and, as root, the install test
# (prefix /usr, as Debian installs: the installed files on a real bus with
# the real polkitd); libsoter's C tests under valgrind; bounded fuzzing; and
# the whole suite again against an AddressSanitizer+UBSan build. Ends with
# the line 'N passed, N failed, N skipped' counting individual test cases
# (a case run in both builds counts twice).
#
#   scripts/run-tests.sh [MESON TEST ARGS…]     e.g. --suite unit
# BUILD_DIR (default build) selects the build directory.
set -eu
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

BUILD_DIR=${BUILD_DIR:-build}
if [ -f "$BUILD_DIR/build.ninja" ]; then
  meson configure "$BUILD_DIR" --prefix=/usr -Dwerror=true -Ddocs=true >/dev/null
else
  meson setup "$BUILD_DIR" --prefix=/usr -Dwerror=true -Ddocs=true >/dev/null
fi
meson compile -C "$BUILD_DIR"

rc=0
meson test -C "$BUILD_DIR" --print-errorlogs "$@" || rc=$?
logs="$BUILD_DIR/meson-logs"

# Bounded libFuzzer runs (clang with -fsanitize=fuzzer,address) over the
# verifier's parsing of untrusted input and over soterd's request checks and
# JSON building, unless only some tests were asked.
if [ $# -eq 0 ]; then
  FUZZ_DIR=${FUZZ_DIR:-build-fuzz}
  # b_lundef=false: ASan-instrumented shared libraries take the sanitizer
  # runtime from the executable.
  if [ -f "$FUZZ_DIR/build.ninja" ]; then
    meson configure "$FUZZ_DIR" -Dfuzzing=true -Db_lundef=false >/dev/null
  else
    CC=clang meson setup "$FUZZ_DIR" -Dfuzzing=true -Db_lundef=false >/dev/null
  fi
  meson compile -C "$FUZZ_DIR" tests/fuzz-verify tests/fuzz-request
  meson test -C "$FUZZ_DIR" --no-rebuild --suite fuzz --print-errorlogs || rc=1
  logs="$logs $FUZZ_DIR/meson-logs"
fi

# The whole suite again against an AddressSanitizer+UBSan build (leaks
# included), unless only some tests were asked. G_SLICE=always-malloc makes
# GLib's allocations visible to LeakSanitizer. The build's own g-ir-scanner
# helper leaks by design, so leaks are checked in the tests only.
if [ $# -eq 0 ]; then
  ASAN_DIR=${ASAN_DIR:-build-asan}
  if [ ! -f "$ASAN_DIR/build.ninja" ]; then
    meson setup "$ASAN_DIR" --prefix=/usr -Db_sanitize=address,undefined -Db_lundef=false \
      -Dbuildtype=debug -Dwerror=true >/dev/null
  fi
  ASAN_OPTIONS=detect_leaks=0 meson compile -C "$ASAN_DIR"
  G_SLICE=always-malloc ASAN_OPTIONS=detect_leaks=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 SOTER_TEST_DEADLINE=60 \
    meson test -C "$ASAN_DIR" --no-rebuild --print-errorlogs --no-suite sanitizers || rc=1
  logs="$logs $ASAN_DIR/meson-logs"
fi

# shellcheck disable=SC2086
/usr/bin/python3 scripts/summarize-tests.py $logs || rc=1
exit $rc

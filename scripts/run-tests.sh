#!/bin/sh
# Installs what is missing, builds soterd warning-free, and runs every test:
# the GTest unit tests and the integration suites (private system bus,
# dbusmock's polkitd, libfprint's virtual reader: soterd's D-Bus API,
# libsoter from C and PyGObject, soterctl in a pty), with libsoter's API
# documentation built with fatal warnings; and, as root, the install test
# (prefix /usr, as Debian installs: the installed files on a real bus with
# the real polkitd); every test again under valgrind memcheck (the install
# test aside: it runs the installed files); bounded fuzzing; and the whole
# suite again against an AddressSanitizer+UBSan build. Ends with the line
# 'N passed, N failed, N skipped' counting individual test cases (a case
# counts once per run it is in: plain, under valgrind, ASan).
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
meson test -C "$BUILD_DIR" --print-errorlogs --no-suite sanitizers "$@" || rc=$?
logs="$BUILD_DIR/meson-logs"

# Every test again under valgrind memcheck (the 'sanitizers' suite), unless
# only some tests were asked. Its suites wait half the time (Python, D-Bus),
# so twice as many run at once as there are cores, and the fuzzers and the
# ASan build and run below go on beside it (the whole run was ~56 % busy on
# 2 cores with the stages one after the other); its console output is
# printed after theirs, its log read with theirs.
valgrind_pid=
valgrind_out="$BUILD_DIR/meson-logs/testlog-valgrind-console.txt"
if [ $# -eq 0 ]; then
  meson test -C "$BUILD_DIR" --no-rebuild --print-errorlogs --suite sanitizers \
    --num-processes $(($(nproc) * 2)) --logbase testlog-valgrind >"$valgrind_out" 2>&1 &
  valgrind_pid=$!
  # A stage below that stops the script takes the memcheck run with it.
  trap 'kill "$valgrind_pid" 2>/dev/null || true' EXIT
  logs="$logs $BUILD_DIR/meson-logs:testlog-valgrind"
fi

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

if [ -n "$valgrind_pid" ]; then
  wait "$valgrind_pid" || rc=1
  trap - EXIT
  echo "== under valgrind memcheck:"
  cat "$valgrind_out"
fi

# shellcheck disable=SC2086
/usr/bin/python3 scripts/summarize-tests.py $logs || rc=1
exit $rc

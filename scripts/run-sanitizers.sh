#!/bin/sh
# Runs every test against an AddressSanitizer+UBSan build (build-asan/), then
# every test again under valgrind memcheck (the 'sanitizers' suite of the
# plain build, which scripts/run-tests.sh also runs): for when memory
# handling changes and only these two are wanted.
#
# G_SLICE=always-malloc makes GLib allocate with malloc, so that leaked GLib
# objects are visible to LeakSanitizer and valgrind.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
command -v valgrind >/dev/null || { apt-get install -y -qq valgrind >/dev/null; }

export G_SLICE=always-malloc
[ -f build-asan/build.ninja ] ||
  meson setup build-asan --prefix=/usr -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbuildtype=debug -Dwerror=true >/dev/null
# g-ir-scanner runs an instrumented helper that leaks by design (GLib's
# introspection dump): leaks are checked in the tests, not in the build.
ASAN_OPTIONS=detect_leaks=0 meson compile -C build-asan

rc=0
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  SOTER_TEST_DEADLINE=60 meson test -C build-asan --print-errorlogs --no-suite sanitizers || rc=1
echo "AddressSanitizer+UBSan:"
/usr/bin/python3 scripts/summarize-tests.py build-asan/meson-logs || rc=1

[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build
echo "valgrind memcheck (every test, suite 'sanitizers'):"
meson test -C build --print-errorlogs --suite sanitizers --num-processes $(($(nproc) * 2)) \
  --logbase testlog-valgrind || rc=1
/usr/bin/python3 scripts/summarize-tests.py build/meson-logs:testlog-valgrind || rc=1
exit $rc

#!/bin/sh
# Runs every test against an AddressSanitizer+UBSan build (build-asan/), then
# the integration suite with soterd under valgrind memcheck. Slower than
# scripts/run-tests.sh (valgrind makes RSA key generation slow): run it when
# touching memory handling.
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
echo "valgrind memcheck (integration suite and the TPM store: soterd; libsoter's C API: test-client):"
SOTERD=build/daemon/soterd SOTER_TEST_DEADLINE=600 \
  SOTERD_WRAPPER="valgrind -q --num-callers=30 --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99" \
  /usr/bin/python3 tests/test_soterd.py > build/valgrind-tests.tap 2>&1 || rc=1
# The TPM key store against swtpm (its crash test is left out: 60 starts
# under memcheck add little to what the other cases cover).
SOTERD=build/daemon/soterd SOTER_TEST_DEADLINE=600 \
  SOTERD_WRAPPER="valgrind -q --num-callers=30 --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99" \
  /usr/bin/python3 tests/test_tpm.py TestTpmKeyStore TestAutoKeyStore >> build/valgrind-tests.tap 2>&1 || rc=1
SOTERD=build/daemon/soterd SOTER_TEST_CLIENT=build/tests/test-client SOTER_TEST_DEADLINE=600 \
  GI_TYPELIB_PATH=build/client-lib LD_LIBRARY_PATH=build/client-lib \
  SOTER_CLIENT_WRAPPER="valgrind -q --num-callers=30 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=99" \
  /usr/bin/python3 tests/test_libsoter.py TestCApi >> build/valgrind-tests.tap 2>&1 || rc=1
grep -E '^not ok' build/valgrind-tests.tap || true
echo "$(grep -c '^ok' build/valgrind-tests.tap) passed, $(grep -c '^not ok' build/valgrind-tests.tap) failed"
exit $rc

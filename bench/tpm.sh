#!/bin/sh
# Signing latency of the TPM key store (on swtpm, a software TPM 2.0 started
# here) against the file store, in one run: opening each store, making the
# first auth key, N signatures, N counter steps. Prints a Markdown table.
#
#   bench/tpm.sh [N]        (default 200)
set -eu
cd "$(dirname "$0")/.."
N=${1:-200}
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build bench/bench-keystore >/dev/null

tpm=$(mktemp -d)
trap 'kill "$(cat "$tpm/pid")" 2>/dev/null; rm -rf "$tpm"' EXIT
tcti=$(/usr/bin/python3 tests/swtpm.py "$tpm")
build/bench/bench-keystore "$N" "$tcti"

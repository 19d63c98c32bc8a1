#!/bin/sh
# Installs what is missing, builds soterd, and runs one real authentication on
# libfprint's virtual reader with the terminal prompt agent, then verifies the
# signature chain with the openssl command line (see scripts/demo.py).
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null
exec /usr/bin/python3 scripts/demo.py

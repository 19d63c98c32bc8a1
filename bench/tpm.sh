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
# Two consecutive free ports: swtpm's TCTI uses P for the TPM, P + 1 for control.
port=$(/usr/bin/python3 -c '
import socket
for _ in range(50):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1)); print(p); break
    except OSError:
        pass
    finally:
        a.close(); b.close()')
swtpm socket --tpm2 --server "type=tcp,port=$port,bindaddr=127.0.0.1" \
  --ctrl "type=tcp,port=$((port + 1)),bindaddr=127.0.0.1" \
  --flags startup-clear,not-need-init --tpmstate "dir=$tpm" --pid "file=$tpm/pid" --daemon
build/bench/bench-keystore "$N" "swtpm:host=127.0.0.1,port=$port"

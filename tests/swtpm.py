#!/usr/bin/python3
"""A software TPM 2.0 (swtpm) for soterd's TPM tests and bench: one per
caller, its state and pid file in a directory the caller gives, listening on
loopback only.

    swtpm.py DIR      starts one and prints its tss2 TCTI string
"""

import os
import shutil
import socket
import subprocess
import sys

SWTPM = shutil.which('swtpm')


def free_port_pair():
    """Two consecutive free TCP ports on loopback: swtpm's TCTI talks to the
    TPM on P and to its control channel on P + 1."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(('127.0.0.1', 0))
            port = a.getsockname()[1]
            with socket.socket() as b:
                try:
                    b.bind(('127.0.0.1', port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError('no two consecutive free ports')


def start(state_dir):
    """Starts swtpm on @state_dir; returns (pid, TCTI string). --daemon
    returns once swtpm listens."""
    pidfile = os.path.join(state_dir, 'pid')
    for _ in range(5):
        port = free_port_pair()
        done = subprocess.run([SWTPM, 'socket', '--tpm2',
                               '--server', f'type=tcp,port={port},bindaddr=127.0.0.1',
                               '--ctrl', f'type=tcp,port={port + 1},bindaddr=127.0.0.1',
                               '--flags', 'startup-clear,not-need-init',
                               '--tpmstate', f'dir={state_dir}',
                               '--pid', f'file={pidfile}', '--daemon'],
                              stderr=subprocess.PIPE, text=True)
        if done.returncode == 0:
            with open(pidfile) as f:
                return int(f.read()), f'swtpm:host=127.0.0.1,port={port}'
        # Another process may have bound a port between the check above
        # and swtpm's bind (test suites run side by side): new ports.
    raise RuntimeError(f'swtpm did not start: {done.stderr.strip()}')


if __name__ == '__main__':
    print(start(sys.argv[1])[1])

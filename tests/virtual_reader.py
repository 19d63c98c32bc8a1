"""libfprint's virtual_device reader, driven from outside the daemon that
opened it (tests, the demo, the benchmarks)."""

import socket


def command(socket_path, text):
    """Sends one command (e.g. 'SCAN finger-1'): one command per connection,
    no trailing newline, read until the reader closes (see TESTING.md)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(socket_path)
        s.sendall(text.encode())
        s.shutdown(socket.SHUT_WR)
        while s.recv(1024):
            pass
    finally:
        s.close()

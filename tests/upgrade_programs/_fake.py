"""Shared by the fake replacements: the control channel fd from ``--upgrade-fd N``."""

from __future__ import annotations

import json
import socket
import sys


def control() -> socket.socket:
    fd = int(sys.argv[sys.argv.index("--upgrade-fd") + 1])
    return socket.socket(fileno=fd)


def send(sock: socket.socket, message: dict[str, object]) -> None:
    sock.send(json.dumps(message).encode())


def wait_until_dropped(sock: socket.socket) -> None:
    """Block until the running server closes the channel or kills this process."""
    while sock.recv(1 << 17):
        pass

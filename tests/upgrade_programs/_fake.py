"""Shared by the fake replacements: the control channel fd from ``--upgrade-fd N``."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from moo.protocol import upgrade as msg


def control() -> socket.socket:
    fd = int(sys.argv[sys.argv.index("--upgrade-fd") + 1])
    return socket.socket(fileno=fd)


def send(sock: socket.socket, message: msg.Hello | msg.Message) -> None:
    """HELLO in JSON, the rest in msgpack, as moo/protocol/upgrade.py says."""
    sock.send(msg.encode_hello(message) if isinstance(message, msg.Hello) else msg.encode(message))


def receive(sock: socket.socket) -> msg.Message | None:
    """The next message (its fds are dropped), or None once the channel is closed."""
    data, fds, _flags, _addr = socket.recv_fds(sock, 1 << 17, 250)
    for fd in fds:
        socket.close(fd)
    return msg.decode(data) if data else None


def wait_until_dropped(sock: socket.socket) -> None:
    """Block until the running server closes the channel or kills this process."""
    while sock.recv(1 << 17):
        pass

"""A replacement with a valid HELLO that goes silent once the world is frozen: it takes
the sockets and never answers READY."""

import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from _fake import control, send

from moo.upgrade import protocol

sock = control()
send(sock, protocol.hello({"world": "ok", "verbs": "ok"}, 0.1))
while True:
    data, fds, _flags, _addr = socket.recv_fds(sock, 1 << 17, 250)
    if not data:
        break
time.sleep(120)

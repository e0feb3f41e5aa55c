"""A replacement with a valid HELLO that fails once the world is frozen: it takes the
sockets and never answers READY, or (``--ready-then-exit``) answers READY and exits as
soon as it is told GO, before it serves. ``--no-prebuilt``: it fails earlier, taking the
pre-copy and never answering PREBUILT (the world is not frozen yet)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from _fake import control, receive, send, wait_until_dropped

from moo.protocol import upgrade as msg
from moo.upgrade import protocol

sock = control()
send(sock, protocol.hello({"world": "ok", "verbs": "ok"}, 0.1))
for step in ("precopy", "freeze"):
    while True:
        message = receive(sock)
        if message is None or isinstance(message, msg.Done):
            break
    if step == "precopy":
        if "--no-prebuilt" in sys.argv:
            wait_until_dropped(sock)
        send(sock, msg.Prebuilt(0))
if "--ready-then-exit" in sys.argv:
    send(sock, msg.Ready(0))
    if isinstance(receive(sock), msg.Go):
        sys.exit(3)
wait_until_dropped(sock)

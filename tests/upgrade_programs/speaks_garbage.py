"""A replacement that answers with bytes that are not a control message, then waits."""

import time

from _fake import control

sock = control()
sock.send(b"\x00\xffnot json at all\x1b[2J")
time.sleep(60)

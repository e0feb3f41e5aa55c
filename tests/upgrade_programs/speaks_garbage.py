"""A replacement that answers with bytes that are not a control message, then waits."""

from _fake import control, wait_until_dropped

sock = control()
sock.send(b"\x00\xffnot json at all\x1b[2J")
wait_until_dropped(sock)

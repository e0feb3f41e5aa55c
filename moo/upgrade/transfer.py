"""Sessions over the control channel: each with its socket, big output in chunks.

The sender (the running server) sends, for every session whose unsent output is more
than ``OUTPUT_CHUNK`` base64 characters, that output ahead as OUTPUT messages; then
SESSIONS messages of at most ``channel.MAX_FDS`` items (one fd each) under
``channel.MAX_MESSAGE`` bytes; then DONE with the count. The receiver puts the chunks
back and checks the count. Used by handoff.py (send) and adopt.py (receive).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moo.errors import ProtocolError
from moo.upgrade import channel as ch

OUTPUT_CHUNK = 40_000  # base64 characters per OUTPUT message (under channel.MAX_MESSAGE)

Item = dict[str, Any]  # {"session": Session.export_state(), "conn": Connection.export_state()}


@dataclass(frozen=True)
class Sent:
    sessions: int
    unsent_bytes: int
    unread_lines: int


async def send_sessions(control: ch.Channel, exported: list[tuple[Item, int]]) -> Sent:
    """Send every (item, fd), then DONE. Raises ProtocolError, OSError."""
    items = [item for item, _fd in exported]
    unsent = 0
    for item in items:
        out = str(item["conn"].get("out", ""))
        unsent += len(out) * 3 // 4
        if len(out) > OUTPUT_CHUNK:
            sid = item["session"]["id"]
            for start in range(0, len(out), OUTPUT_CHUNK):
                chunk = out[start : start + OUTPUT_CHUNK]
                await control.send({"t": "output", "sid": sid, "data": chunk})
            item["conn"] = {**item["conn"], "out": ""}
    for batch, fds in ch.batches(items, [fd for _item, fd in exported]):
        await control.send({"t": "sessions", "items": batch}, fds)
    await control.send({"t": "done", "sessions": len(items)})
    lines = sum(len(item["session"].get("pending", [])) for item in items)
    return Sent(len(items), unsent, lines)


async def receive_sessions(control: ch.Channel) -> list[tuple[Item, int]]:
    """Everything ``send_sessions`` sent, up to DONE. Raises ProtocolError."""
    received: list[tuple[Item, int]] = []
    outputs: dict[int, list[str]] = {}
    while True:
        message, fds = await control.receive()
        kind = message.get("t")
        if kind == "done":
            break
        if kind == "output":
            outputs.setdefault(int(message["sid"]), []).append(str(message["data"]))
        elif kind == "sessions":
            items = message.get("items", [])
            if not isinstance(items, list) or len(items) != len(fds):
                raise ProtocolError(f"a batch of sessions came with {len(fds)} fds")
            received.extend(zip(items, fds, strict=True))
        else:
            raise ProtocolError(f"unexpected {kind!r} during the handoff")
    for item, _fd in received:
        chunks = outputs.pop(int(item["session"]["id"]), None)
        if chunks is not None:
            item["conn"]["out"] = "".join(chunks)
    if message.get("sessions") != len(received) or outputs:
        raise ProtocolError(f"DONE says {message.get('sessions')} sessions; {len(received)} came")
    return received

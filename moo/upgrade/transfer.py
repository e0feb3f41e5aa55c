"""Sessions over the control channel: each with its socket, big output in chunks.

The sender (the running server) sends, for every session whose unsent output is more
than ``OUTPUT_CHUNK`` base64 characters, that output ahead as OUTPUT messages, and for
every session whose unread lines are more than ``INPUT_CHUNK`` characters, those lines
ahead as INPUT messages (a client that pasted a screenful just before the freeze); then
SESSIONS messages of at most ``channel.MAX_FDS`` items (one fd each) under
``channel.MAX_MESSAGE`` bytes; then DONE with the count. The receiver puts the chunks
back and checks the count. Used by handoff.py (send) and adopt.py (receive).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moo.errors import ProtocolError
from moo.upgrade import channel as ch

OUTPUT_CHUNK = 40_000  # base64 characters per OUTPUT message (under channel.MAX_MESSAGE)
INPUT_CHUNK = 8_000  # characters of unread lines per INPUT message (JSON may escape 6x)

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
                data = out[start : start + OUTPUT_CHUNK]
                await control.send({"t": "output", "sid": sid, "data": data})
            item["conn"] = {**item["conn"], "out": ""}
        pending = [str(line) for line in item["session"].get("pending", [])]
        if sum(len(line) for line in pending) > INPUT_CHUNK:
            sid = item["session"]["id"]
            chunk: list[str] = []
            size = 0
            for line in pending:
                if chunk and size + len(line) > INPUT_CHUNK:
                    await control.send({"t": "input", "sid": sid, "lines": chunk})
                    chunk, size = [], 0
                chunk.append(line)
                size += len(line)
            await control.send({"t": "input", "sid": sid, "lines": chunk})
            item["session"] = {**item["session"], "pending": [], "pending_sent": len(pending)}
    lines = sum(
        len(item["session"].get("pending", [])) + int(item["session"].get("pending_sent", 0))
        for item in items
    )
    encoded = [ch.encode_item(item) for item in items]
    for batch, fds in ch.batches(encoded, [fd for _item, fd in exported]):
        await control.send_encoded(ch.batch_message("sessions", batch), fds)
    await control.send({"t": "done", "sessions": len(items)})
    return Sent(len(items), unsent, lines)


async def receive_sessions(
    control: ch.Channel, on_batch: Callable[[list[tuple[Item, int]]], None] | None = None
) -> list[tuple[Item, int]]:
    """Everything ``send_sessions`` sent, up to DONE. ``on_batch`` is called with each
    batch as it arrives (complete: its chunks came first), so the receiver can rebuild
    sessions while the sender still encodes the next batch. Raises ProtocolError."""
    received: list[tuple[Item, int]] = []
    outputs: dict[int, list[str]] = {}
    inputs: dict[int, list[str]] = {}
    while True:
        message, fds = await control.receive()
        kind = message.get("t")
        if kind == "done":
            break
        if kind == "output":
            outputs.setdefault(int(message["sid"]), []).append(str(message["data"]))
        elif kind == "input":
            inputs.setdefault(int(message["sid"]), []).extend(map(str, message["lines"]))
        elif kind == "sessions":
            items = message.get("items", [])
            if not isinstance(items, list) or len(items) != len(fds):
                raise ProtocolError(f"a batch of sessions came with {len(fds)} fds")
            batch = list(zip(items, fds, strict=True))
            for item, _fd in batch:
                _put_back(item, outputs, inputs)
            received.extend(batch)
            if on_batch is not None:
                on_batch(batch)
        else:
            raise ProtocolError(f"unexpected {kind!r} during the handoff")
    if message.get("sessions") != len(received) or outputs or inputs:
        raise ProtocolError(f"DONE says {message.get('sessions')} sessions; {len(received)} came")
    return received


def _put_back(item: Item, outputs: dict[int, list[str]], inputs: dict[int, list[str]]) -> None:
    sid = int(item["session"]["id"])
    chunks = outputs.pop(sid, None)
    if chunks is not None:
        item["conn"]["out"] = "".join(chunks)
    lines = inputs.pop(sid, None)
    if lines is not None:
        if len(lines) != item["session"].pop("pending_sent", -1):
            raise ProtocolError(f"session {sid}: unread lines went astray")
        item["session"]["pending"] = lines

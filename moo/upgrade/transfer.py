"""Sessions over the control channel: each with its socket, big output in chunks.

The sender (the running server) exports, encodes and sends the sessions one batch at a
time, so the receiver rebuilds each batch while the sender works on the next (exporting
them all first kept the replacement idle for 12 ms of a 1000-session freeze). SESSIONS
messages hold at most ``channel.MAX_FDS`` items (one fd each) under
``channel.MAX_MESSAGE`` bytes. A session whose unsent output is more than
``OUTPUT_CHUNK`` base64 characters has that output sent ahead of its batch as OUTPUT
messages, and one whose unread lines are more than ``INPUT_CHUNK`` characters (a client
that pasted a screenful just before the freeze) those lines as INPUT messages. Then DONE
with the count. The receiver puts the chunks back and checks the count. Used by
handover.py (send) and adopt.py (receive).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from moo.errors import ProtocolError
from moo.upgrade import channel as ch

OUTPUT_CHUNK = 40_000  # base64 characters per OUTPUT message (under channel.MAX_MESSAGE)
INPUT_CHUNK = 8_000  # characters of unread lines per INPUT message (JSON may escape 6x)

Item = dict[str, Any]  # {"session": Session.export_state(), "conn": Connection.export_state()}


@dataclass
class Sent:
    sessions: int = 0
    unsent_bytes: int = 0
    unread_lines: int = 0


async def send_sessions(control: ch.Channel, exported: Iterable[tuple[Item, int]]) -> Sent:
    """Send every (item, fd), then DONE. ``exported`` may export each session as it is
    reached. Raises ProtocolError, OSError."""
    sent = Sent()
    batcher = ch.Batcher()
    for item, fd in exported:
        await _send_ahead(control, item, sent)
        sent.sessions += 1
        full = batcher.add(ch.encode_item(item), fd)
        if full is not None:
            await control.send_encoded(ch.batch_message("sessions", full[0]), full[1])
    last = batcher.take()
    if last is not None:
        await control.send_encoded(ch.batch_message("sessions", last[0]), last[1])
    await control.send({"t": "done", "sessions": sent.sessions})
    return sent


async def _send_ahead(control: ch.Channel, item: Item, sent: Sent) -> None:
    """A session's big output and big unread input, in chunks (taken out of ``item``)."""
    out = str(item["conn"].get("out", ""))
    sent.unsent_bytes += len(out) * 3 // 4
    sid = item["session"]["id"]
    if len(out) > OUTPUT_CHUNK:
        for start in range(0, len(out), OUTPUT_CHUNK):
            data = out[start : start + OUTPUT_CHUNK]
            await control.send({"t": "output", "sid": sid, "data": data})
        item["conn"] = {**item["conn"], "out": ""}
    pending = [str(line) for line in item["session"].get("pending", [])]
    sent.unread_lines += len(pending)
    if sum(len(line) for line in pending) <= INPUT_CHUNK:
        return
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

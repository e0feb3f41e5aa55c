"""Sessions over the control channel: each with its socket, big output in chunks, sent
twice: a pre-copy while the running server still serves, then what changed.

Rebuilding a session costs the replacement 25-55 us (decode, validate, socket, codec,
session objects): 1000 of them were most of a hot upgrade's freeze. So, as live
migration does, the running server first sends every session while it keeps serving
(``precopy``: PRECOPY with the reference time, then the batches, yielding to the loop
between them), and the replacement builds them all, frozen. After the freeze
(``send_changes``) only what differs goes: a session whose state changed as an
UPDATE (no fd: the replacement has its socket), one that is new with its socket, the
ids of pre-copied sessions that are gone, then DONE with the number now live. Ages in
the state (connected for, idle for) are taken at the pre-copy's reference time both
times, so an untouched session exports equal.

SESSIONS and UPDATES messages hold at most ``channel.MAX_FDS`` items under
``channel.MAX_MESSAGE`` bytes; each leaves as soon as it is full, so the replacement
builds one batch while the sender exports the next. A session whose unsent output is
more than ``OUTPUT_CHUNK`` base64 characters has it sent ahead of its batch as OUTPUT
messages, and one whose unread lines are more than ``INPUT_CHUNK`` characters (a client
that pasted a screenful) those lines as INPUT messages; the receiver puts them back.
Used by handover.py (send) and adopt.py (receive).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from moo.errors import ProtocolError
from moo.protocol import upgrade as msg
from moo.upgrade import channel as ch

OUTPUT_CHUNK = 40_000  # base64 characters per OUTPUT message (under channel.MAX_MESSAGE)
INPUT_CHUNK = 8_000  # characters of unread lines per INPUT message (4 UTF-8 bytes each)

Item = msg.Item  # {"session": Session.export_state(), "conn": Connection.export_state()}
# Session id -> its (session, connection) state as the replacement has it. Compared as
# dicts: encoding every session again to compare bytes cost 2 us each in the freeze.
Copied = dict[int, tuple[dict[str, Any], dict[str, Any]]]


@dataclass
class Sent:
    sessions: int = 0  # live sessions
    changed: int = 0  # of which sent in this pass (all of them in a pre-copy)
    gone: int = 0  # pre-copied sessions closed since
    unsent_bytes: int = 0
    unread_lines: int = 0
    copied: Copied = field(default_factory=dict)


async def precopy(control: ch.Channel, exported: Iterable[tuple[Item, int]], now: float) -> Sent:
    """Every (item, fd), while the server serves; ``now`` is the time the items' ages
    were taken at. Each fd is duplicated as it is exported and the copy closed once sent:
    the server runs between batches, and a connection it closes meanwhile must not turn
    the fd in a batch into a closed or reused number. Raises ProtocolError, OSError."""
    await control.send(msg.Precopy(now))
    duplicated = ((item, os.dup(fd)) for item, fd in exported)
    return await _send(control, duplicated, None)


async def send_changes(
    control: ch.Channel, exported: Iterable[tuple[Item, int]], copied: Copied
) -> Sent:
    """After the freeze: what differs from the pre-copy ``copied``, then DONE."""
    return await _send(control, exported, copied)


async def _send(
    control: ch.Channel, exported: Iterable[tuple[Item, int]], copied: Copied | None
) -> Sent:
    """``copied`` None: a pre-copy, whose fds are copies this closes once sent."""
    sent = Sent()
    batches = {"sessions": ch.Batcher(), "updates": ch.Batcher()}

    async def send(kind: str, batch: ch.Batch) -> None:
        try:
            await control.send_encoded(msg.batch(kind, batch[0]), batch[1])
        finally:
            if copied is None:
                for fd in batch[1]:
                    os.close(fd)

    try:
        for item, fd in exported:
            sid = int(item["session"]["id"])
            state = (item["session"], item["conn"])  # _send_ahead replaces these, not changes
            sent.copied[sid] = state
            sent.sessions += 1
            _tally(item, sent)
            if copied is not None and copied.get(sid) == state:
                continue
            sent.changed += 1
            kind = "updates" if copied is not None and sid in copied else "sessions"
            try:
                await _send_ahead(control, item)
                full = batches[kind].add(msg.encode_item(item), None if kind == "updates" else fd)
            except BaseException:
                if copied is None:
                    os.close(fd)
                raise
            if full is not None:
                await send(kind, full)
                if copied is None:
                    await asyncio.sleep(0)  # pre-copy: the players come first
        for kind, batcher in batches.items():
            last = batcher.take()
            if last is not None:
                await send(kind, last)
    finally:
        if copied is None:  # copies exported but never sent (the send failed)
            for batcher in batches.values():
                unsent = batcher.take()
                for fd in unsent[1] if unsent is not None else []:
                    os.close(fd)
    gone = sorted(set(copied) - set(sent.copied)) if copied is not None else []
    sent.gone = len(gone)
    await control.send(msg.Done(sent.sessions, sent.changed, gone))
    return sent


def _tally(item: Item, sent: Sent) -> None:
    sent.unsent_bytes += len(str(item["conn"].get("out", ""))) * 3 // 4
    sent.unread_lines += len(item["session"].get("pending", []))


async def _send_ahead(control: ch.Channel, item: Item) -> None:
    """A session's big output and big unread input, in chunks (taken out of ``item``)."""
    out = str(item["conn"].get("out", ""))
    sid = int(item["session"]["id"])
    pending = [str(line) for line in item["session"].get("pending", [])]
    big_input = sum(len(line) for line in pending) > INPUT_CHUNK
    if len(out) <= OUTPUT_CHUNK and not big_input:
        return
    if len(out) > OUTPUT_CHUNK:
        for start in range(0, len(out), OUTPUT_CHUNK):
            data = out[start : start + OUTPUT_CHUNK]
            await control.send(msg.Output(sid, data))
        item["conn"] = {**item["conn"], "out": ""}
    if big_input:
        chunk: list[str] = []
        size = 0
        for line in pending:
            if chunk and size + len(line) > INPUT_CHUNK:
                await control.send(msg.Input(sid, chunk))
                chunk, size = [], 0
            chunk.append(line)
            size += len(line)
        await control.send(msg.Input(sid, chunk))
        item["session"] = {**item["session"], "pending": [], "pending_sent": len(pending)}


@dataclass
class Received:
    sessions: int  # live, says the sender
    changed: int
    gone: list[int]


async def receive(
    control: ch.Channel,
    on_sessions: Callable[[list[tuple[Item, int]]], None],
    on_updates: Callable[[list[Item]], None] | None = None,
) -> Received:
    """One pass of ``_send``, up to DONE: each batch is handed over complete (its chunks
    came first) as it arrives, so the receiver rebuilds sessions while the sender
    exports the next. UPDATES are refused where ``on_updates`` is None (a pre-copy).
    Raises ProtocolError."""
    outputs: dict[int, list[str]] = {}
    inputs: dict[int, list[str]] = {}
    count = 0
    while True:
        message, fds = await control.receive()
        if isinstance(message, msg.Done):
            break
        if isinstance(message, msg.Output):
            outputs.setdefault(message.sid, []).append(message.data)
        elif isinstance(message, msg.Input):
            inputs.setdefault(message.sid, []).extend(message.lines)
        elif isinstance(message, msg.Sessions | msg.Updates) and (
            isinstance(message, msg.Sessions) or on_updates is not None
        ):
            items = message.items
            wanted = len(items) if isinstance(message, msg.Sessions) else 0
            if len(fds) != wanted:
                for fd in fds:
                    os.close(fd)
                raise ProtocolError(
                    f"a batch of {message.__struct_config__.tag} came with {len(fds)} fds"
                )
            for item in items:
                _put_back(item, outputs, inputs)
            count += len(items)
            if isinstance(message, msg.Sessions):
                on_sessions(list(zip(items, fds, strict=True)))
            else:
                assert on_updates is not None
                on_updates(items)
        else:
            for fd in fds:
                os.close(fd)
            raise ProtocolError(f"unexpected {message.__struct_config__.tag!r} during the handoff")
    if message.changed != count or outputs or inputs:
        raise ProtocolError(f"DONE says {message.changed} sessions; {count} came")
    return Received(message.sessions, count, message.gone)


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

"""Sessions over a real control channel (SEQPACKET socketpair): more than one batch of
fds, output bigger than a message, and a sender that lies about the count."""

from __future__ import annotations

import asyncio
import base64
import os
import select
import socket
from collections.abc import Iterator

import pytest

from moo.errors import ProtocolError
from moo.upgrade import channel as ch
from moo.upgrade import transfer


def item(sid: int, out: bytes, pending: list[str] | None = None) -> transfer.Item:
    return {
        "session": {"id": sid, "pending": pending or [f"line {sid}"]},
        "conn": {"kind": "telnet", "out": base64.b64encode(out).decode()},
    }


async def test_sessions_big_output_and_fds_arrive_whole() -> None:
    old, new = (ch.Channel(end) for end in ch.socketpair())
    pairs = [socket.socketpair() for _ in range(450)]  # three batches of at most 200
    big = os.urandom(300_000)  # 400k base64 characters: ten OUTPUT chunks
    # 100 unread lines of 4000 quotes each: 2.4 MB of JSON, in INPUT chunks.
    pasted = [f"{n}:" + '"' * 4000 for n in range(100)]
    exported = [
        (item(i, big if i % 100 == 7 else b"hi %d" % i, pasted if i == 3 else None), a.fileno())
        for i, (a, _) in enumerate(pairs)
    ]
    sender = asyncio.ensure_future(transfer.send_sessions(old, exported))
    received = await transfer.receive_sessions(new)
    sent = await sender
    assert sent.sessions == len(received) == 450
    assert sent.unread_lines == 449 + 100
    assert sent.unsent_bytes >= 5 * len(big)
    for i, (got, fd) in enumerate(received):
        assert got["session"]["id"] == i
        expected = big if i % 100 == 7 else b"hi %d" % i
        assert base64.b64decode(got["conn"]["out"]) == expected
        assert got["session"]["pending"] == (pasted if i == 3 else [f"line {i}"])
        # The fd is a working copy of the sender's socket: bytes reach its peer.
        os.write(fd, b"x%d" % i)
        os.close(fd)
        assert pairs[i][1].recv(16) == b"x%d" % i
    for a, b in pairs:
        a.close()
        b.close()
    old.close()
    new.close()


async def test_a_wrong_count_is_refused() -> None:
    old, new = (ch.Channel(end) for end in ch.socketpair())
    await old.send({"t": "output", "sid": 5, "data": "aGk="})
    await old.send({"t": "done", "sessions": 0})
    with pytest.raises(ProtocolError, match="DONE says 0"):
        await transfer.receive_sessions(new)
    old.close()
    new.close()


async def test_an_unexpected_message_is_refused() -> None:
    old, new = (ch.Channel(end) for end in ch.socketpair())
    await old.send({"t": "go"})
    with pytest.raises(ProtocolError, match="unexpected 'go'"):
        await transfer.receive_sessions(new)
    old.close()
    new.close()


async def test_each_batch_leaves_before_the_next_is_exported() -> None:
    old, new = (ch.Channel(end) for end in ch.socketpair())
    pairs = [socket.socketpair() for _ in range(450)]
    waiting_when_exported: list[bool] = []

    def exported() -> Iterator[tuple[transfer.Item, int]]:
        for i, (a, _) in enumerate(pairs):
            waiting, _, _ = select.select([new.sock], [], [], 0)
            waiting_when_exported.append(bool(waiting))
            yield item(i, b"hi"), a.fileno()

    sender = asyncio.ensure_future(transfer.send_sessions(old, exported()))
    received = await transfer.receive_sessions(new)
    assert (await sender).sessions == len(received) == 450
    # The first batch (at most MAX_FDS sessions) was on its way while the rest were made.
    assert not waiting_when_exported[0] and all(waiting_when_exported[ch.MAX_FDS + 1 :])
    for _got, fd in received:
        os.close(fd)
    for a, b in pairs:
        a.close()
        b.close()
    old.close()
    new.close()

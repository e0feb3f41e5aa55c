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
from moo.protocol import upgrade as msg
from moo.upgrade import channel as ch
from moo.upgrade import transfer


def item(sid: int, out: bytes, pending: list[str] | None = None) -> transfer.Item:
    return {
        "session": {"id": sid, "pending": pending or [f"line {sid}"]},
        "conn": {"kind": "telnet", "out": base64.b64encode(out).decode()},
    }


def close_all(pairs: list[tuple[socket.socket, socket.socket]], *channels: ch.Channel) -> None:
    for a, b in pairs:
        a.close()
        b.close()
    for channel in channels:
        channel.close()


async def receive_all(
    new: ch.Channel, updates: list[transfer.Item] | None = None
) -> tuple[list[tuple[transfer.Item, int]], transfer.Received]:
    """One pass: the sessions that came with sockets (and ``updates``, if given)."""
    got: list[tuple[transfer.Item, int]] = []
    received = await transfer.receive(
        new, got.extend, updates.extend if updates is not None else None
    )
    return got, received


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
    sender = asyncio.ensure_future(transfer.precopy(old, exported, 12.5))
    assert await new.receive() == (msg.Precopy(12.5), [])
    received, summary = await receive_all(new)
    sent = await sender
    assert sent.sessions == sent.changed == len(received) == summary.sessions == 450
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
    close_all(pairs, old, new)


async def test_after_the_precopy_only_what_changed_goes() -> None:
    old, new = (ch.Channel(end) for end in ch.socketpair())
    pairs = [socket.socketpair() for _ in range(6)]
    fds = [a.fileno() for a, _ in pairs]
    first = [(item(i, b"hi"), fds[i]) for i in range(5)]
    sender = asyncio.ensure_future(transfer.precopy(old, first, 1.0))
    await new.receive()
    precopied, _ = await receive_all(new)
    copied = (await sender).copied
    big = os.urandom(100_000)
    # 0 and 4 untouched, 1 typed a line, 3 has output piling up, 2 is gone, 5 is new.
    second = [
        (item(0, b"hi"), fds[0]),
        (item(1, b"hi", ["line 1", "look"]), fds[1]),
        (item(3, big), fds[3]),
        (item(4, b"hi"), fds[4]),
        (item(5, b"new"), fds[5]),
    ]
    sender = asyncio.ensure_future(transfer.send_changes(old, second, copied))
    updates: list[transfer.Item] = []
    fresh, summary = await receive_all(new, updates)
    sent = await sender
    assert (sent.sessions, sent.changed, sent.gone) == (5, 3, 1)
    assert (summary.sessions, summary.changed, summary.gone) == (5, 3, [2])
    assert [got["session"]["id"] for got, _fd in fresh] == [5]
    assert [update["session"]["id"] for update in updates] == [1, 3]
    assert updates[0]["session"]["pending"] == ["line 1", "look"]
    assert base64.b64decode(updates[1]["conn"]["out"]) == big
    for _got, fd in [*precopied, *fresh]:
        os.close(fd)
    close_all(pairs, old, new)


async def test_a_wrong_count_is_refused() -> None:
    old, new = (ch.Channel(end) for end in ch.socketpair())
    await old.send(msg.Output(5, "aGk="))
    await old.send(msg.Done(0, 0, []))
    with pytest.raises(ProtocolError, match="DONE says 0"):
        await receive_all(new)
    old.close()
    new.close()


@pytest.mark.parametrize("kind", ["go", "updates"])
async def test_an_unexpected_message_is_refused(kind: str) -> None:
    """UPDATES too, in a pre-copy (nothing to update yet)."""
    old, new = (ch.Channel(end) for end in ch.socketpair())
    await old.send(msg.Go(1.0) if kind == "go" else msg.Updates([]))
    with pytest.raises(ProtocolError, match=f"unexpected '{kind}'"):
        await receive_all(new)
    old.close()
    new.close()


async def test_each_batch_leaves_before_the_next_is_exported() -> None:
    old, new = (ch.Channel(end) for end in ch.socketpair())
    pairs = [socket.socketpair() for _ in range(450)]
    sent_when_exported: list[bool] = []
    received: list[tuple[transfer.Item, int]] = []

    def exported() -> Iterator[tuple[transfer.Item, int]]:
        for i, (a, _) in enumerate(pairs):
            waiting, _, _ = select.select([new.sock], [], [], 0)
            sent_when_exported.append(bool(waiting) or bool(received))
            yield item(i, b"hi"), a.fileno()

    # (send_changes with nothing copied: every session is new; no PRECOPY header first.)
    sender = asyncio.ensure_future(transfer.send_changes(old, exported(), {}))
    await transfer.receive(new, received.extend)
    assert (await sender).sessions == len(received) == 450
    # The first batch (at most MAX_FDS sessions) was on its way while the rest were made.
    assert not any(sent_when_exported[:50]) and all(sent_when_exported[ch.MAX_FDS + 1 :])
    for _got, fd in received:
        os.close(fd)
    close_all(pairs, old, new)


async def test_a_precopy_survives_connections_closing_while_it_runs() -> None:
    """The server runs between pre-copy batches: a connection it closes right after its
    export must still arrive whole (the pre-copy sends its own copy of the fd), and the
    pre-copy leaves no copy open."""
    old, new = (ch.Channel(end) for end in ch.socketpair())
    pairs = [socket.socketpair() for _ in range(300)]
    open_before = len(os.listdir("/proc/self/fd"))

    def exported() -> Iterator[tuple[transfer.Item, int]]:
        for i, (a, _) in enumerate(pairs):
            yield item(i, b"hi"), a.fileno()
            a.close()  # the player quit as soon as his state was taken

    async with asyncio.timeout(10):
        sender = asyncio.ensure_future(transfer.precopy(old, exported(), 0.0))
        await new.receive()
        received, _ = await receive_all(new)
        await sender
    assert len(received) == 300
    for i, (_got, fd) in enumerate(received):
        os.write(fd, b"x%d" % i)  # still the same connection: bytes reach the client
        os.close(fd)
        assert pairs[i][1].recv(16) == b"x%d" % i
    assert len(os.listdir("/proc/self/fd")) == open_before - 300  # the 300 closed ends
    close_all(pairs, old, new)


async def test_a_precopy_given_up_on_leaves_no_copy_open() -> None:
    """The running server bounds each send (a replacement alive but not reading): the
    pre-copy cancelled mid-way closes every fd copy it made."""
    old, new = (ch.Channel(end) for end in ch.socketpair())
    pairs = [socket.socketpair() for _ in range(40)]
    open_before = len(os.listdir("/proc/self/fd"))
    exported = [(item(i, os.urandom(60_000)), a.fileno()) for i, (a, _) in enumerate(pairs)]
    with pytest.raises(TimeoutError):  # 3.2 MB of output chunks: more than the buffer
        await asyncio.wait_for(transfer.precopy(old, exported, 0.0), 0.3)
    assert len(os.listdir("/proc/self/fd")) == open_before
    close_all(pairs, old, new)

"""The hot-upgrade control channel over a real SEQPACKET socket pair, with real fds."""

from __future__ import annotations

import os
import socket

import msgspec
import pytest

from moo.errors import ChannelClosed, ProtocolError
from moo.protocol import upgrade as msg
from moo.upgrade import channel

FREEZE = msg.Freeze(
    level=1,
    position=3,
    listeners=["telnet"],
    gate_pid=None,
    upgrade_id=7,
    requested_by="Wizard (#2)",
    player=2,
    command=["moo"],
    serve_args=[],
)


async def test_messages_and_descriptors_arrive_together() -> None:
    parent, child = channel.socketpair()
    old, new = channel.Channel(parent), channel.Channel(child)
    pipes = [os.pipe() for _ in range(3)]
    try:
        items = [{"n": 1}, {"n": 2}, {"n": 3}]
        await old.send(msg.Sessions(items), [r for r, _w in pipes])
        message, fds = await new.receive()
        assert message == msg.Sessions(items)
        assert len(fds) == 3
        for (_read_end, write_end), received in zip(pipes, fds, strict=True):
            os.write(write_end, b"x")
            assert os.read(received, 1) == b"x"  # the received fd is the same pipe
            os.close(received)
    finally:
        for read_end, write_end in pipes:
            os.close(read_end)
            os.close(write_end)
        old.close()
        new.close()


async def test_eof_and_garbage_are_protocol_errors() -> None:
    parent, child = channel.socketpair()
    new = channel.Channel(child)
    parent.send(b"\xc1 not msgpack")
    with pytest.raises(ProtocolError, match="bad control message"):
        await new.receive()
    parent.send(msgspec.msgpack.encode({"no": "type"}))
    with pytest.raises(ProtocolError, match=r"bad control message.*`t`"):
        await new.receive()
    parent.send(msgspec.msgpack.encode({"t": "launch"}))
    with pytest.raises(ProtocolError, match=r"bad control message.*'launch'"):
        await new.receive()
    parent.send(msgspec.msgpack.encode({"t": "done", "sessions": -1, "changed": 0, "gone": []}))
    with pytest.raises(ProtocolError, match=r"bad control message.*>= 0.*sessions"):
        await new.receive()
    parent.close()
    with pytest.raises(ChannelClosed, match="closed"):  # not any ProtocolError: called off
        await new.receive()
    new.close()


def test_batches_respect_the_descriptor_and_size_limits() -> None:
    items = [{"n": i, "pad": "x" * 100} for i in range(1000)]
    fds = list(range(1000))
    batcher = channel.Batcher()
    result = [
        batch
        for item, fd in zip(items, fds, strict=True)
        if (batch := batcher.add(msg.encode_item(item), fd))
    ]
    assert len(result) > 1  # full batches left as they filled up
    result.append(batcher.take() or ([], []))
    assert batcher.take() is None
    decoded = [msg.decode(msg.batch("sessions", batch)) for batch, _ in result]
    assert all(isinstance(message, msg.Sessions) for message in decoded)
    assert [i for m in decoded if isinstance(m, msg.Sessions) for i in m.items] == items
    assert [fd for _, batch_fds in result for fd in batch_fds] == fds
    assert all(len(batch) <= channel.MAX_FDS for batch, _ in result)
    assert all(len(msg.batch("sessions", b)) < channel.MAX_MESSAGE for b, _ in result)
    big = msg.encode_item({"pad": "y" * (channel.MAX_MESSAGE + 1)})
    with pytest.raises(ProtocolError, match="too large"):
        channel.Batcher().add(big, 0)


async def test_too_many_descriptors_in_one_message_is_refused() -> None:
    parent, child = channel.socketpair()
    old = channel.Channel(parent)
    with pytest.raises(ProtocolError, match="descriptors"):
        await old.send(msg.Serving(), list(range(channel.MAX_FDS + 1)))
    old.close()
    child.close()


def test_socketpair_is_seqpacket() -> None:
    parent, child = channel.socketpair()
    assert parent.type == socket.SOCK_SEQPACKET
    parent.close()
    child.close()


async def test_send_nowait_sends_at_once_or_says_it_would_wait() -> None:
    parent, child = channel.socketpair()
    old, new = channel.Channel(parent), channel.Channel(child)
    assert old.send_nowait(FREEZE)
    assert await new.receive() == (FREEZE, [])
    sent = 0
    while old.send_nowait(msg.Output(1, "z" * 50_000)):  # nobody reads: it fills
        sent += 1
    assert sent > 0
    for _ in range(sent):
        message, _fds = await new.receive()
        assert message == msg.Output(1, "z" * 50_000)
    old.close()
    new.close()

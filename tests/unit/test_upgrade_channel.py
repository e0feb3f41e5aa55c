"""The hot-upgrade control channel over a real SEQPACKET socket pair, with real fds."""

from __future__ import annotations

import os
import socket

import pytest

from moo.errors import ChannelClosed, ProtocolError
from moo.upgrade import channel


async def test_messages_and_descriptors_arrive_together() -> None:
    parent, child = channel.socketpair()
    old, new = channel.Channel(parent), channel.Channel(child)
    pipes = [os.pipe() for _ in range(3)]
    try:
        await old.send({"t": "sessions", "items": [1, 2, 3]}, [r for r, _w in pipes])
        message, fds = await new.receive()
        assert message == {"t": "sessions", "items": [1, 2, 3]}
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
    parent.send(b"not json")
    with pytest.raises(ProtocolError, match="not JSON"):
        await new.receive()
    parent.send(b'{"no": "type"}')
    with pytest.raises(ProtocolError, match="no type"):
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
        if (batch := batcher.add(channel.encode_item(item), fd))
    ]
    assert len(result) > 1  # full batches left as they filled up
    result.append(batcher.take() or ([], []))
    assert batcher.take() is None
    decoded = [channel.decode(channel.batch_message("sessions", batch)) for batch, _ in result]
    assert [item for message in decoded for item in message["items"]] == items
    assert [fd for _, batch_fds in result for fd in batch_fds] == fds
    assert all(len(batch) <= channel.MAX_FDS for batch, _ in result)
    assert all(len(channel.batch_message("sessions", b)) < channel.MAX_MESSAGE for b, _ in result)
    big = channel.encode_item({"pad": "y" * (channel.MAX_MESSAGE + 1)})
    with pytest.raises(ProtocolError, match="too large"):
        channel.Batcher().add(big, 0)


async def test_too_many_descriptors_in_one_message_is_refused() -> None:
    parent, child = channel.socketpair()
    old = channel.Channel(parent)
    with pytest.raises(ProtocolError, match="descriptors"):
        await old.send({"t": "x"}, list(range(channel.MAX_FDS + 1)))
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
    assert old.send_nowait({"t": "freeze", "position": 3})
    assert await new.receive() == ({"t": "freeze", "position": 3}, [])
    sent = 0
    while old.send_nowait({"t": "output", "data": "z" * 50_000}):  # nobody reads: it fills
        sent += 1
    assert sent > 0
    for _ in range(sent):
        message, _fds = await new.receive()
        assert message["t"] == "output"
    old.close()
    new.close()

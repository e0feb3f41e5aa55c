"""Freezing a live connection and carrying it on elsewhere loses no byte either way.

Uses real socket pairs on a real event loop: one end is the server's connection, the
other plays the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from moo.config import Limits
from moo.net import events as ev
from moo.net.connection import Connection
from moo.net.telnet_codec import TelnetCodec
from tests.waits import until


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.closed: list[str] = []

    def connection_events(self, conn: Connection, events: list[ev.Event]) -> None:
        self.lines += [e.text for e in events if isinstance(e, ev.LineReceived)]

    def connection_closed(self, conn: Connection, reason: str) -> None:
        self.closed.append(reason)


async def read_until(client: socket.socket, wanted: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    seen = b""
    async with asyncio.timeout(5):
        while wanted not in seen:
            seen += await loop.sock_recv(client, 65536)
    return seen


async def test_a_frozen_connection_moves_with_its_partial_input_and_unsent_output() -> None:
    loop = asyncio.get_running_loop()
    server_end, client = socket.socketpair()
    client.setblocking(False)
    first = Recorder()
    conn = Connection(loop, server_end, TelnetCodec(), first, Limits(), kind="telnet", peer="x")
    conn.start()
    await loop.sock_sendall(client, b"hello\r\nhalf-typ")
    await until(lambda: first.lines == ["hello"])
    await read_until(client, b"\xff\xfd\x18")  # the codec's opening negotiation arrived

    conn.freeze()
    conn.send_text("queued while frozen\n")  # must wait, then travel with the connection
    await loop.sock_sendall(client, b"ed line\r\n")  # arrives while nobody reads
    await asyncio.sleep(0.05)
    assert first.lines == ["hello"], "a frozen connection must not read"

    state = conn.export_state()
    fd = conn.detach()
    second = Recorder()
    codec = TelnetCodec.from_state(state["codec"])  # type: ignore[arg-type]
    moved = Connection.adopt(loop, fd, state, codec, second, Limits())
    moved.thaw()
    assert await read_until(client, b"queued while frozen\r\n")
    await until(lambda: second.lines == ["half-typed line"])
    assert first.closed == [], "the old side must not report the connection closed"
    moved.send_text("still talking\n")
    assert await read_until(client, b"still talking\r\n")
    client.close()
    await until(lambda: second.closed != [])


async def test_thaw_after_a_failed_handoff_loses_nothing() -> None:
    loop = asyncio.get_running_loop()
    server_end, client = socket.socketpair()
    client.setblocking(False)
    recorder = Recorder()
    conn = Connection(loop, server_end, TelnetCodec(), recorder, Limits(), kind="telnet", peer="x")
    conn.start()
    conn.freeze()
    conn.send_text("held\n")
    await loop.sock_sendall(client, b"typed meanwhile\r\n")
    await asyncio.sleep(0.05)
    assert recorder.lines == []
    conn.thaw()
    assert await read_until(client, b"held\r\n")
    await until(lambda: recorder.lines == ["typed meanwhile"])
    client.close()
    await until(lambda: recorder.closed != [])


async def test_a_connection_that_was_closing_finishes_closing_after_the_handoff() -> None:
    loop = asyncio.get_running_loop()
    server_end, client = socket.socketpair()
    client.setblocking(False)
    first = Recorder()
    conn = Connection(loop, server_end, TelnetCodec(), first, Limits(), kind="telnet", peer="x")
    conn.freeze()
    conn.send_text("Goodbye!\n")
    conn.close("quit")  # the player typed @quit just before the freeze
    state = conn.export_state()
    assert state["closing"] == "quit"
    fd = conn.detach()
    second = Recorder()
    codec = TelnetCodec.from_state(state["codec"])  # type: ignore[arg-type]
    moved = Connection.adopt(loop, fd, state, codec, second, Limits())
    await asyncio.sleep(0.05)
    assert second.closed == [], "nothing happens before the handoff is committed"
    moved.thaw()
    assert (await read_until(client, b"Goodbye!\r\n")).endswith(b"Goodbye!\r\n")
    await until(lambda: second.closed == ["quit"])
    assert await loop.sock_recv(client, 100) == b""  # then closed
    client.close()


async def test_freezing_is_lazy_and_a_reader_or_writer_that_fires_stops_itself() -> None:
    """freeze() leaves the reader and writer registered (unregistering a thousand took 5 ms
    of a hot upgrade's freeze); whichever fires while frozen unregisters itself, moves no
    byte, and thaw() registers it again."""
    loop = asyncio.get_running_loop()
    server_end, client = socket.socketpair()
    client.setblocking(False)
    server_end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    recorder = Recorder()
    limits = Limits(output_buffer_bytes=1 << 22)
    conn = Connection(loop, server_end, TelnetCodec(), recorder, limits, kind="telnet", peer="x")
    conn.start()
    conn.send_text("x" * 500_000 + "\nend\n")  # more than the socket takes: a writer waits
    await until(lambda: conn._writing)
    conn.freeze()
    assert conn._reading and conn._writing  # nothing unregistered yet
    await loop.sock_sendall(client, b"typed while frozen\r\n")
    received = b""
    async with asyncio.timeout(5):  # the client drains what the kernel already holds
        while conn._writing or conn._reading:
            try:
                received += client.recv(1 << 20)
            except BlockingIOError:
                await asyncio.sleep(0.005)
    held = len(conn._outbuf)
    await asyncio.sleep(0.05)
    with contextlib.suppress(BlockingIOError):
        received += client.recv(1 << 20)
    assert recorder.lines == [] and len(conn._outbuf) == held, "no byte moves while frozen"
    conn.thaw()
    received += await read_until(client, b"end\r\n")
    assert received.endswith(b"x\r\nend\r\n") and received.count(b"x") == 500_000
    await until(lambda: recorder.lines == ["typed while frozen"])
    client.close()
    await until(lambda: recorder.closed != [])


async def test_a_stall_while_frozen_closes_only_after_the_thaw() -> None:
    """The output-stall timer may fire during a hot upgrade's freeze: the socket may be
    on its way to the replacement, so the close waits for the thaw (or travels along)."""
    loop = asyncio.get_running_loop()
    server_end, client = socket.socketpair()
    client.setblocking(False)
    server_end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    recorder = Recorder()
    limits = Limits(output_buffer_bytes=8192, output_stall_seconds=0.05)
    conn = Connection(loop, server_end, TelnetCodec(), recorder, limits, kind="telnet", peer="x")
    conn.start()
    for _ in range(50):  # the client reads nothing: output is dropped, the stall timer runs
        conn.send_text("y" * 1000 + "\n")
    conn.freeze()
    await asyncio.sleep(0.15)
    assert recorder.closed == [] and not conn.closed
    assert conn.export_state()["closing"] == "output stalled: the client stopped reading"
    conn.thaw()
    await until(lambda: recorder.closed == ["output stalled: the client stopped reading"])
    client.close()


async def test_a_close_begun_just_before_a_freeze_finishes_after_a_failed_handoff() -> None:
    loop = asyncio.get_running_loop()
    server_end, client = socket.socketpair()
    client.setblocking(False)
    recorder = Recorder()
    conn = Connection(loop, server_end, TelnetCodec(), recorder, Limits(), kind="telnet", peer="x")
    conn.close("quit")  # nothing buffered: the close happens in the flush it schedules...
    conn.freeze()  # ...which the freeze, coming first, turns into a no-op
    await asyncio.sleep(0.02)
    assert recorder.closed == []
    conn.thaw()  # the handoff failed
    await until(lambda: recorder.closed == ["quit"])
    assert await loop.sock_recv(client, 10) == b""
    client.close()


async def test_a_connection_watched_while_frozen_reads_only_after_the_thaw() -> None:
    """A replacement registers readers while it builds the pre-copy: one that has input
    before the thaw unregisters itself unread; the thaw registers it again and reads."""
    loop = asyncio.get_running_loop()
    server_end, client = socket.socketpair()
    client.setblocking(False)
    quiet_end, quiet_client = socket.socketpair()
    state = Connection(
        loop, server_end, TelnetCodec(), Recorder(), Limits(), kind="telnet", peer="x"
    ).export_state()
    recorder = Recorder()
    talker, quiet = (
        Connection.adopt(loop, sock.detach(), state, TelnetCodec(), recorder, Limits())
        for sock in (server_end, quiet_end)
    )
    for conn in (talker, quiet):
        conn.watch_while_frozen()
        assert conn._reading
    await loop.sock_sendall(client, b"typed before the thaw\r\n")
    await asyncio.sleep(0.05)
    assert recorder.lines == [] and not talker._reading  # fired once, read nothing
    assert quiet._reading  # no input: still registered, nothing to do at the thaw
    talker.thaw()
    quiet.thaw()
    await until(lambda: recorder.lines == ["typed before the thaw"])
    for conn in (talker, quiet):
        conn.close("done")
    client.close()
    quiet_client.close()

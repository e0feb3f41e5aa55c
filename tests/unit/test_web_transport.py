"""The web transport in this process on a loopback port (moo/net/web.py), with a host that
records what reaches it: output capping and stalls, paused reading, a host that fails; and
the server's side of web sessions when it is full or frozen for a hot upgrade, and an
engine's, whose browsers the front holds."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import cast

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from moo.accounts import Passwords
from moo.config import Config, Limits
from moo.engine.link import FrontLink, RemoteTransport
from moo.net.listeners import bind_tcp
from moo.net.session import Session
from moo.net.web import STALLED, WebListener, WebTransport
from moo.protocol import front as msg
from moo.server import Server
from moo.world.loader import build_core_world
from tests.waits import until

LIMITS = Limits(output_buffer_bytes=100_000, output_stall_seconds=0.5)


@dataclass
class Host:
    """A ``WebHost`` that records."""

    fail: bool = False
    transports: list[WebTransport] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)

    def open_session(self, transport: WebTransport) -> Session:
        self.transports.append(transport)
        return Session(len(self.transports), transport, rate=100.0, burst=100)

    def line_received(self, session: Session, text: str) -> None:
        if self.fail:
            raise RuntimeError("a bug in the host")
        self.lines.append(text)

    def line_too_long(self, session: Session, length: int) -> None:
        self.lines.append(f"too long: {length}")

    def session_ended(self, transport: WebTransport, reason: str) -> None:
        self.ended.append(reason)


@pytest.fixture
async def served() -> AsyncIterator[tuple[Host, int]]:
    host = Host()
    listener = WebListener(bind_tcp("127.0.0.1", 0), "web", host, LIMITS)
    listener.start()
    yield host, int(listener.address.rsplit(":", 1)[1])
    listener.close()
    await asyncio.sleep(0.05)  # websockets' own close task


async def slow_client(port: int) -> ClientConnection:
    """A client with a small receive buffer that holds at most one frame unread."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return await connect(f"ws://127.0.0.1:{port}/ws", sock=sock, max_queue=1, max_size=None)


def noise(size: int) -> str:
    """Text that permessage-deflate cannot shrink much."""
    return base64.b64encode(os.urandom(size * 3 // 4)).decode()


async def fill(transport: WebTransport, chunk: str) -> int:
    """Send ``chunk`` until the transport starts dropping; the times it was sent."""
    for sent in range(1, 5_001):
        transport.send_text(chunk)
        if transport._dropped:
            return sent
        await asyncio.sleep(0.0005)
    raise AssertionError("nothing was ever dropped")


async def test_output_past_the_cap_is_dropped_and_the_client_told_how_much(
    served: tuple[Host, int],
) -> None:
    host, port = served
    client = await slow_client(port)
    await until(lambda: host.transports, "the session")
    transport = host.transports[0]
    chunk = noise(9_999) + "\n"
    sent = await fill(transport, chunk)
    received = 0
    notice = ""
    while not notice:
        text = json.loads(await asyncio.wait_for(client.recv(), 5))["text"]
        notice = text if "were dropped" in text else ""
        received += text.count("\n") if not notice else 0
    dropped = int(notice.split()[1])
    assert notice == (
        f"*** {dropped} characters of output were dropped: your client fell behind ***\n"
    )
    assert dropped % len(chunk) == 0 and received + dropped // len(chunk) == sent
    assert not host.ended  # it caught up in time: still connected
    await client.close()
    await until(lambda: host.ended == ["closed by client"], "the end")


async def test_a_client_that_stops_reading_is_disconnected(served: tuple[Host, int]) -> None:
    host, port = served
    client = await slow_client(port)
    await until(lambda: host.transports, "the session")
    await fill(host.transports[0], noise(10_000))
    await until(lambda: host.ended == [STALLED], "the stall", timeout=5)
    assert host.transports[0].closed
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(client.recv(), 5)


async def test_a_paused_session_is_not_read_until_resumed(served: tuple[Host, int]) -> None:
    host, port = served
    async with connect(f"ws://127.0.0.1:{port}/ws") as client:
        await until(lambda: host.transports, "the session")
        host.transports[0].pause_reading()
        for i in range(3):
            await client.send(f"line {i}")
        await asyncio.sleep(0.1)
        assert host.lines == []
        host.transports[0].resume_reading()
        await until(lambda: host.lines == ["line 0", "line 1", "line 2"], "the lines")


async def test_a_host_that_fails_ends_only_that_connection(
    served: tuple[Host, int], caplog: pytest.LogCaptureFixture
) -> None:
    host, port = served
    host.fail = True
    async with connect(f"ws://127.0.0.1:{port}/ws") as client:
        await client.send("look")
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(client.recv(), 5)
    received = closed.value.rcvd
    assert received is not None, "the server closed without a close frame"
    assert (received.code, received.reason) == (1011, "internal error")
    await until(lambda: host.ended == ["internal error"], "the end")
    assert any("reading failed" in r.message for r in caplog.records if r.levelno >= logging.ERROR)


class FakeWeb(WebTransport):
    """A WebTransport without a WebSocket, where the server only sends and closes (the
    server knows a browser's session by its class: an engine's web sessions are the
    front's, and it must not close them as its own)."""

    def __init__(self) -> None:
        super().__init__(cast(ServerConnection, None), LIMITS, "127.0.0.1:9")
        self.sent: list[str] = []
        self.closes: list[tuple[str, int]] = []

    def send_text(self, text: str) -> None:
        self.sent.append(text)

    def set_echo(self, server_echoes: bool) -> None: ...

    def close(self, reason: str, code: int = 1000) -> None:
        self.closes.append((reason, code))


def a_server(**limits: int) -> Server:
    config = Config(limits=Limits(**limits))
    return Server(config, build_core_world(), Passwords(config.password_hash))


async def test_the_server_welcomes_a_browser_or_refuses_it_when_full() -> None:
    server = a_server(max_connections=1)
    first, second = FakeWeb(), FakeWeb()
    session = server.open_session(first)
    assert session is not None and "Welcome to the world!" in first.sent[0]
    assert server.open_session(second) is None
    assert second.sent == ["Sorry, the server is full. Please try again later.\n"]
    assert second.closes == [("server full", 1000)]


async def test_freezing_for_an_upgrade_closes_and_ends_web_sessions() -> None:
    server = a_server()
    web = FakeWeb()
    session = server.open_session(web)
    assert session is not None
    server.freeze()
    assert web.closes == [("the server is being upgraded", 1012)]
    assert session.closed and not server.sessions
    late = FakeWeb()  # a browser whose handshake finished as the server froze
    assert server.open_session(late) is None
    assert late.closes == [("the server is being upgraded", 1012)]
    server.thaw()


async def test_a_listener_that_cannot_serve_says_so_and_tries_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sock = bind_tcp("127.0.0.1", 0)
    listener = WebListener(sock, "web", Host(), LIMITS)
    sock.close()  # its copy cannot be made now: EBADF, as EMFILE would fail
    listener.start()
    await until(lambda: "web: cannot serve" in caplog.text, "the error")
    await until(lambda: caplog.text.count("web: cannot serve") == 2, "a second try", timeout=3)
    listener.close()  # stops trying
    await asyncio.sleep(1.1)
    assert caplog.text.count("web: cannot serve") == 2


class StubFrontLink:
    """What an engine's ``RemoteTransport`` says to the front, kept."""

    def __init__(self) -> None:
        self.said: list[msg.ToFront] = []

    def emit(self, message: msg.ToFront) -> None:
        self.said.append(message)

    def touch(self, transport: RemoteTransport) -> None: ...


async def test_an_engine_leaves_the_fronts_browsers_alone_when_it_freezes_or_stops() -> None:
    """Behind a front a browser's session reaches the engine as kind "web", but its
    WebSocket is the front's: an engine upgrade (freeze) or stop must not close it."""
    server = a_server()
    link = StubFrontLink()
    browser = RemoteTransport(cast(FrontLink, link), msg.Opened(1, "web", "127.0.0.1:9"))
    session = server.open_session(browser)
    assert session is not None and server.web_transports() == []
    server.freeze()
    assert not session.closed and server.sessions[browser] is session
    server.thaw()
    await server.close_connections(timeout=0)
    assert not any(isinstance(said, msg.Drop) for said in link.said), link.said
    assert any(isinstance(said, msg.Out) and "Welcome" in said.text for said in link.said)

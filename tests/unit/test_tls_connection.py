"""A TLS connection (moo/net/connection.py with its TLS stage) on a real socket pair and
event loop, against a client ``SSLObject`` that verifies the server's certificate."""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

from moo.config import Limits
from moo.net import events as ev
from moo.net.connection import Connection
from moo.net.telnet_codec import TelnetCodec
from moo.net.tls import TlsStage, server_context
from moo.net.tls_keys import ensure_self_signed
from tests.waits import until


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.closed: list[str] = []

    def connection_events(self, conn: Connection, events: list[ev.Event]) -> None:
        self.lines += [e.text for e in events if isinstance(e, ev.LineReceived)]

    def connection_closed(self, conn: Connection, reason: str) -> None:
        self.closed.append(reason)


class Client:
    """A TLS client on a non-blocking socket, bytes moved by hand."""

    def __init__(self, sock: socket.socket, cert: Path) -> None:
        self.sock = sock
        context = ssl.create_default_context(cafile=cert)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")
        self.plain = b""

    async def _pump(self) -> bool:
        """Send what TLS has for the server; take what the server sent (False: closed)."""
        loop = asyncio.get_running_loop()
        out = self.outgoing.read()
        if out:
            await loop.sock_sendall(self.sock, out)
        try:
            data = await asyncio.wait_for(loop.sock_recv(self.sock, 65536), 0.2)
        except TimeoutError:
            return True
        if not data:
            return False
        self.incoming.write(data)
        return True

    async def handshake(self) -> None:
        async with asyncio.timeout(5):
            while True:
                try:
                    self.tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    await self._pump()
            await asyncio.get_running_loop().sock_sendall(self.sock, self.outgoing.read())

    async def read_until(self, wanted: bytes) -> bytes:
        async with asyncio.timeout(5):
            while wanted not in self.plain:
                try:
                    self.plain += self.tls.read(65536)
                except ssl.SSLWantReadError:
                    await self._pump()
        return self.plain


async def test_output_over_the_cap_is_dropped_before_encryption_so_the_stream_stays_whole(
    tmp_path: Path,
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    ensure_self_signed(cert, key, "127.0.0.1")
    loop = asyncio.get_running_loop()
    server_end, client_end = socket.socketpair()
    client_end.setblocking(False)
    handler = Recorder()
    conn = Connection(
        loop,
        server_end,
        TelnetCodec(),
        handler,
        Limits(output_buffer_bytes=4096),
        kind="telnet-tls",
        peer="test",
        tls=TlsStage(server_context(cert, key)),
    )
    conn.start(b"Welcome!\r\n")
    client = Client(client_end, cert)
    await client.handshake()
    await client.read_until(b"Welcome!\r\n")
    client.tls.write(b"look\r\n")
    await loop.sock_sendall(client_end, client.outgoing.read())
    await until(lambda: handler.lines == ["look"], "the line to arrive decrypted")

    for i in range(10):  # in one turn of the loop: ~4 fit under the cap, the rest drop
        conn.send_text(f"{i}:" + "x" * 1000 + "\n")
    text = await client.read_until(b"bytes of output were dropped")
    assert b"0:xxx" in text and b"9:xxx" not in text
    conn.send_text("after the drop\n")
    assert b"after the drop" in await client.read_until(b"after the drop")
    assert not conn.closed and handler.closed == []

    conn.close("quit")
    await until(lambda: handler.closed == ["quit"], "the close")
    async with asyncio.timeout(5):
        while await client._pump():  # to the end of the stream
            pass
    assert client.tls.read(100) == b"", "close_notify must come before the end"
    client_end.close()

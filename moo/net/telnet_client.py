"""A small telnet client for scripts, tests and benchmarks (``moo script`` uses it).

``ClientIAC`` is the pure part: it strips IAC sequences from what the server
sends and produces the client's answers (NAWS with a window size, TTYPE with a
terminal name, DO ECHO when the server hides input, refusal of anything else).
``TelnetClient`` wraps it around asyncio streams and gives lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from dataclasses import dataclass, field

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
ECHO, SGA, TTYPE, NAWS = 1, 3, 24, 31


@dataclass
class ClientIAC:
    """Client side of telnet negotiation. ``feed(bytes) -> (data bytes, reply bytes)``."""

    window: tuple[int, int] | None = None
    term: str | None = None
    echo_off: bool = False  # the server said WILL ECHO (it hides what we type)
    _state: int = 0  # 0 data, 1 after IAC, 2 after verb, 3 in SB, 4 SB after IAC
    _verb: int = 0
    _sb: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        if self._state == 0 and IAC not in data:
            return data, b""
        out = bytearray()
        reply = bytearray()
        for byte in data:
            if self._state == 0:
                if byte == IAC:
                    self._state = 1
                else:
                    out.append(byte)
            elif self._state == 1:
                if byte == IAC:
                    out.append(IAC)
                    self._state = 0
                elif byte in (DO, DONT, WILL, WONT):
                    self._verb, self._state = byte, 2
                elif byte == SB:
                    self._sb.clear()
                    self._state = 3
                else:
                    self._state = 0
            elif self._state == 2:
                reply += self._negotiate(self._verb, byte)
                self._state = 0
            elif self._state == 3:
                if byte == IAC:
                    self._state = 4
                elif len(self._sb) < 512:
                    self._sb.append(byte)
            elif self._state == 4:
                if byte == SE:
                    reply += self._subnegotiation(bytes(self._sb))
                    self._state = 0
                else:
                    self._sb.append(byte)
                    self._state = 3
        return bytes(out), bytes(reply)

    def _negotiate(self, verb: int, option: int) -> bytes:
        if verb == WILL:
            if option == ECHO:
                self.echo_off = True
                return bytes([IAC, DO, ECHO])
            if option == SGA:
                return bytes([IAC, DO, SGA])
            return bytes([IAC, DONT, option])
        if verb == WONT:
            if option == ECHO and self.echo_off:
                self.echo_off = False
                return bytes([IAC, DONT, ECHO])
            return b""
        if verb == DO:
            if option == NAWS and self.window is not None:
                return bytes([IAC, WILL, NAWS]) + self.naws_bytes()
            if option == TTYPE and self.term is not None:
                return bytes([IAC, WILL, TTYPE])
            return bytes([IAC, WONT, option])
        return b""

    def _subnegotiation(self, body: bytes) -> bytes:
        if body[:2] == bytes([TTYPE, 1]) and self.term is not None:
            return bytes([IAC, SB, TTYPE, 0]) + self.term.encode() + bytes([IAC, SE])
        return b""

    def naws_bytes(self) -> bytes:
        assert self.window is not None
        cols, rows = self.window
        body = bytes([NAWS]) + cols.to_bytes(2, "big") + rows.to_bytes(2, "big")
        return bytes([IAC, SB]) + body.replace(bytes([IAC]), bytes([IAC, IAC])) + bytes([IAC, SE])


class TelnetClient:
    """Lines in and out over a real telnet connection."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, iac: ClientIAC
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.iac = iac
        self.lines: list[str] = []  # every line received, in order
        self._pending = bytearray()
        self._cursor = 0  # lines before this index were consumed by read_line/expect
        self.closed = False

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        window: tuple[int, int] | None = None,
        term: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> TelnetClient:
        """``tls``: telnet over TLS, verified with this context (the server's name is
        ``host``)."""
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 22, ssl=tls)
        return cls(reader, writer, ClientIAC(window=window, term=term))

    def send_line(self, text: str) -> None:
        self.writer.write(text.encode() + b"\r\n")

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def drain(self) -> None:
        await self.writer.drain()

    async def _read_more(self, timeout: float) -> bool:
        try:
            chunk = await asyncio.wait_for(self.reader.read(65536), timeout)
        except TimeoutError:
            return False
        if not chunk:
            self.closed = True
            self.writer.close()
            return False
        data, reply = self.iac.feed(chunk)
        if reply:
            self.writer.write(reply)
        self._pending += data
        while True:
            end = self._pending.find(b"\n")
            if end < 0:
                break
            line = self._pending[:end].rstrip(b"\r").decode(errors="replace")
            del self._pending[: end + 1]
            self.lines.append(line)
        return True

    async def read_line(self, timeout: float = 5.0) -> str | None:
        """The next unread line, or None on timeout or when the server closed."""
        deadline = time.monotonic() + timeout
        while self._cursor >= len(self.lines):
            left = deadline - time.monotonic()
            if left <= 0 or self.closed or not await self._read_more(left):
                return None
        line = self.lines[self._cursor]
        self._cursor += 1
        return line

    async def expect(self, pattern: str | re.Pattern[str], timeout: float = 5.0) -> str:
        """Skip lines until one contains ``pattern`` (a substring, or a compiled regex).

        Raises AssertionError naming what was seen instead, on timeout or close.
        """
        deadline = time.monotonic() + timeout
        start = self._cursor
        while True:
            line = await self.read_line(max(0.0, deadline - time.monotonic()))
            if line is None:
                seen = "\n".join(self.lines[start:][-20:])
                state = "connection closed" if self.closed else f"{timeout}s passed"
                raise AssertionError(f"expected {pattern!r}; {state}; saw:\n{seen}")
            if isinstance(pattern, re.Pattern):
                if pattern.search(line):
                    return line
            elif pattern in line:
                return line

    async def command(
        self,
        text: str,
        marker: str = "--done--",
        timeout: float = 5.0,
        begin: str | None = "--begin--",
    ) -> list[str]:
        """Send a command and return exactly its output lines.

        Requires ``PREFIX <begin>`` and ``SUFFIX <marker>`` sent once on this connection.
        Lines that arrive before the begin marker (others' speech, presence notices) are
        skipped; the server runs a command atomically, so nothing else lands inside.
        With ``begin=None`` every line up to the marker is returned.
        """
        self.send_line(text)
        out: list[str] = []
        started = begin is None
        deadline = time.monotonic() + timeout
        while True:
            line = await self.read_line(max(0.0, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(f"no {marker!r} after {text!r}; got {out}")
            if not started:
                started = line == begin
            elif line == marker:
                return out
            else:
                out.append(line)

    async def wait_closed(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            await self._read_more(deadline - time.monotonic())
        return self.closed

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()

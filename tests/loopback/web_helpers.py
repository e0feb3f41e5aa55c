"""A scripted browser for the web client's WebSocket (moo/net/web.py), on the real
``websockets`` client: lines in, JSON frames out, read like ``TelnetClient``."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.error
import urllib.request

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


class WebClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.lines: list[str] = []  # every complete line received
        self.hidden = False  # the server asked to hide what is typed
        self.frames: list[dict[str, object]] = []
        self._partial = ""
        self._cursor = 0

    @classmethod
    async def connect(cls, port: int) -> WebClient:
        return cls(await connect(f"ws://127.0.0.1:{port}/ws", max_size=None))

    async def send_line(self, text: str) -> None:
        await self.ws.send(text)

    @property
    def closed(self) -> bool:
        return self.ws.close_code is not None

    async def _read_more(self, timeout: float) -> bool:
        try:
            frame = await asyncio.wait_for(self.ws.recv(), timeout)
        except (TimeoutError, ConnectionClosed):
            return False
        message = json.loads(frame)
        self.frames.append(message)
        if "hidden" in message:
            self.hidden = bool(message["hidden"])
        text = self._partial + str(message.get("text", ""))
        *complete, self._partial = text.split("\n")
        self.lines += complete
        return True

    async def expect(self, pattern: str | re.Pattern[str], timeout: float = 5.0) -> str:
        """Skip lines until one contains ``pattern`` (a substring or a regex)."""
        deadline = time.monotonic() + timeout
        start = self._cursor
        while True:
            while self._cursor < len(self.lines):
                line = self.lines[self._cursor]
                self._cursor += 1
                found = pattern.search(line) if isinstance(pattern, re.Pattern) else pattern in line
                if found:
                    return line
            left = deadline - time.monotonic()
            if left <= 0 or not await self._read_more(left):
                seen = "\n".join(self.lines[start:][-20:])
                state = f"closed ({self.ws.close_code})" if self.closed else f"{timeout}s passed"
                raise AssertionError(f"expected {pattern!r}; {state}; saw:\n{seen}")

    async def wait_hidden(self, hidden: bool, timeout: float = 5.0) -> None:
        """Read until the server has asked for typing to be ``hidden`` (or shown)."""
        deadline = time.monotonic() + timeout
        while self.hidden != hidden:
            left = deadline - time.monotonic()
            if left <= 0 or not await self._read_more(left):
                raise AssertionError(f"typing never became hidden={hidden}")

    async def wait_closed(self, timeout: float = 10.0) -> tuple[int | None, str | None]:
        """Read until the server closes; its close code and reason."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            await self._read_more(deadline - time.monotonic())
        assert self.closed, f"still open after {timeout}s; saw {self.lines[-5:]}"
        return self.ws.close_code, self.ws.close_reason

    async def close(self) -> None:
        await self.ws.close()


def http_get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """A plain GET (blocking): status, headers and body, errors included."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()

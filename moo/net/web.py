"""The web client: one port serving a small page over HTTP and a WebSocket into the same
sessions as telnet and SSH (``moo serve --web HOST:PORT``, config ``web``).

The pipeline of one browser connection:

1. ``WebListener`` serves with ``websockets.asyncio.server.serve`` on a copy of the
   listening socket the server bound itself (so port 0 can be reported and a hot upgrade
   can pass the socket on). ``process_request`` answers plain GETs: ``/`` the page,
   ``/client.js`` and ``/client.css`` (package data in ``web_client/``, read once; no other
   path reaches the filesystem), anything else 404. ``/ws`` goes on to the WebSocket,
   unless a browser says the page that opens it came from another site (403).
2. Each WebSocket gets a ``WebTransport`` and, from the host, a session: the
   single-process server's ``Session`` (it tells the welcome screen), or behind a front
   the front's numbered connection (moo/front/hub.py; the engine tells the welcome).
3. Browser -> server: each text frame is one typed line (a frame with newlines, several).
   C0 control characters go as in the telnet codec (TAB becomes a space); a line over
   ``limits.max_line_bytes`` is refused with the telnet message (``line_too_long``); a
   frame over ``max_frame_bytes`` closes the connection (1009, websockets' own limit).
   Lines go to ``WebHost.line_received``, the same queue as telnet lines; a session with
   ``limits.max_pending_lines`` waiting stops being read (websockets then buffers at most
   ``MAX_QUEUE`` frames and stops reading the socket).
4. Server -> browser: JSON text frames, ``{"text": "..."}`` (ANSI colour codes kept: the
   page renders them) and ``{"hidden": true|false}`` (``set_echo``: true while a
   password is typed). What is sent in one loop turn leaves as one frame. Output waiting
   to be sent is capped at ``limits.output_buffer_bytes`` (counted in characters): past
   it output is dropped and the client is told how much once it catches up; one that
   reads nothing for ``limits.output_stall_seconds`` is disconnected, as with telnet.
5. Closing: ``close(reason, code)`` sends what is queued, then the close frame (1000 by
   default: the page does not reconnect; 1001 at shutdown and 1012 for a hot upgrade:
   it does). When the connection has ended the host gets ``session_ended``.

Behind a front (the default), an engine restart or upgrade leaves web sessions where they
are, as telnet ones. A single-process hot upgrade cannot carry a WebSocket (its protocol
state lives in this process's websockets objects): the server closes web sessions with
1012 as it freezes, the page reconnects by itself to the welcome screen of whichever
process then serves, and the listening socket is handed over like the telnet one
(``WebListener.sock``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass
from http import HTTPStatus
from importlib import resources
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from moo.config import Limits
from moo.net.events import CLIENT_CLOSED
from moo.net.listeners import describe

log = logging.getLogger(__name__)

WS_PATH = "/ws"
MAX_QUEUE = 4  # frames websockets holds for a session that is not being read
NORMAL, GOING_AWAY, SERVICE_RESTART = 1000, 1001, 1012
STALLED = "output stalled: the client stopped reading"

# The page may load its own script and style and talk to its own server; nothing else.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/client.js": ("client.js", "text/javascript; charset=utf-8"),
    "/client.css": ("client.css", "text/css; charset=utf-8"),
}
_CONTROLS = {c: None for c in range(32) if c != 9} | {9: " ", 127: None}


def max_frame_bytes(limits: Limits) -> int:
    """The largest frame read at all: 16 lines' worth, at least 64 KiB."""
    return max(16 * limits.max_line_bytes, 1 << 16)


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str


def load_assets() -> dict[str, Asset]:
    """The page's files by URL path (package data, read once)."""
    folder = resources.files("moo.net").joinpath("web_client")
    return {
        path: Asset(folder.joinpath(name).read_bytes(), kind)
        for path, (name, kind) in _ASSETS.items()
    }


def http_response(assets: dict[str, Asset], request: Request) -> Response | None:
    """``process_request``: an asset, a 404, a 403 for a WebSocket opened by another
    site's page, or None for the WebSocket handshake."""
    path = request.path.split("?", 1)[0]
    if path == WS_PATH:
        origin = request.headers.get("Origin")
        if origin is None or same_origin(origin, request.headers.get("Host", "")):
            return None
        return _response(HTTPStatus.FORBIDDEN, b"Cross-origin WebSocket refused\n")
    asset = assets.get(path)
    if asset is None:
        return _response(HTTPStatus.NOT_FOUND, b"Not found\n")
    return _response(HTTPStatus.OK, asset.body, asset.content_type)


def same_origin(origin: str, host: str) -> bool:
    """Whether a browser's ``Origin`` is the page's own server (``Host``). Browsers let any
    site's page open a WebSocket anywhere: without this, a page elsewhere could use a
    visitor's browser to reach a server only their machine or network can reach."""
    netloc = urlsplit(origin).netloc
    return bool(host) and netloc.lower() == host.lower()


def _response(status: HTTPStatus, body: bytes, kind: str = "text/plain; charset=utf-8") -> Response:
    headers = Headers(
        [
            ("Content-Type", kind),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-cache"),
            ("Content-Security-Policy", _CSP),
            ("X-Content-Type-Options", "nosniff"),
            ("Connection", "close"),
        ]
    )
    return Response(status.value, status.phrase, headers, body)


def split_lines(frame: str) -> list[str]:
    """A frame's typed lines, control characters removed (a trailing newline ends the last
    line; it does not start another)."""
    lines = frame.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return [line.translate(_CONTROLS) for line in lines]


S = TypeVar("S")


class WebHost(Protocol[S]):
    """What a web transport needs of whoever holds its sessions (the single-process server
    with ``Session`` records, or the front with its numbered connections): the same doors
    telnet lines go through."""

    def open_session(self, transport: WebTransport) -> S | None:
        """A session for a new browser (None: refused; the transport was told and closed)."""
        ...

    def line_received(self, session: S, text: str) -> None: ...

    def line_too_long(self, session: S, length: int) -> None: ...

    def session_ended(self, transport: WebTransport, reason: str) -> None: ...


class WebTransport:
    """One browser's WebSocket as a session ``Transport``."""

    kind = "web"

    def __init__(self, ws: ServerConnection, limits: Limits, peer: str) -> None:
        self.ws = ws
        self.limits = limits
        self.peer = peer
        self.closed = False  # the connection has ended
        self.hidden = False  # the browser was told to hide what is typed (set_echo)
        self._queue: list[str | bool] = []  # text to send, or a ``hidden`` switch
        self._queued = 0  # characters of text in the queue
        self._dropped = 0
        self._wake = asyncio.Event()
        self._readable = asyncio.Event()
        self._readable.set()
        self._closing: tuple[int, str] | None = None
        self._ended_by: str | None = None
        self._stall_timer: asyncio.TimerHandle | None = None

    # -------------------------------------------------------------- Transport

    def send_text(self, text: str) -> None:
        if self.closed or not text:
            return
        if self._queued + len(text) > self.limits.output_buffer_bytes:
            self._dropped += len(text)
            if self._stall_timer is None:
                self._stall_timer = asyncio.get_running_loop().call_later(
                    self.limits.output_stall_seconds, self._on_stalled
                )
            return
        self._queue.append(text)
        self._queued += len(text)
        self._wake.set()

    def set_echo(self, server_echoes: bool) -> None:
        """True (the server would echo, as for a password): the page hides what is typed."""
        if server_echoes != self.hidden and not self.closed:
            self.hidden = server_echoes
            self._queue.append(server_echoes)
            self._wake.set()

    # What a browser does not have or do (the ``Transport`` protocol asks every transport).
    gmcp_enabled = False
    window: tuple[int, int] | None = None
    terminal_type: str | None = "browser"

    @property
    def echo_off(self) -> bool:
        return self.hidden

    def send_gmcp(self, package: str, payload: str) -> None:
        """Browsers speak no GMCP."""

    def send_mssp(self, table: dict[str, str | list[str]]) -> None:
        """Browsers speak no MSSP."""

    def send_auth_result(self, ok: bool, reason: str) -> None:
        """Only the SSH gate's connections log in that way."""

    def pause_reading(self) -> None:
        self._readable.clear()

    def resume_reading(self) -> None:
        self._readable.set()

    def close(self, reason: str, code: int = NORMAL) -> None:
        """Send what is queued, then close with ``code`` and ``reason``."""
        if self.closed or self._closing is not None:
            return
        self._closing = (code, reason.encode()[:120].decode("utf-8", "ignore"))
        self._ended_by = reason
        self._readable.clear()
        self._wake.set()

    # ----------------------------------------------------------------- serving

    async def serve(self, host: WebHost[S]) -> None:
        """Run the connection until it ends (the websockets handler)."""
        session = host.open_session(self)
        writer = asyncio.create_task(self._write())
        reader = asyncio.create_task(self._read(host, session)) if session is not None else None
        try:
            await self.ws.wait_closed()
        finally:
            self.closed = True
            for task in (writer, reader):
                if task is not None:
                    task.cancel()
            if self._stall_timer is not None:
                self._stall_timer.cancel()
            if session is not None:
                host.session_ended(self, self._ended_by or CLIENT_CLOSED)

    async def _read(self, host: WebHost[S], session: S) -> None:
        limit = self.limits.max_line_bytes
        try:
            while True:
                await self._readable.wait()
                frame = await self.ws.recv()
                await self._readable.wait()  # paused while it came: it waits its turn
                if self._closing is not None:
                    return
                if isinstance(frame, bytes):
                    frame = frame.decode("utf-8", "replace")
                for line in split_lines(frame):
                    size = len(line.encode("utf-8", "surrogatepass"))
                    if size > limit:
                        host.line_too_long(session, size)
                    else:
                        host.line_received(session, line)
        except ConnectionClosed:
            return
        except Exception:  # a bug here must end this connection only, visibly
            log.exception("web %s: reading failed", self.peer)
            self.close("internal error", 1011)

    async def _write(self) -> None:
        ws = self.ws
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    frames = self._take_frames()
                    for frame in frames:
                        await ws.send(frame, text=True)
                    self._after_drain()
                if self._closing is not None:
                    await ws.close(*self._closing)
                    return
        except ConnectionClosed:
            return

    def _take_frames(self) -> list[bytes]:
        """The queue as frames: runs of text joined into one."""
        frames: list[bytes] = []
        text: list[str] = []
        for item in self._queue:
            if isinstance(item, str):
                text.append(item)
                continue
            if text:
                frames.append(msgspec.json.encode({"text": "".join(text)}))
                text = []
            frames.append(msgspec.json.encode({"hidden": item}))
        if text:
            frames.append(msgspec.json.encode({"text": "".join(text)}))
        self._queue = []
        self._queued = 0
        return frames

    def _after_drain(self) -> None:
        if self._dropped and self._queued < self.limits.output_buffer_bytes // 2:
            notice = (
                f"*** {self._dropped} characters of output were dropped: "
                "your client fell behind ***\n"
            )
            self._dropped = 0
            if self._stall_timer is not None:
                self._stall_timer.cancel()
                self._stall_timer = None
            self._queue.append(notice)
            self._queued += len(notice)

    def _on_stalled(self) -> None:
        self._stall_timer = None
        self._ended_by = STALLED
        self._closing = self._closing or (NORMAL, "")
        self.ws.transport.abort()


class WebListener:
    """The web port: ``start``/``pause``/``close`` like ``Listener``. Pausing closes the
    websockets server (its copy of the socket); the socket itself stays bound and
    listening, so browsers wait in the kernel's backlog until ``start`` serves again."""

    def __init__(self, sock: socket.socket, name: str, host: WebHost[Any], limits: Limits) -> None:
        self.sock = sock
        self.name = name
        self.address = describe(sock)
        self.host = host
        self.limits = limits
        self._assets = load_assets()
        self._active = False
        self._server: Server | None = None
        self._starting: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._active = True
        if self._server is None and (self._starting is None or self._starting.done()):
            self._starting = asyncio.get_running_loop().create_task(self._serve())

    async def _serve(self) -> None:
        try:
            server = await serve(
                self._handle,
                sock=self.sock.dup(),
                process_request=lambda _conn, request: http_response(self._assets, request),
                server_header=None,
                max_size=max_frame_bytes(self.limits),
                max_queue=MAX_QUEUE,
                close_timeout=2,
            )
        except OSError as error:  # out of file descriptors: browsers wait in the backlog
            log.error("%s: cannot serve (%s); trying again in a second", self.name, error)
            await asyncio.sleep(1.0)
            self._starting = None
            if self._active:
                self.start()
            return
        if self._active:
            self._server = server
        else:  # paused while it started
            server.close(close_connections=False)

    def pause(self) -> None:
        self._active = False
        if self._server is not None:
            self._server.close(close_connections=False)  # open sessions carry on
            self._server = None

    def close(self) -> None:
        self.pause()
        with contextlib.suppress(OSError):
            self.sock.close()

    async def _handle(self, ws: ServerConnection) -> None:
        address = ws.remote_address
        peer = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else "local"
        await WebTransport(ws, self.limits, peer).serve(self.host)

"""The admin socket: how ``moo upgrade`` talks to a running server.

A Unix stream socket at ``DATA_DIR/run/admin.sock``, mode 0600 (only the server's user
may connect; that is the whole of its access control). One request per connection:

1. The client sends one JSON object on one line (at most ``MAX_REQUEST`` bytes, within
   ``REQUEST_TIMEOUT`` seconds), with an ``"op"`` string: ``{"op": "status"}``,
   ``{"op": "upgrade", "to": "CMD" | null, "rollback": false}``.
2. The server calls ``await handler(request, reply)``; each ``reply(message)`` sends one
   JSON line at once, so progress streams to the client while the handler works.
3. Every message may carry ``"text"`` (a line for a human); the last one has
   ``"done": true`` and ``"ok": bool``. The server sends exactly one ``done`` line per
   connection: a malformed request, a handler that raises, or a handler that returns
   without one gets ``{"done": true, "ok": false, "text": ...}``; lines after it are dropped.
4. When the handler returns the server closes the connection.

A client that goes away does not stop the handler (an upgrade half done is finished, not
abandoned because someone pressed ^C); its replies are dropped. ``close()`` stops
accepting but leaves running requests alone, since during a hot upgrade the request that
started it is still reporting; it unlinks the socket file only if it is still the one
this server bound, because the replacement binds a new socket at the same path first.

Hand-written rather than an HTTP server: one line in, lines out, under 300 lines, no new
dependency, and ``admin_request`` is a blocking client the CLI can use without a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from moo.errors import MooError
from moo.net.listeners import bind_unix

log = logging.getLogger(__name__)

ADMIN_SOCKET = "admin.sock"
MAX_REQUEST = 64 * 1024  # bytes in the request line, without its newline
REQUEST_TIMEOUT = 10.0  # seconds for the client to send its line
DRAIN_TIMEOUT = 10.0  # seconds for the last replies to leave before the connection is cut
MAX_SUN_PATH = 107  # Linux sun_path is 108 bytes with its NUL
MAX_REPLY_LINE = 1 << 20  # the client refuses a longer line from the server

Reply = Callable[[dict[str, Any]], None]
Handler = Callable[[dict[str, Any], Reply], Awaitable[None]]


def admin_socket_path(data_dir: Path) -> Path:
    return data_dir / "run" / ADMIN_SOCKET


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def failure(text: str) -> dict[str, Any]:
    return {"done": True, "ok": False, "text": text}


def parse_request(line: bytes) -> dict[str, Any] | str:
    """The request in one line, or the reason it is refused (a line for the client)."""
    try:
        request = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return f"the request is not JSON: {error}"
    if not isinstance(request, dict):
        return f"the request must be a JSON object, not {type(request).__name__}"
    if not isinstance(request.get("op"), str):
        return 'the request has no "op" string'
    return request


class _Connection:
    """One client's replies: one JSON line each, nothing after ``done``; a client that
    went away is no error (only a message JSON cannot hold raises, as TypeError)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.done = False

    def reply(self, message: dict[str, Any]) -> None:
        if self.done:
            log.warning("admin reply after the final one dropped: %r", message)
            return
        line = encode(message)  # TypeError for a value JSON cannot hold: the handler's bug
        self.done = message.get("done") is True
        if self.writer.is_closing():
            return  # the client went away; the handler carries on
        try:
            self.writer.write(line)
        except (OSError, RuntimeError) as error:
            log.debug("admin reply not sent: %s", error)

    async def close(self) -> None:
        writer = self.writer
        if not writer.is_closing():
            try:
                await asyncio.wait_for(writer.drain(), DRAIN_TIMEOUT)
            except (OSError, TimeoutError):
                writer.transport.abort()
            writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


class AdminServer:
    """Serves the admin socket at ``path``; each request goes to ``handler``."""

    def __init__(
        self, path: Path, handler: Handler, *, request_timeout: float = REQUEST_TIMEOUT
    ) -> None:
        self.path = path
        self.handler = handler
        self.request_timeout = request_timeout
        self._server: asyncio.AbstractServer | None = None
        self._bound: tuple[int, int] | None = None  # (st_dev, st_ino) of the file we bound

    async def start(self) -> None:
        """Bind ``path`` (replacing a stale file) and accept. Raises OSError."""
        size = len(os.fsencode(self.path))
        if size > MAX_SUN_PATH:
            raise OSError(
                errno.ENAMETOOLONG,
                f"path too long for a Unix socket ({size} bytes, at most {MAX_SUN_PATH}): "
                f"{self.path}",
            )
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        sock = bind_unix(self.path)  # umask 0177 at bind: mode 0600
        try:
            bound = os.stat(self.path)
            self._bound = (bound.st_dev, bound.st_ino)
            if sys.version_info >= (3, 13):  # ours is the inode check below
                self._server = await asyncio.start_unix_server(
                    self._serve, sock=sock, limit=MAX_REQUEST, cleanup_socket=False
                )
            else:
                self._server = await asyncio.start_unix_server(
                    self._serve, sock=sock, limit=MAX_REQUEST
                )
        except BaseException:
            sock.close()
            raise

    async def close(self) -> None:
        """Stop accepting; requests in progress go on. Unlinks ``path`` only if still ours."""
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._bound is None:
            return
        bound, self._bound = self._bound, None
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            return
        if (now.st_dev, now.st_ino) == bound:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(writer)
        try:
            request = await self._read_request(reader)
            if isinstance(request, str):
                connection.reply(failure(request))
                return
            try:
                await self.handler(request, connection.reply)
            except Exception:
                log.exception("admin request %r failed", request["op"])
                connection.reply(failure("the server failed to handle the request; see its log"))
            if not connection.done:
                log.error("admin request %r ended without a final reply", request["op"])
                connection.reply(failure("the server ended the request without an answer"))
        finally:
            await connection.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> dict[str, Any] | str:
        try:
            line = await asyncio.wait_for(reader.readuntil(b"\n"), self.request_timeout)
        except TimeoutError:
            return f"no request line within {self.request_timeout:g} s"
        except asyncio.LimitOverrunError:
            return f"the request line is longer than {MAX_REQUEST} bytes"
        except asyncio.IncompleteReadError as error:
            line = error.partial  # closed after a line without its newline: still a line
            if not line.strip():
                return "no request: the connection closed before a line arrived"
            if len(line) > MAX_REQUEST:
                return f"the request line is longer than {MAX_REQUEST} bytes"
        except OSError as error:
            return f"the request could not be read: {error}"
        return parse_request(line)


def admin_request(
    path: Path,
    request: dict[str, Any],
    on_message: Callable[[dict[str, Any]], None],
    timeout: float,
) -> dict[str, Any]:
    """Send ``request`` to the server at ``path``; blocking, for the CLI.

    Calls ``on_message`` with every message as it arrives (the final one too) and returns
    the final one (``"done": true``). Raises MooError when no server answers, when no
    final message arrives within ``timeout`` seconds, or when the server closes the
    connection without one.
    """
    deadline = time.monotonic() + timeout
    data_dir = path.parent.parent
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except FileNotFoundError:
            raise MooError(
                f"no server is running on {data_dir} (no admin socket at {path})"
            ) from None
        except ConnectionRefusedError:
            raise MooError(
                f"no server is running on {data_dir} (nothing listens on the admin socket {path})"
            ) from None
        except PermissionError:
            raise MooError(
                f"cannot connect to {path}: permission denied (a server run by another user?)"
            ) from None
        except TimeoutError:
            raise MooError(f"the server at {path} did not accept within {timeout:g} s") from None
        except OSError as error:
            raise MooError(f"cannot connect to {path}: {error.strerror or error}") from None
        try:
            sock.sendall(encode(request))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused the request early; its answer may be waiting
        except TimeoutError:
            raise MooError(f"the server at {path} did not take the request") from None
        return _read_replies(sock, path, on_message, deadline, timeout)


def _read_replies(
    sock: socket.socket,
    path: Path,
    on_message: Callable[[dict[str, Any]], None],
    deadline: float,
    timeout: float,
) -> dict[str, Any]:
    buffer = b""
    while True:
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            try:
                message = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise MooError(f"the server at {path} sent a line that is not JSON") from None
            if not isinstance(message, dict):
                raise MooError(f"the server at {path} sent a line that is not a JSON object")
            on_message(message)
            if message.get("done") is True:
                return message
        if len(buffer) > MAX_REPLY_LINE:
            raise MooError(f"the server at {path} sent a line longer than {MAX_REPLY_LINE} bytes")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise MooError(f"no final answer from the server within {timeout:g} s")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise MooError(f"no final answer from the server within {timeout:g} s") from None
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise MooError("the server closed the connection without a final answer")
        buffer += chunk

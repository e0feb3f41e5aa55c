"""The metrics endpoint: ``GET /metrics`` over HTTP/1.x, answered on the event loop.

Why on the loop, and not prometheus_client's ``start_http_server`` (a thread): the
collector reads the server's sessions, checkpointer and upgrader (metrics.py), and on
the loop it does so between two commands, never while one changes them; a thread
would read them mid-command. A scrape costs the loop ~1 ms per 5000 sessions.

Why the project's ``Listener`` (listeners.py) accepts, not ``asyncio.start_server``:
the listening socket is then one of the server's listeners, so a hot upgrade pauses
it and hands it to the replacement with the others (no gap, no port to rebind while
the old process still holds it). Each accepted socket is then served with asyncio
streams, one request per connection:

1. Read the request head (at most ``MAX_HEAD`` bytes, within ``TIMEOUT`` seconds).
2. ``respond(head)``: ``GET`` or ``HEAD`` of ``/metrics`` (or ``/``) is the registry's
   exposition in the format the ``Accept`` header asks for (the library's own
   ``choose_encoder``: Prometheus text 0.0.4 by default, or OpenMetrics); another path
   is 404, another method 405, a malformed head 400.
3. Write the answer with ``Connection: close`` and close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

log = logging.getLogger(__name__)

MAX_HEAD = 8192
TIMEOUT = 5.0
TEXT = "text/plain; charset=utf-8"


class MetricsEndpoint:
    """Answers scrapes of one registry; ``accept`` is a ``Listener``'s handler."""

    def __init__(self, registry: CollectorRegistry, *, timeout: float = TIMEOUT) -> None:
        self.registry = registry
        self.timeout = timeout
        self._tasks: set[asyncio.Task[None]] = set()

    def accept(self, sock: socket.socket, peer: str) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(sock, peer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, sock: socket.socket, peer: str) -> None:
        try:
            reader, writer = await asyncio.open_connection(sock=sock, limit=MAX_HEAD)
        except OSError:
            sock.close()
            return
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.timeout)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
                head = b""
            except ConnectionError:
                return
            writer.write(self.respond(head))
            await asyncio.wait_for(writer.drain(), self.timeout)
        except (ConnectionError, TimeoutError) as error:
            log.debug("metrics %s: %s", peer, error)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), self.timeout)

    def respond(self, head: bytes) -> bytes:
        """The whole HTTP response to a request head (pure but for reading the registry)."""
        first, *headers = head.decode("latin-1").split("\r\n")
        words = first.split()
        if len(words) != 3 or not words[2].startswith("HTTP/1."):
            return _response("400 Bad Request", TEXT, b"Bad request\n")
        method, target = words[0], words[1]
        if method not in ("GET", "HEAD"):
            return _response("405 Method Not Allowed", TEXT, b"Only GET\n", allow=True)
        if target.split("?", 1)[0] not in ("/metrics", "/"):
            return _response("404 Not Found", TEXT, b"Metrics are at /metrics\n")
        accept = ""
        for line in headers:
            name, _, value = line.partition(":")
            if name.strip().lower() == "accept":
                accept = value.strip()
        encode, content_type = choose_encoder(accept)
        body = encode(self.registry)
        return _response("200 OK", content_type, body, send_body=method == "GET")


def _response(
    status: str, content_type: str, body: bytes, *, allow: bool = False, send_body: bool = True
) -> bytes:
    head = [
        f"HTTP/1.1 {status}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    if allow:
        head.append("Allow: GET, HEAD")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + (body if send_body else b"")

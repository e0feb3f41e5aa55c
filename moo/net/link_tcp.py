"""The front <-> engine link over TCP (the engine on another machine): the shared
secret's file, the socket options, and the handshake (moo/net/link_auth.py) run on the
socket before the link (moo/net/link.py) is trusted with a single message.

The front (``EngineGate.accept``, the callback of its engine listener):
1. At most ``MAX_PENDING`` handshakes at once; past that a connection is closed at once.
2. Each handshake has ``AUTH_TIMEOUT`` seconds, in frames of at most
   ``MAX_AUTH_FRAME`` bytes read exactly (nothing past the handshake is read here): a
   silent peer, a port scanner or garbage ends in a closed socket and one log line.
3. A peer that proves it knows the secret is handed to ``on_engine`` (the front's
   ``engine_connected``), as an engine on the Unix socket is.
The engine (``connect_front``): connect, run its side, return the socket for its link.

Both ends set TCP_NODELAY (the link sends once per loop turn; Nagle would hold the
answers), keepalive probes and TCP_USER_TIMEOUT, so a machine that vanishes without a
FIN is noticed in about ``KEEPALIVE_IDLE + KEEPALIVE_INTERVAL * KEEPALIVE_COUNT``
seconds (25), idle or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from pathlib import Path

from moo.errors import MooError, ProtocolError
from moo.files import write_private
from moo.net.link_auth import (
    HEADER,
    EngineAuth,
    FrontAuth,
    LinkRefused,
    frame_length,
    new_secret,
    parse_secret,
)

log = logging.getLogger(__name__)

AUTH_TIMEOUT = 5.0
MAX_PENDING = 16
KEEPALIVE_IDLE = 10
KEEPALIVE_INTERVAL = 5
KEEPALIVE_COUNT = 3


def load_secret(path: Path) -> bytes:
    """The shared secret in ``path``. Raises MooError (missing, unreadable, too short)."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise MooError(
            f"the TCP engine link needs the shared secret, and {path} does not exist "
            "(copy the front's DATA_DIR/link-secret, or name it with --link-secret-file)"
        ) from None
    except OSError as error:
        raise MooError(f"cannot read the link secret {path}: {error.strerror}") from None
    try:
        return parse_secret(text, str(path))
    except ProtocolError as error:
        raise MooError(str(error)) from None


def ensure_secret(path: Path) -> bytes:
    """The front's secret: made (random, owner-only) on the first start. Raises MooError."""
    if not path.exists():
        try:
            write_private(path, new_secret())
        except OSError as error:
            raise MooError(f"cannot write the link secret {path}: {error.strerror}") from None
        log.info("made a new link secret in %s: copy it to each engine's machine", path)
    return load_secret(path)


def tune(sock: socket.socket) -> None:
    """TCP_NODELAY and keepalive probes on a link's socket."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
        # and unacknowledged data, which keepalive does not cover, no longer than that
        ("TCP_USER_TIMEOUT", (KEEPALIVE_IDLE + KEEPALIVE_INTERVAL * KEEPALIVE_COUNT) * 1000),
    ):
        option = getattr(socket, name, None)
        if option is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, option, value)


async def _read_exact(loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = await loop.sock_recv(sock, size - len(data))
        if not chunk:
            raise ProtocolError("the other side closed during the link handshake")
        data += chunk
    return bytes(data)


async def _read_frame(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytes:
    return await _read_exact(loop, sock, frame_length(await _read_exact(loop, sock, HEADER)))


async def connect_front(
    host: str, port: int, secret: bytes, timeout: float = AUTH_TIMEOUT
) -> socket.socket:
    """A socket to the front at ``host:port`` that has passed the handshake. Raises
    OSError (cannot connect: ConnectionRefusedError while the front is not up yet),
    LinkRefused (a wrong secret, either side's), ProtocolError."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, address)
        tune(sock)
        auth = EngineAuth(secret)
        try:
            async with asyncio.timeout(timeout):
                await loop.sock_sendall(sock, auth.start())
                while not auth.done:
                    reply = auth.receive(await _read_frame(loop, sock))
                    if reply:
                        await loop.sock_sendall(sock, reply)
        except TimeoutError:
            raise ProtocolError(
                f"the front at {host}:{port} did not finish the link handshake in {timeout:g} s"
            ) from None
    except BaseException:
        sock.close()
        raise
    return sock


class EngineGate:
    """The front's door for engines over TCP: each proves it knows the secret first."""

    def __init__(
        self,
        secret: bytes,
        on_engine: Callable[[socket.socket, str], None],
        *,
        timeout: float = AUTH_TIMEOUT,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.secret = secret
        self.on_engine = on_engine
        self.timeout = timeout
        self.max_pending = max_pending
        self._pending: set[asyncio.Task[None]] = set()

    def accept(self, sock: socket.socket, peer: str) -> None:
        """A listener callback: a TCP connection to the engine port."""
        if len(self._pending) >= self.max_pending:
            log.warning("engine from %s refused: %d handshakes under way", peer, self.max_pending)
            sock.close()
            return
        sock.setblocking(False)
        tune(sock)
        task = asyncio.get_running_loop().create_task(self._authenticate(sock, peer))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _authenticate(self, sock: socket.socket, peer: str) -> None:
        loop = asyncio.get_running_loop()
        auth = FrontAuth(self.secret)
        try:
            async with asyncio.timeout(self.timeout):
                while not auth.done:
                    await loop.sock_sendall(sock, auth.receive(await _read_frame(loop, sock)))
        except LinkRefused as refused:
            log.warning("engine from %s refused: %s", peer, refused.reason)
            with contextlib.suppress(OSError):
                sock.send(refused.reply)  # a few bytes into an empty buffer
            sock.close()
            return
        except TimeoutError:
            log.warning("engine from %s refused: no link handshake in %g s", peer, self.timeout)
            sock.close()
            return
        except (ProtocolError, OSError) as error:
            log.warning("engine from %s refused: %s", peer, error)
            sock.close()
            return
        except BaseException:
            sock.close()
            raise
        log.info("engine from %s proved it knows the link secret", peer)
        self.on_engine(sock, peer)

    def close(self) -> None:
        """Give up the handshakes under way (the front is stopping)."""
        for task in list(self._pending):
            task.cancel()

"""The front <-> engine link over TCP (the engine on another machine): the shared
secret's file, TLS, the socket options, and the handshake (moo/net/link_auth.py) run on
the socket before the link (moo/net/link.py) is trusted with a single message.

The secret's file is made owner-only from its first byte (``create_secret``), and either
side refuses one that others may read or change, or that another user owns (as OpenSSH
refuses such a private key): the process says which file, its mode and the ``chmod``
that fixes it, and exits before it listens or connects.

The front (``EngineGate.accept``, the callback of its engine listener):
1. At most ``MAX_PENDING`` handshakes at once; past that a connection is closed at once.
2. Each has ``AUTH_TIMEOUT`` seconds for TLS (``link.tls``: TLS 1.3 with a certificate
   the front made at its start, ``front_tls``) and the handshake, in frames of at most
   ``MAX_AUTH_FRAME`` bytes read exactly (nothing past the handshake is read here): a
   silent peer, a port scanner or garbage ends in a closed socket and one log line.
3. A peer that proves it knows the secret is handed to ``on_engine`` (the front's
   ``engine_connected``), as an engine on the Unix socket is.
The engine (``connect_front``): connect, TLS (no CA: the handshake's proofs cover the
certificate it was shown), run its side, return the socket for its link.

The I/O waits on readiness itself rather than ``loop.sock_recv``, which takes no
``ssl.SSLSocket``.

Both ends set TCP_NODELAY (the link sends once per loop turn; Nagle would hold the
answers), keepalive probes and TCP_USER_TIMEOUT, so a machine that vanishes without a
FIN is noticed in about ``KEEPALIVE_IDLE + KEEPALIVE_INTERVAL * KEEPALIVE_COUNT``
seconds (25), idle or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import socket
import ssl
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from moo.errors import MooError, ProtocolError
from moo.files import fsync_directory, write_private
from moo.net.link_auth import (
    HEADER,
    EngineAuth,
    FrontAuth,
    LinkRefused,
    frame,
    frame_length,
    new_secret,
    parse_secret,
    tls_binding,
)
from moo.net.tls_keys import self_signed_pem
from moo.protocol.link_auth import AuthRefused

log = logging.getLogger(__name__)

AUTH_TIMEOUT = 5.0
MAX_PENDING = 16
KEEPALIVE_IDLE = 10
KEEPALIVE_INTERVAL = 5
KEEPALIVE_COUNT = 3

T = TypeVar("T")


def load_secret(path: Path) -> bytes:
    """The shared secret in ``path``. Raises MooError (missing, unreadable, too short, or
    open to others: ``check_private``)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise MooError(
            f"the TCP engine link needs the shared secret, and {path} does not exist "
            "(copy the front's DATA_DIR/link-secret, or name it with --link-secret-file)"
        ) from None
    except OSError as error:
        raise MooError(f"cannot read the link secret {path}: {error.strerror}") from None
    try:
        check_private(path, os.fstat(fd))  # the file read, not one a rename put there after
        with os.fdopen(fd, "rb", closefd=False) as file:
            text = file.read()
    except OSError as error:
        raise MooError(f"cannot read the link secret {path}: {error.strerror}") from None
    finally:
        os.close(fd)
    try:
        return parse_secret(text, str(path))
    except ProtocolError as error:
        raise MooError(str(error)) from None


def check_private(path: Path, info: os.stat_result) -> None:
    """Refuse a secret others could read or change, as OpenSSH refuses such a private
    key: whoever reads it can pass for an engine (and be handed every player's line) or
    for a front. Raises MooError naming the file, what is wrong and the fix."""
    uid = os.geteuid()
    if info.st_uid != uid:
        raise MooError(
            f"link secret {path} is owned by uid {info.st_uid}, not by this process's user "
            f"(uid {uid}), who could change it and pass for an engine or a front; refused. "
            f"Fix: chown {uid} {path} && chmod 600 {path}"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise MooError(
            f"link secret {path}: permissions {mode:04o} are too open (group or others may "
            f"read or change it, and pass for an engine or a front); refused. "
            f"Fix: chmod 600 {path}"
        )


def create_secret(path: Path) -> bool:
    """Make a new random secret at ``path`` unless one is there: written owner-only from
    its first byte (a temp file opened 0600 with O_EXCL, fsynced), then linked in under
    its name, which fails rather than replace a secret another process made meanwhile.
    Returns whether this call made it. Raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            os.write(fd, new_secret())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        fsync_directory(path.parent)
        return True
    finally:
        temp.unlink(missing_ok=True)


def ensure_secret(path: Path) -> bytes:
    """The front's secret: made (random, owner-only) on the first start. Raises MooError."""
    try:
        made = create_secret(path)
    except OSError as error:
        raise MooError(f"cannot write the link secret {path}: {error.strerror}") from None
    if made:
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


@dataclass(frozen=True)
class FrontTls:
    """The front's side of TLS on the link: its context, and B (link_auth.tls_binding)."""

    context: ssl.SSLContext
    binding: bytes


def front_tls(cert: Path, key: Path, host: str) -> FrontTls:
    """A fresh self-signed certificate (written 0600 to ``cert`` and ``key``; nobody
    needs to trust it: the handshake's proofs cover it) and its context. Raises MooError."""
    cert_pem, key_pem = self_signed_pem(host)
    try:
        write_private(key, key_pem)
        write_private(cert, cert_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        raise MooError(f"cannot make the link's TLS certificate {cert}: {error}") from None
    return FrontTls(context, tls_binding(ssl.PEM_cert_to_DER_cert(cert_pem.decode("ascii"))))


def engine_tls() -> ssl.SSLContext:
    """The engine's TLS context: TLS 1.3, no CA (``EngineAuth`` checks the certificate)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def _ready(loop: asyncio.AbstractEventLoop, fd: int, *, write: bool) -> None:
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    if write:
        loop.add_writer(fd, wake)
    else:
        loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


async def _retry(loop: asyncio.AbstractEventLoop, sock: socket.socket, call: Callable[[], T]) -> T:
    """``call`` (a non-blocking recv, send or TLS handshake), waited for until it goes."""
    while True:
        try:
            return call()
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
            await _ready(loop, sock.fileno(), write=False)
        except ssl.SSLWantWriteError:
            await _ready(loop, sock.fileno(), write=True)


async def _send_all(loop: asyncio.AbstractEventLoop, sock: socket.socket, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[await _retry(loop, sock, functools.partial(sock.send, view)) :]


async def _read_exact(loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = await _retry(loop, sock, functools.partial(sock.recv, size - len(data)))
        if not chunk:
            raise ProtocolError("the other side closed during the link handshake")
        data += chunk
    return bytes(data)


async def _read_frame(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytes:
    header = await _read_exact(loop, sock, HEADER)
    if header[:2] == b"\x16\x03" and not isinstance(sock, ssl.SSLSocket):
        raise ProtocolError("a TLS hello: link.tls must be the same on both sides")
    return await _read_exact(loop, sock, frame_length(header))


async def connect_front(
    host: str,
    port: int,
    secret: bytes,
    tls: ssl.SSLContext | None,
    timeout: float = AUTH_TIMEOUT,
) -> socket.socket:
    """A socket to the front at ``host:port`` that has passed TLS (``tls``: see
    ``engine_tls``) and the handshake. Raises OSError (cannot connect:
    ConnectionRefusedError while the front is not up yet), LinkRefused (a wrong secret,
    either side's), ProtocolError."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, address)
        tune(sock)
        try:
            async with asyncio.timeout(timeout):
                binding = b""
                if tls is not None:
                    sock = tls.wrap_socket(sock, do_handshake_on_connect=False)
                    await _retry(loop, sock, sock.do_handshake)
                    shown = sock.getpeercert(binary_form=True)
                    if shown is None:
                        raise ProtocolError("the front showed no TLS certificate")
                    binding = tls_binding(shown)
                auth = EngineAuth(secret, binding=binding)
                await _send_all(loop, sock, auth.start())
                while not auth.done:
                    reply = auth.receive(await _read_frame(loop, sock))
                    if reply:
                        await _send_all(loop, sock, reply)
        except TimeoutError:
            raise ProtocolError(
                f"the front at {host}:{port} did not finish the link handshake in {timeout:g} s"
            ) from None
        except ssl.SSLError as error:
            raise ProtocolError(
                f"TLS with the front failed ({error}): link.tls must be the same on both sides"
            ) from None
    except BaseException:
        sock.close()
        raise
    return sock


async def _expect_tls(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    """An engine that speaks the handshake without TLS is told so (in the clear), not
    left to guess from a closed socket. Raises LinkRefused, ProtocolError."""
    first = await _retry(loop, sock, functools.partial(sock.recv, 1, socket.MSG_PEEK))
    if not first:
        raise ProtocolError("the other side closed during the link handshake")
    if first != b"\x16":  # a TLS record of the handshake
        reason = "not TLS, and this front's link.tls is true (set it alike on both sides)"
        raise LinkRefused(reason, frame(AuthRefused(reason)))


class EngineGate:
    """The front's door for engines over TCP: each proves it knows the secret first."""

    def __init__(
        self,
        secret: bytes,
        on_engine: Callable[[socket.socket, str], None],
        tls: FrontTls | None,
        *,
        timeout: float = AUTH_TIMEOUT,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.secret = secret
        self.on_engine = on_engine
        self.tls = tls
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
        try:
            async with asyncio.timeout(self.timeout):
                binding = b""
                if self.tls is not None:
                    await _expect_tls(loop, sock)
                    sock = self.tls.context.wrap_socket(
                        sock, server_side=True, do_handshake_on_connect=False
                    )
                    await _retry(loop, sock, sock.do_handshake)
                    binding = self.tls.binding
                auth = FrontAuth(self.secret, binding=binding)
                while not auth.done:
                    await _send_all(loop, sock, auth.receive(await _read_frame(loop, sock)))
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
        except ssl.SSLError as error:
            log.warning("engine from %s refused: not TLS (link.tls differs?): %s", peer, error)
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

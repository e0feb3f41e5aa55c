"""The SSH gate's link to the world server: framed Unix-socket streams, no SSH sessions.

The SSH gate (``moo/net/ssh_gate.py``) reaches the world only through this module, which
holds the world side of the steps its docstring numbers:

- steps 2 and 5, the control socket: ``hold_control`` keeps it connected, reconnecting
  within the grace period, and returns when the world stays unreachable;
- step 3, the auth round trip: ``authenticate`` opens one session socket per attempt and
  hands it back only if the world accepts;
- step 4, the session streams: ``WorldLink`` sends and receives frames
  (``moo/net/gate_protocol.py``).

``ensure_host_key`` (step 1) is the one piece the world server calls itself, before it
starts the gate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from pathlib import Path

from moo.errors import ProtocolError
from moo.files import write_private
from moo.net.gate_protocol import FrameDecoder, encode_frame
from moo.net.ssh_library import asyncssh
from moo.protocol import gate

log = logging.getLogger("moo.ssh_gate")  # the gate's logger: these lines are the gate's

AUTH_TIMEOUT = 10.0
"""Seconds to wait for the world to answer one auth attempt."""
RECONNECT_INTERVAL = 0.2
CLOSE_TIMEOUT = 2.0


class WorldLink:
    """One framed Unix-socket stream to the world server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._decoder = FrameDecoder(gate.decode_to_gate)
        self._frames: deque[gate.ToGate] = deque()

    @classmethod
    async def connect(cls, path: str) -> WorldLink:
        """Connect to the world's gate socket. Raises OSError."""
        reader, writer = await asyncio.open_unix_connection(path)
        return cls(reader, writer)

    async def send(self, msg: gate.FromGate) -> None:
        """Send one frame, waiting while the world is slow to read. Raises OSError."""
        self._writer.write(encode_frame(msg))
        await self._writer.drain()

    async def recv(self) -> gate.ToGate | None:
        """The next frame, or None at EOF. Raises OSError, ProtocolError."""
        while not self._frames:
            data = await self._reader.read(65536)
            if not data:
                return None
            self._frames.extend(self._decoder.feed(data))
        return self._frames.popleft()

    def abort(self) -> None:
        """Close at once, sending nothing."""
        self._writer.close()

    async def aclose(self, reason: str | None = None) -> None:
        """Send a ``close`` frame if ``reason`` is given (best effort), then close."""
        if reason is not None and not self._writer.is_closing():
            with contextlib.suppress(OSError):
                self._writer.write(encode_frame(gate.Close(reason)))
        self._writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(self._writer.wait_closed(), CLOSE_TIMEOUT)


async def authenticate(
    world_socket: str, user: str, method: gate.AuthMethod, secret: str, peer: str
) -> WorldLink | None:
    """Ask the world about one login attempt; the open stream if accepted, else None."""
    try:
        link = await asyncio.wait_for(WorldLink.connect(world_socket), AUTH_TIMEOUT)
    except (TimeoutError, OSError) as exc:
        log.warning(
            "cannot reach the world to check %r from %s: %s", user, peer, str(exc) or "timeout"
        )
        return None
    try:
        await link.send(gate.Auth(gate.GATE_PROTOCOL, user, method, secret))
        reply = await asyncio.wait_for(link.recv(), AUTH_TIMEOUT)
        if not isinstance(reply, gate.AuthReply):
            raise ProtocolError("no auth reply")
        if reply.ok:
            return link
        reason = reply.reason
        log.info("login refused for %r (%s) from %s: %s", user, method, peer, reason)
    except (TimeoutError, OSError, ProtocolError) as exc:
        log.warning("auth of %r from %s failed: %s", user, peer, str(exc) or "timeout")
    except asyncio.CancelledError:  # the client left mid-login
        link.abort()
        raise
    await link.aclose()
    return None


async def _connect_control(world_socket: str, reconnect_grace: float) -> WorldLink | None:
    deadline = asyncio.get_running_loop().time() + reconnect_grace
    while True:
        try:
            link = await WorldLink.connect(world_socket)
            await link.send(gate.Control(gate.GATE_PROTOCOL, os.getpid()))
            return link
        except OSError:
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await asyncio.sleep(RECONNECT_INTERVAL)


async def hold_control(
    world_socket: str, reconnect_grace: float, stopping: asyncio.Event | None = None
) -> None:
    """Keep the control socket connected; return once the world stays unreachable, or
    once ``stopping`` is set (a cancel alone can be swallowed by wait_for on 3.11)."""
    stopping = stopping or asyncio.Event()
    link = await _connect_control(world_socket, reconnect_grace)
    while link is not None and not stopping.is_set():
        log.info("control socket connected to %s", world_socket)
        try:
            while await link.recv() is not None:
                pass  # the world sends nothing we need on this line
        except (OSError, ProtocolError) as exc:
            log.warning("control socket error: %s", exc)
        await link.aclose()
        if stopping.is_set():
            return
        log.info("control socket closed; reconnecting for %.1f s", reconnect_grace)
        link = await _connect_control(world_socket, reconnect_grace)
    log.warning("world server unreachable at %s; closing all sessions", world_socket)


def ensure_host_key(path: Path) -> None:
    """Create an ssh-ed25519 host key at ``path`` (mode 0600) unless a file is there.

    Atomic: temp file, fsync, ``os.replace``, fsync of the directory. Raises OSError.
    """
    if path.exists():
        return
    write_private(path, asyncssh.generate_private_key("ssh-ed25519").export_private_key())

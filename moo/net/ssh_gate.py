"""The SSH gate: terminates SSH and hands each session to the world server.

Live SSH sessions cannot move between processes (their cipher state lives in
the process), but the world server is hot-upgraded by replacing its process.
So SSH ends here, in a small long-lived process, and every session reaches the
world as a plain Unix-socket stream of typed frames (``moo/protocol/gate.py``)
that the world treats like a telnet connection and can pass to its successor.

The pipeline:

1. The world server binds the TCP listener, calls ``ensure_host_key`` and starts
   ``python -m moo.net.ssh_gate --listen-fd N --world-socket PATH --host-key PATH``.
2. The gate connects its control socket (its lifeline) to PATH and sends
   ``Control {version, pid}``.
3. Each password or public-key attempt opens a fresh session socket and sends
   ``Auth {version, ...}``; the world answers ``AuthReply``. The socket of the
   attempt asyncssh accepts becomes that connection's session stream; the others are closed.
4. The shell opens: ``Open`` (terminal type and size), then ``Line`` for each
   line from asyncssh's line editor and ``Resize`` on window changes. From the
   world: ``Out``, ``Echo`` and ``Close``. Each ``Out`` write waits for the channel to
   drain below asyncssh's 64 KiB high-water mark, so a slow SSH reader holds at most
   that plus one frame here and pushes back on the world's socket.
   ``ssh host cmd`` sends the command as one line and relays output until 1 s of quiet.
5. The control socket hits EOF: retry every 0.2 s for ``--reconnect-grace`` s;
   reconnected -> carry on (the new world inherited the session sockets);
   otherwise close every session and exit 0. SIGTERM/SIGINT: the same, at once.

The world side of steps 2 to 5 (sockets, frames, reconnecting) is ``moo/net/gate_link.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Coroutine
from typing import Any

from moo.errors import ProtocolError
from moo.net.events import SSH_CLIENT_CLOSED, SSH_LOST
from moo.net.gate_link import CLOSE_TIMEOUT, WorldLink, authenticate, hold_control
from moo.net.gate_link import ensure_host_key as ensure_host_key  # moo/app.py imports it here
from moo.net.ssh_library import asyncssh
from moo.protocol import gate

log = logging.getLogger("moo.ssh_gate")

COMMAND_IDLE = 1.0
"""``ssh host cmd``: close this long after the world's last output."""
MAX_LINE_CHARS = 8192
"""Longest line forwarded. Above the world's 4096-byte limit, so the world sees and
rejects an over-long line; at 4 UTF-8 bytes a character at worst it still fits a frame."""
DEFAULT_SIZE = (80, 24)

LOST_MESSAGE = "Connection to the world was lost."
SHUTDOWN_MESSAGE = "Server shutting down."
GONE_MESSAGE = "The world server has gone away."


class GateConnection(asyncssh.SSHServer):
    """One SSH connection: asks the world to check logins, keeps the accepted stream."""

    def __init__(self, gate: Gate) -> None:
        self._gate = gate
        self._conn: asyncssh.SSHServerConnection | None = None
        self._peer = "?"
        self._candidates: dict[tuple[str, str, str], WorldLink] = {}
        self._last_ok: tuple[str, str, str] | None = None
        self._link: WorldLink | None = None
        self.user = ""

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        peer = conn.get_extra_info("peername")
        self._peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._gate.connections.add(self)
        log.info("connection from %s", self._peer)

    def connection_lost(self, exc: Exception | None) -> None:
        self._gate.connections.discard(self)
        links = list(self._candidates.values())
        self._candidates.clear()
        if self._link is not None:
            links.append(self._link)
            self._link = None
        for link in links:
            self._gate.spawn(link.aclose("ssh connection closed before the shell opened"))
        log.info("connection from %s closed%s", self._peer, f" ({exc})" if exc else "")

    def begin_auth(self, username: str) -> bool:
        if self._gate.login_banner and self._conn is not None:
            self._conn.send_auth_banner(self._gate.login_banner.rstrip("\n") + "\n")
        return True

    def password_auth_supported(self) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def kbdint_auth_supported(self) -> bool:
        return False

    async def validate_password(self, username: str, password: str) -> bool:
        return await self._check(username, "password", password)

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        # asyncssh asks twice per key (query, then signed): the cache keeps one socket.
        exported = key.export_public_key("openssh").decode("ascii")
        return await self._check(username, "publickey", " ".join(exported.split()[:2]))

    async def _check(self, user: str, method: gate.AuthMethod, secret: str) -> bool:
        attempt = (user, method, secret)
        if attempt not in self._candidates:
            link = await authenticate(self._gate.world_socket, user, method, secret, self._peer)
            if link is None:
                return False
            if self._conn is None or self not in self._gate.connections:
                await link.aclose("ssh connection closed during login")
                return False
            self._candidates[attempt] = link
        self._last_ok = attempt
        return True

    def auth_completed(self) -> None:
        # Called right after the validation that succeeded, so _last_ok names it.
        if self._last_ok is None or self._last_ok not in self._candidates:
            log.error("%s: login completed without a world session; closing", self._peer)
            self.close()
            return
        self._link = self._candidates.pop(self._last_ok)
        self.user = self._last_ok[0]
        for link in self._candidates.values():
            self._gate.spawn(link.aclose("another login attempt was accepted"))
        self._candidates.clear()
        log.info("%s logged in as %r (%s)", self._peer, self.user, self._last_ok[1])

    def take_link(self) -> WorldLink | None:
        """The session stream, once: a second shell on the same connection gets None."""
        link, self._link = self._link, None
        return link

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


class GateSession:
    """A shell (or command) on an authenticated connection, relayed to the world."""

    def __init__(
        self, process: asyncssh.SSHServerProcess[str], link: WorldLink, owner: GateConnection
    ) -> None:
        self._process = process
        self._link = link
        self._owner = owner
        self._stopped: asyncio.Future[tuple[str, str | None]] = (
            asyncio.get_running_loop().create_future()
        )
        self.done = asyncio.Event()

    def stop(self, message: str) -> None:
        """End the session from the gate side, showing ``message`` to the user."""
        if not self._stopped.done():
            self._stopped.set_result((message, "gate shutting down"))

    async def run(self) -> None:
        process = self._process
        term = process.get_terminal_type()
        cols, rows = process.get_terminal_size()[:2]
        command = process.command
        try:
            await self._link.send(
                gate.Open(
                    term or "unknown",
                    _dimension(cols, DEFAULT_SIZE[0]),
                    _dimension(rows, DEFAULT_SIZE[1]),
                )
            )
            if command is not None:
                await self._link.send(gate.Line(command[:MAX_LINE_CHARS]))
        except OSError:
            await self._finish(LOST_MESSAGE, None)
            return
        log.info("%r opened a %s", self._owner.user, "command" if command else f"shell ({term})")
        pumps = [asyncio.ensure_future(self._stopped)]
        if command is None:
            pumps += [
                asyncio.create_task(self._pump_ssh()),
                asyncio.create_task(self._pump_world(None)),
            ]
        else:
            pumps.append(asyncio.create_task(self._pump_world(COMMAND_IDLE)))
        done, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        try:
            message, world_reason = next(iter(done)).result()
        except Exception:
            log.exception("%r: session relay failed", self._owner.user)
            message, world_reason = LOST_MESSAGE, "gate error"
        await self._finish(message, world_reason)

    async def _pump_ssh(self) -> tuple[str, str | None]:
        """Lines and resizes from SSH to the world, until EOF or the world is gone."""
        stdin = self._process.stdin
        while True:
            try:
                line = await stdin.readline()
            except asyncssh.TerminalSizeChanged as change:
                msg: gate.Line | gate.Resize = gate.Resize(
                    _dimension(change.width, DEFAULT_SIZE[0]),
                    _dimension(change.height, DEFAULT_SIZE[1]),
                )
            except (asyncssh.BreakReceived, asyncssh.SignalReceived):
                continue
            except (OSError, asyncssh.Error) as exc:
                return "", f"{SSH_LOST}: {exc}"
            else:
                if not line:
                    return "", SSH_CLIENT_CLOSED
                text = line[:-1] if line.endswith("\n") else line
                text = text[:-1] if text.endswith("\r") else text
                msg = gate.Line(text[:MAX_LINE_CHARS])
            try:
                await self._link.send(msg)
            except OSError:
                return LOST_MESSAGE, None

    async def _pump_world(self, idle: float | None) -> tuple[str, str | None]:
        """Frames from the world to SSH; with ``idle``, stop after that much quiet."""
        stdout = self._process.stdout
        while True:
            try:
                msg = await asyncio.wait_for(self._link.recv(), idle)
            except TimeoutError:
                return "", "command finished"
            except (OSError, ProtocolError) as exc:
                log.warning("%r: bad stream from the world: %s", self._owner.user, exc)
                return LOST_MESSAGE, f"protocol error: {exc}"
            if msg is None:
                return LOST_MESSAGE, None
            try:
                if isinstance(msg, gate.Out):
                    stdout.write(msg.text)
                    await stdout.drain()  # backpressure: the channel buffer stays bounded
                elif isinstance(msg, gate.Echo):
                    self._set_echo(msg.on)
                elif isinstance(msg, gate.Close):
                    return msg.reason, None
                else:
                    raise ProtocolError(f"unexpected {type(msg).__name__} frame from the world")
            except ProtocolError as exc:
                log.warning("%r: bad frame from the world: %s", self._owner.user, exc)
                return LOST_MESSAGE, f"protocol error: {exc}"
            except (OSError, asyncssh.Error) as exc:
                return "", f"{SSH_LOST}: {exc}"

    def _set_echo(self, on: bool) -> None:
        # Only the line editor (pty sessions) can hide input; plain channels ignore it.
        if self._process.get_terminal_type() is None:
            return
        set_echo = getattr(self._process.channel, "set_echo", None)
        if callable(set_echo):
            set_echo(on)

    async def _finish(self, message: str, world_reason: str | None) -> None:
        await self._link.aclose(world_reason)
        process = self._process
        with contextlib.suppress(OSError, asyncssh.Error):
            if message:
                process.stdout.write(message + "\n")
            process.exit(0)
        with contextlib.suppress(OSError, asyncssh.Error, TimeoutError):
            await asyncio.wait_for(process.wait_closed(), CLOSE_TIMEOUT)
        self._owner.close()
        log.info("%r session ended%s", self._owner.user, f": {message}" if message else "")
        self.done.set()


def _dimension(value: int, default: int) -> int:
    return value if 0 < value <= 65535 else default


class Gate:
    """The gate process: SSH listener, control lifeline, the set of live sessions."""

    def __init__(
        self, world_socket: str, *, reconnect_grace: float = 30.0, login_banner: str = ""
    ) -> None:
        self.world_socket = world_socket
        self.reconnect_grace = reconnect_grace
        self.login_banner = login_banner
        self.connections: set[GateConnection] = set()
        self.sessions: set[GateSession] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop_reason: asyncio.Future[str] | None = None
        self._stopping = asyncio.Event()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a clean-up coroutine in the background, keeping a reference to it."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def stop(self, message: str) -> None:
        if self._stop_reason is not None and not self._stop_reason.done():
            self._stop_reason.set_result(message)

    async def run_session(self, process: asyncssh.SSHServerProcess[str]) -> None:
        """asyncssh process_factory: relay one shell or command to the world."""
        owner = process.get_extra_info("connection").get_owner()
        link = owner.take_link() if isinstance(owner, GateConnection) else None
        if link is None or process.subsystem is not None or not isinstance(owner, GateConnection):
            process.stderr.write("Only one shell per connection.\n")
            process.exit(1)
            if link is not None:
                await link.aclose("session refused")
            return
        session = GateSession(process, link, owner)
        self.sessions.add(session)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)

    async def _control_loop(self) -> None:
        await hold_control(self.world_socket, self.reconnect_grace, self._stopping)
        self.stop(GONE_MESSAGE)

    async def run(self, listen_sock: socket.socket, host_key: str) -> int:
        """Serve until stopped; returns the exit status. Raises OSError, asyncssh.Error."""
        loop = asyncio.get_running_loop()
        self._stop_reason = loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop, SHUTDOWN_MESSAGE)
        acceptor = await asyncssh.create_server(
            lambda: GateConnection(self),
            sock=listen_sock,
            server_host_keys=[host_key],
            process_factory=self.run_session,
            kbdint_auth=False,
            gss_host=None,  # no GSS: every login must go through the world
            agent_forwarding=False,
            line_editor=True,
            line_history=100,
            max_line_length=MAX_LINE_CHARS,
            encoding="utf-8",
            errors="replace",
        )
        log.info("listening on %s (pid %d)", listen_sock.getsockname(), os.getpid())
        control = asyncio.create_task(self._control_loop())
        message = await self._stop_reason
        log.info("stopping: %s", message)
        self._stopping.set()
        control.cancel()
        acceptor.close()
        sessions = list(self.sessions)
        for session in sessions:
            session.stop(message)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(s.done.wait() for s in sessions)), CLOSE_TIMEOUT * 2
            )
        for conn in list(self.connections):
            conn.close()
        # Bounded: on 3.11 a cancel that lands inside aclose()'s wait_for can be swallowed;
        # the control loop then sees _stopping and ends by itself.
        await asyncio.wait({control}, timeout=CLOSE_TIMEOUT)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m moo.net.ssh_gate", description=__doc__)
    parser.add_argument("--listen-fd", type=int, required=True, help="inherited TCP listener")
    parser.add_argument("--world-socket", required=True, help="the world server's gate socket")
    parser.add_argument("--host-key", required=True, help="SSH host private key file")
    parser.add_argument("--reconnect-grace", type=float, default=30.0, metavar="S")
    parser.add_argument("--login-banner", default="", metavar="TEXT")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="ssh-gate: %(message)s", stream=sys.stderr)
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    try:
        listen_sock = socket.socket(fileno=args.listen_fd)
    except OSError as exc:
        log.error("--listen-fd %d is not a socket: %s", args.listen_fd, exc)
        return 2
    gate = Gate(
        args.world_socket, reconnect_grace=args.reconnect_grace, login_banner=args.login_banner
    )
    try:
        return asyncio.run(gate.run(listen_sock, args.host_key))
    except (OSError, asyncssh.Error, asyncssh.KeyImportError) as exc:
        log.error("cannot serve: %s", exc)
        return 1
    finally:
        listen_sock.close()


if __name__ == "__main__":
    raise SystemExit(main())

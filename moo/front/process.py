"""``moo front`` (and ``moo serve``): the process that holds every connection.

1. Take ``run/front.lock`` (one front per data directory) and bind: the engine's socket
   (``run/front.sock``, 0600), with ``engine_listen`` a TCP port for engines on other
   machines (each proves it knows the link secret first: moo/net/link_tcp.py), telnet,
   telnet over TLS, the web client's port (its page and WebSocket, moo/net/web.py),
   and for SSH the gate's socket and port (the SSH gate process is the front's child,
   as it is the single-process server's).
2. Print one ``<name> listening on HOST:PORT`` line per player listener; write
   ``run/front.pid``.
3. With ``spawn``, start the engine (``moo engine``) and start another whenever it exits
   without being asked to (a crash, ``kill -9``), waiting longer after each quick failure.
   Without it, wait for engines the operator starts (systemd, another machine).
4. Tell systemd ``READY=1`` (moo/ops/sd_notify.py; the engines are started without
   ``$NOTIFY_SOCKET``, so the front stays the unit's main process, upgrades included).
   SIGUSR2 (``systemctl reload``) is passed on to the engine: a hot upgrade of it (not to
   an engine over TCP, whose pid is its own machine's: the log says so instead).
5. Serve until the engine asks everyone to stop (``@shutdown``), or SIGTERM/SIGINT:
   then say ``STOPPING=1``, stop the engine (it writes its final checkpoint), write what
   it said, close every connection, stop the SSH gate and exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from moo import paths
from moo.config import Config
from moo.errors import MooError
from moo.front.hub import Front
from moo.net.gate_process import GateProcess, stop_pid
from moo.net.link_tcp import EngineGate, ensure_secret, front_tls
from moo.net.listeners import Listener, bind_tcp, bind_unix, describe
from moo.net.tls_keys import tls_context
from moo.net.web import WebListener
from moo.ops import sd_notify
from moo.persist import lock
from moo.protocol.front import SPARE_GO, SPARE_STALE

log = logging.getLogger(__name__)

HOST_KEY_FILE = "ssh_host_ed25519_key"
QUICK_EXIT = 5.0  # an engine that dies this soon without attaching is failing to start
MAX_BACKOFF = 5.0
SUCCESSOR_WAIT = 60.0  # a hot upgrade's replacement attaches within this, or another starts
ENGINE_STOP_TIMEOUT = 60.0  # its final checkpoint
SPARE_AFTER = 2.0  # seconds an engine is attached before a spare is started beside it


def engine_command(
    config_file: Path | None, data_dir: Path, force_recover: bool, metrics: str | None
) -> list[str]:
    """``moo engine`` for this front, run by this interpreter (the engine serves the
    metrics: the world's figures are its own)."""
    command = [sys.executable, "-m", "moo", "engine", "--data-dir", str(data_dir)]
    if config_file is not None:
        command += ["--config", str(config_file)]
    if force_recover:
        command.append("--force-recover")
    if metrics is not None:
        command += ["--metrics", metrics]
    return command


class EngineSpawner:
    """Starts the engine and starts another each time it exits unasked; with ``spare``,
    keeps a spare engine ready (imports done: moo/engine/spare.py) to take over."""

    def __init__(
        self, command: list[str], env: dict[str, str], front: Front, *, spare: bool = True
    ) -> None:
        self.command = command
        self.env = env
        self.front = front
        self.process: asyncio.subprocess.Process | None = None
        self.spare: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._spare_task: asyncio.Task[None] | None = None
        self._want_spare = spare

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run())
        if self._want_spare:
            self._spare_task = loop.create_task(self._keep_spare())

    async def _start_engine(self) -> asyncio.subprocess.Process:
        """The spare, told to go on, if there is a live one; else a new process."""
        spare, self.spare = self.spare, None
        if spare is not None and spare.returncode is None and spare.stdin is not None:
            try:
                spare.stdin.write(f"{SPARE_GO}\n".encode())
                await spare.stdin.drain()
                spare.stdin.close()
                log.info("the spare engine (pid %d) takes over", spare.pid)
                return spare
            except (BrokenPipeError, ConnectionResetError):
                pass  # it died meanwhile: start one the slow way
        return await asyncio.create_subprocess_exec(
            *self.command, stdin=asyncio.subprocess.DEVNULL, env=self.env
        )

    async def _keep_spare(self) -> None:
        """Once an engine has been attached for ``SPARE_AFTER`` seconds (so the spare's
        imports do not slow the engine's catching up), start a spare if there is none."""
        while not self._stopping:
            await self.front.attached_event.wait()
            await asyncio.sleep(SPARE_AFTER)
            if self._stopping or not self.front.attached:
                continue
            if self.spare is None or self.spare.returncode is not None:
                self.spare = await asyncio.create_subprocess_exec(
                    *self.command, "--spare", stdin=asyncio.subprocess.PIPE, env=self.env
                )

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            started = time.monotonic()
            self.process = await self._start_engine()
            code = await self.process.wait()
            if self._stopping or self.front.stop_requested.is_set():
                return
            if code == SPARE_STALE:  # a spare that would have run older code than is installed
                continue
            other = self.front.attached and self.front.engine_pid != self.process.pid
            if self.front.successor is not None or other:  # a hot upgrade's engine serves
                await self._watch_successor()
                if self._stopping or self.front.stop_requested.is_set():
                    return
                log.warning("the engine is gone; starting another")
                failures = 0
                continue
            attached = self.front.engine_pid == self.process.pid
            if self.front.engine_pid is None:  # never attached: it cannot start (its error)
                log.error("the engine failed to start (exit code %s)", code)
                self.front.exit_code = code or 1
                self.front.stop_requested.set()
                return
            self.restarts += 1
            quick = not attached and time.monotonic() - started < QUICK_EXIT
            failures = failures + 1 if quick else 0
            delay = min(0.2 * 2**failures, MAX_BACKOFF) if failures else 0.0
            log.warning("the engine exited (code %s); starting another in %.1f s", code, delay)
            await asyncio.sleep(delay)

    async def _watch_successor(self) -> None:
        """Return once no engine is attached and none is coming (a hot upgrade's
        replacement is not this front's child: its link says whether it lives)."""
        deadline = time.monotonic() + SUCCESSOR_WAIT
        while not self._stopping and not self.front.stop_requested.is_set():
            if self.front.attached:
                deadline = time.monotonic() + SUCCESSOR_WAIT
            elif self.front.successor is None or time.monotonic() > deadline:
                self.front.successor = None
                return
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """SIGTERM the engine and wait for it to write its final checkpoint and exit; end
        the spare (EOF on its stdin)."""
        self._stopping = True
        if self._spare_task is not None:
            self._spare_task.cancel()
        spare, self.spare = self.spare, None
        if spare is not None and spare.stdin is not None:
            spare.stdin.close()
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), ENGINE_STOP_TIMEOUT)
            except TimeoutError:
                log.error("the engine did not stop in %.0f s: killing it", ENGINE_STOP_TIMEOUT)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        successor = self.front.engine_pid
        if successor is not None and (process is None or successor != process.pid):
            # A hot upgrade's engine: not this front's child, so polled.
            await stop_pid(successor, ENGINE_STOP_TIMEOUT, "the engine")
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if spare is not None:
            try:
                await asyncio.wait_for(spare.wait(), 5.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    spare.kill()
                await spare.wait()


async def serve_front(
    config: Config,
    out: Callable[[str], None] = print,
    *,
    command: list[str] | None = None,
) -> int:
    """Steps 1 to 5; ``command`` starts the engine (None: the operator starts it)."""
    paths.prepare(config.data_dir)
    front_lock = lock.acquire(config.data_dir, "front.lock", "front")
    front = Front(config)
    loop = asyncio.get_running_loop()
    listeners: list[Listener | WebListener] = []
    gate: GateProcess | None = None
    try:
        sock = bind_unix(paths.front_socket(config.data_dir))
        listeners.append(Listener(loop, sock, "engine", front.engine_connected))
        if config.engine_listen.enabled:
            listeners.append(engine_listener(config, command is not None, front))
        if config.telnet.enabled:
            sock = bind_tcp(config.telnet.host, config.telnet.port)
            accept = functools.partial(front.accept, kind="telnet")
            listeners.append(Listener(loop, sock, "telnet", accept))
            front.addresses["telnet"] = listeners[-1].address
        if config.telnet_tls.enabled:
            front.tls_context = tls_context(config)
            sock = bind_tcp(config.telnet_tls.host, config.telnet_tls.port)
            accept = functools.partial(front.accept, kind="telnet-tls")
            listeners.append(Listener(loop, sock, "telnet-tls", accept))
            front.addresses["telnet-tls"] = listeners[-1].address
        if config.web.enabled:
            sock = bind_tcp(config.web.host, config.web.port)
            listeners.append(WebListener(sock, "web", front, config.limits))
            front.addresses["web"] = listeners[-1].address
        if config.ssh.enabled:
            gate_path = paths.gate_socket(config.data_dir)
            accept = functools.partial(front.accept, kind="ssh")
            listeners.append(Listener(loop, bind_unix(gate_path), "ssh-gate", accept))
            ssh_sock = bind_tcp(config.ssh.host, config.ssh.port)
            from moo.net.ssh_gate import ensure_host_key

            host_key = config.data_dir / HOST_KEY_FILE
            ensure_host_key(host_key)
            gate = GateProcess(ssh_sock, gate_path, host_key)
            ssh_address = front.addresses["ssh"] = describe(ssh_sock)
            await gate.start()
            ssh_sock.close()
    except (OSError, MooError) as error:
        for listener in listeners:
            listener.close()
        if gate is not None:
            await gate.stop()
        if isinstance(error, MooError):
            raise
        raise MooError(f"cannot listen: {error.strerror or error}") from None
    engines = [listener for listener in listeners if listener.name.startswith("engine")]
    for listener in engines:  # the engine's socket (and TCP port)
        listener.start()
        if listener.name != "engine":
            out(f"{listener.name} listening on {listener.address}")
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _stop_on_signal, front)
    spawner = None
    if command is not None:
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        spawner = EngineSpawner(command, env, front, spare=config.spare_engine)
        spawner.start()
    if not await _first_engine(front):
        if spawner is not None:
            await spawner.stop()
        for listener in listeners:
            listener.close()
        if gate is not None:
            await gate.stop()
        _remove_sockets(config.data_dir)
        os.close(front_lock)
        return front.exit_code
    if front.local_engine_pid is not None:  # named before anyone is let in (moo status)
        paths.write_pid(paths.engine_pid_file(config.data_dir), front.local_engine_pid)
    for listener in listeners[len(engines) :]:
        listener.start()
        if listener.name != "ssh-gate":
            out(f"{listener.name} listening on {listener.address}")
    if gate is not None:
        out(f"ssh listening on {ssh_address}")
    pid_file = paths.front_pid_file(config.data_dir)
    paths.write_pid(pid_file)
    sd_notify.notify("READY=1")
    loop.add_signal_handler(signal.SIGUSR2, _upgrade_on_signal, front)
    watch = loop.create_task(_keep_run_files(front, spawner, config.data_dir))
    try:
        await front.stop_requested.wait()
    finally:
        sd_notify.notify("STOPPING=1")
        watch.cancel()
        if spawner is not None:
            await spawner.stop()
        await front.close_connections("server shutting down")
        for listener in listeners:
            listener.close()
        if gate is not None:
            await gate.stop()
        paths.remove_pid(pid_file)
        paths.front_state_file(config.data_dir).unlink(missing_ok=True)
        _remove_sockets(config.data_dir)
        os.close(front_lock)
    return 0


def engine_listener(config: Config, spawn: bool, front: Front) -> Listener:
    """Step 1's TCP port for engines (the link secret made on the first start). Raises
    MooError, OSError."""
    if spawn:  # its pid would be taken for the spawned engine's (a wrong process stopped)
        raise MooError(
            "engine_listen: a front that starts its own engine (--spawn-engine, moo serve "
            "--front) takes no engines over TCP; start the engines yourself (moo engine)"
        )
    secret = ensure_secret(paths.link_secret_file(config.data_dir, config.link.secret_file))
    tls = None
    if config.link.tls:
        cert, key = paths.link_cert_files(config.data_dir)
        tls = front_tls(cert, key, config.engine_listen.host)
    gate = EngineGate(secret, front.engine_connected, tls)
    sock = bind_tcp(config.engine_listen.host, config.engine_listen.port)
    return Listener(asyncio.get_running_loop(), sock, "engine link", gate.accept)


async def _first_engine(front: Front) -> bool:
    """Wait until an engine attaches (players are let in once there is a world); False if
    the front is told to stop first (a signal, or the first engine failed to start)."""
    attached = asyncio.ensure_future(front.attached_event.wait())
    stop = asyncio.ensure_future(front.stop_requested.wait())
    await asyncio.wait({attached, stop}, return_when=asyncio.FIRST_COMPLETED)
    attached.cancel()
    stop.cancel()
    return front.attached and not front.stop_requested.is_set()


def _upgrade_on_signal(front: Front) -> None:
    """SIGUSR2 to the front (``systemctl reload``: the front is the unit's main process)
    asks the attached engine for a hot upgrade, as SIGUSR2 to the engine itself does."""
    if front.attached and front.engine_address is not None:  # its pid is not this machine's
        log.warning(
            "SIGUSR2: the engine is on %s (pid %s on its machine): send SIGUSR2 there, or "
            "ask @hot-upgrade or moo upgrade on its machine",
            front.engine_address,
            front.engine_pid,
        )
        return
    pid = front.local_engine_pid
    if pid is None:
        log.warning("SIGUSR2: no engine is attached to upgrade")
        return
    log.info("SIGUSR2: passed on to the engine (pid %d): a hot upgrade", pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGUSR2)


def _remove_sockets(data_dir: Path) -> None:
    """The front's Unix sockets go with it (a copy of a stopped server's data directory
    then holds only files)."""
    for path in (paths.front_socket(data_dir), paths.gate_socket(data_dir)):
        path.unlink(missing_ok=True)


def _stop_on_signal(front: Front) -> None:
    if not front.stop_requested.is_set():
        log.info("stopping on a signal")
        for fc in list(front.conns.values()):
            fc.conn.send_text("*** The server is shutting down ***\n")
        front.stop_reason = "signal"
        front.stop_requested.set()


async def _keep_run_files(front: Front, spawner: EngineSpawner | None, data_dir: Path) -> None:
    """Every half second: ``run/engine.pid`` names the attached engine (the engine writes
    it too; this keeps it right when engines come and go; never an engine over TCP, whose
    pid is its own machine's), and ``run/front.state`` says how the front is (``moo
    status`` prints it, with a TCP engine's address), rewritten when that changes."""
    pid_path = paths.engine_pid_file(data_dir)
    state_path = paths.front_state_file(data_dir)
    last: dict[str, object] = {}
    while True:
        engine = front.local_engine_pid
        state = front.state()
        state["engine_restarts"] = spawner.restarts if spawner is not None else None
        spare = spawner.spare if spawner is not None else None
        state["spare_engine_pid"] = (
            spare.pid if spare is not None and spare.returncode is None else None
        )
        changed = state if state != last else None
        try:  # in a thread: the files' I/O never holds the front's loop (and its players)
            await asyncio.to_thread(_write_run_files, pid_path, engine, state_path, changed)
            last = state
        except OSError as error:  # a full disk: try again next time
            log.warning("cannot write %s: %s", state_path, error.strerror or error)
        await asyncio.sleep(0.5)


def _write_run_files(
    pid_path: Path, engine: int | None, state_path: Path, state: dict[str, object] | None
) -> None:
    if engine is not None and paths.read_pid(pid_path) != engine:
        paths.write_pid(pid_path, engine)
    if state is not None:
        paths.write_state(state_path, state)

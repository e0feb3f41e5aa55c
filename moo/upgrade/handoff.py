"""The running server's side of a hot upgrade (the replacement's side is adopt.py).

1. One upgrade at a time: a second request is refused with who started the first.
2. Take the store's checkpoint lock (no checkpoint may prune journal the replacement
   reads), record the attempt, spawn the replacement: ``PROGRAM serve SERVE_ARGS
   --upgrade-fd N``, fork + exec with nothing inherited but one end of the control
   channel (and stdout/stderr, so its log lines join ours).
3. Wait for HELLO (``upgrade.load_timeout_seconds``) while serving as usual; choose the
   level from it (protocol.py).
4. Wait for a quiet point (nothing in flight, up to ``upgrade.busy_wait_seconds``); tell
   players ``message_before`` (or ``message_restart``); freeze: listeners, connections,
   the command runner, world changes and the checkpointer's scheduler; fsync the journal.
5. Level 2: a final checkpoint. Send FREEZE (journal position, listener names, gate pid,
   this run's command line) with the data-dir lock and listener fds; level 1 then sends
   every session with its socket (transfer.py); DONE.
6. READY within ``upgrade.ready_timeout_seconds`` -> send GO; the replacement becomes the
   data directory's writer and answers SERVING before it reads or writes anything. From
   SERVING on, this process only lets go (closes its copies of the sockets without a
   word, or at level 2 closes the players' connections cleanly), keeps the checkpoint
   lock (no checkpoint here any more), names its successor to systemd and exits.
7. Anything else before SERVING (the replacement exits, sends garbage or an ERROR, reports an
   incompatible version, stays silent past a timeout): kill it, unfreeze, tell the
   requester and the wizards why, record the failure. Nobody is disconnected.

Level 3 instead: final checkpoint, close every connection cleanly, stop the gate, end the
run, send RESTART and exit; the replacement starts cold once this process is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from moo import __version__
from moo.config import Config
from moo.errors import MooError, ProtocolError
from moo.persist.upgrade_records import UpgradeLog
from moo.upgrade import channel as ch
from moo.upgrade import sd_notify, transfer
from moo.upgrade.protocol import Plan, choose_level

if TYPE_CHECKING:
    from moo.checkpoint.service import Checkpointer
    from moo.net.gate_process import GateProcess
    from moo.persist.store import Store
    from moo.server import Server

log = logging.getLogger(__name__)


UPGRADING = "The server is being upgraded; try again in a moment."


class UpgradeFailed(MooError):
    """The replacement did not take over; the running server carries on."""


@dataclass
class Request:
    command: list[str]
    by: str  # who asked, for records and messages: "Wizard (#2)", "admin socket", "SIGUSR2"
    player: int | None  # an in-game requester, told how it went
    report: Callable[[str], None]  # progress lines to the requester
    started: float = 0.0


@dataclass(frozen=True)
class Result:
    ok: bool
    text: str


class Upgrader:
    """Hot upgrades of this process. ``request`` starts one; ``handed_over`` is set when a
    replacement has taken over (``serve`` then lets go and exits)."""

    def __init__(
        self,
        config: Config,
        server: Server,
        store: Store,
        checkpointer: Checkpointer,
        *,
        program: list[str],
        serve_args: list[str],
        lock_fd: int,
        gate: GateProcess | None,
    ) -> None:
        self.config = config
        self.server = server
        self.store = store
        self.checkpointer = checkpointer
        self.program = program
        self.serve_args = serve_args
        self.lock_fd = lock_fd
        self.gate = gate
        self.log = UpgradeLog(store.records)
        self.active: Request | None = None
        self.handed_over = asyncio.Event()
        self.level_done = 0
        self._task: asyncio.Task[Result] | None = None

    # ------------------------------------------------------------ requests

    def start(self, request: Request) -> str | None:
        """Begin an upgrade in the background; a refusal reason, or None when started."""
        if self.active is not None:
            since = time.time() - self.active.started
            return (
                f"An upgrade is already in progress (asked by {self.active.by} "
                f"{since:.0f} s ago); try again when it is over."
            )
        if self.handed_over.is_set():
            return "This server has already handed over to its replacement."
        if self.server.stopping:
            return "The server is shutting down."
        request.started = time.time()
        self.active = request
        self._task = asyncio.get_running_loop().create_task(self._run(request))
        return None

    async def wait(self) -> Result:
        """The result of the upgrade in progress (for the admin socket)."""
        task = self._task
        assert task is not None
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                return Result(False, "The upgrade was interrupted by a shutdown.")
            raise

    async def cancel(self) -> None:
        """Shutting down: stop an upgrade in progress (its replacement is killed)."""
        task = self._task
        if task is not None and not task.done():
            if self.handed_over.is_set():  # past the point of no return: let it finish
                await self.wait()
                return
            task.cancel()
            with contextlib.suppress(BaseException):  # cancelled, or already failed: fine
                await task

    async def rollback_command(self) -> list[str]:
        """The program that ran before the last successful upgrade. Raises MooError."""
        last = await self.store.records.call(self.log.last_ok_sync)
        if last is None:
            raise MooError("There is no earlier program to roll back to: no upgrade has run.")
        if not last.command_before:
            raise MooError("The last upgrade did not record the program before it.")
        return list(last.command_before)

    def status_lines(self) -> list[str]:
        """What ``@hot-upgrade status`` says. Sync (one small query); raises MooError."""
        lines = [
            f"Running version {__version__} (pid {os.getpid()}): {shlex.join(self.program)}",
        ]
        if self.active is not None:
            lines.append(f"An upgrade asked by {self.active.by} is in progress.")
        else:
            lines.append("No upgrade is in progress.")
        recent = self.log.recent_sync(5)
        for record in recent:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.started))
            detail = f"level {record.level}" if record.level else "no level"
            if record.outcome == "ok":
                frozen = record.freeze_ms or 0.0
                detail += f", {record.sessions or 0} sessions, frozen {frozen:.1f} ms"
            elif record.error:
                detail += f": {record.error}"
            command = shlex.join(record.command or [])
            lines.append(f"  {when} {record.outcome:<7} {command} ({detail})")
        last = next((r for r in recent if r.outcome == "ok"), None)
        if last is not None and last.command_before:
            lines.append(f"Rollback would run: {shlex.join(last.command_before)}")
        return lines

    # ------------------------------------------------------------- the run

    async def _run(self, request: Request) -> Result:
        try:
            result = await self._attempt(request)
        except Exception as error:  # a bug here must not leave the server frozen
            log.exception("hot upgrade failed unexpectedly")
            result = Result(False, f"Upgrade FAILED: {error}")
        finally:
            if not self.handed_over.is_set():
                self.active = None
        request.report(result.text)
        return result

    async def _attempt(self, request: Request) -> Result:
        records = self.store.records
        upgrade_id = await records.call(
            self.log.begin_sync,
            started=request.started,
            requested_by=request.by,
            command=request.command,
            command_before=self.program,
            from_version=__version__,
            from_pid=os.getpid(),
        )
        log.info("hot upgrade %d asked by %s: %s", upgrade_id, request.by, request.command)
        parent, child_end = ch.socketpair()
        control = ch.Channel(parent)
        child: asyncio.subprocess.Process | None = None
        handoff: _Handoff | None = None
        plan: Plan | None = None
        lock = self.store.lock
        await lock.acquire()  # released on failure only: after a handoff no checkpoint here
        try:
            child = await self._spawn(request.command, child_end)
            request.report(f"Started the replacement (pid {child.pid}); it is loading.")
            loaded = time.monotonic()
            hello = await _expect(control, child, "hello", self.config.upgrade.load_timeout_seconds)
            plan = choose_level(hello)
            request.report(
                f"Replacement version {plan.version} loaded in "
                f"{time.monotonic() - loaded:.1f} s; handing over at level {plan.level}"
                + (f" ({plan.why})." if plan.why else ".")
            )
            handoff = _Handoff(self, control, child, plan, upgrade_id, request)
            return await handoff.run()
        except (ProtocolError, MooError, OSError) as error:
            reason = str(error) if not isinstance(error, OSError) else _os_reason(error)
            if self.handed_over.is_set():  # the replacement serves: never undo that
                log.error("after the handoff: %s", reason)
                return Result(True, f"Upgrade done, but afterwards: {reason}")
            await self._fall_back(child, handoff)
            await records.call(
                self.log.finish_sync,
                upgrade_id,
                finished=time.time(),
                outcome="failed",
                level=plan.level if plan else None,
                error=reason,
            )
            text = f"Upgrade FAILED: {reason}. This server (version {__version__}) carries on."
            log.error("%s", text)
            self.server.alarm_wizards(text)
            return Result(False, text)
        finally:
            if not self.handed_over.is_set():
                if child is not None and child.returncode is None:
                    child.kill()  # cancelled (the server is shutting down)
                if handoff is not None and handoff.frozen:
                    handoff.unfreeze()
                lock.release()
            control.close()
            with contextlib.suppress(OSError):
                child_end.close()

    async def _spawn(self, command: list[str], child_end: socket.socket) -> Any:
        fd = child_end.fileno()
        argv = [*command, "serve", *self.serve_args, "--upgrade-fd", str(fd)]
        try:
            process = await asyncio.create_subprocess_exec(
                *argv, pass_fds=(fd,), stdin=asyncio.subprocess.DEVNULL
            )
        except OSError as error:
            raise UpgradeFailed(f"cannot run {shlex.join(command)}: {_os_reason(error)}") from None
        finally:
            child_end.close()  # the child has its own copy now
        return process

    async def _fall_back(
        self, child: asyncio.subprocess.Process | None, handoff: _Handoff | None
    ) -> None:
        if child is not None and child.returncode is None:
            child.kill()
            await child.wait()
        if handoff is not None:
            handoff.unfreeze()


class _Handoff:
    """One attempt from the quiet point on (steps 4 to 6 of the module docstring)."""

    def __init__(
        self,
        upgrader: Upgrader,
        control: ch.Channel,
        child: asyncio.subprocess.Process,
        plan: Plan,
        upgrade_id: int,
        request: Request,
    ) -> None:
        self.up = upgrader
        self.server = upgrader.server
        self.control = control
        self.child = child
        self.plan = plan
        self.upgrade_id = upgrade_id
        self.request = request
        self.frozen = False
        self._refusal: str | None = None

    async def run(self) -> Result:
        config = self.up.config.upgrade
        await self._wait_quiet(config.busy_wait_seconds)
        level = self.plan.level
        for session in list(self.server.sessions.values()):
            session.tell(config.message_before if level == 1 else config.message_restart)
        # Let the notice leave before the freeze (else players see it only afterwards).
        await asyncio.sleep(0.05 if level > 1 else 0)
        await asyncio.sleep(0)
        await self._wait_quiet(config.busy_wait_seconds)
        started = time.monotonic()
        self.freeze()
        journal = self.up.store.journal
        if journal.failed is not None:
            raise UpgradeFailed(f"the journal cannot be trusted: {journal.failed}")
        if level == 3:
            await journal.sync_now()
            return await self._restart(started)
        if level == 2:
            await self._final_checkpoint()
        # The replacement reads the journal through the page cache, so the fsync (for
        # durability, not for the handoff) runs beside the session transfer.
        synced = asyncio.ensure_future(journal.sync_now())
        try:
            sessions = await self._send_state(level)
        finally:
            await synced
        if journal.failed is not None:
            raise UpgradeFailed(f"the journal cannot be trusted: {journal.failed}")
        ready_timeout = self.up.config.upgrade.ready_timeout_seconds
        await _expect(self.control, self.child, "ready", ready_timeout)
        freeze_ms = (time.monotonic() - started) * 1000
        await self.control.send({"t": "go", "freeze_ms": freeze_ms, "frozen_at": started})
        # The replacement now becomes the data directory's writer and says SERVING before
        # it reads or writes anything; without SERVING this server may still carry on.
        await _expect(self.control, self.child, "serving", ready_timeout)
        self.up.handed_over.set()  # committed: the replacement serves from here on
        self.up.level_done = level
        sd_notify.notify(f"MAINPID={self.child.pid}")  # before this process exits
        if level == 2:
            await self._close_players()
        self.server.let_go()
        text = (
            f"Upgrade done: version {self.plan.version} (pid {self.child.pid}) now serves; "
            f"level {level}, {sessions} session(s) carried, frozen {freeze_ms:.1f} ms."
        )
        log.info("%s", text)
        return Result(True, text)

    async def _wait_quiet(self, bound: float) -> None:
        deadline = time.monotonic() + bound
        while not self.server.quiet and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        if not self.server.quiet:
            log.warning("no quiet point within %.1f s: freezing with lines in flight", bound)

    async def _final_checkpoint(self) -> None:
        # No pruning: the replacement may still need journal older than this checkpoint.
        outcome = await self.up.store.checkpoint_locked("upgrade", "server", prune=False)
        if not outcome.ok:
            raise UpgradeFailed(f"the final checkpoint failed: {outcome.error}")

    def freeze(self) -> None:
        self.frozen = True
        self.server.freeze()
        world = self.up.store.world
        self._refusal = world.read_only_reason
        world.refuse_changes(UPGRADING)
        scheduler = self.up.checkpointer.scheduler
        if scheduler.running:
            scheduler.pause()

    def unfreeze(self) -> None:
        if not self.frozen:
            return
        self.frozen = False
        world = self.up.store.world
        if world.read_only_reason == UPGRADING:  # not a journal failure meanwhile
            world.read_only_reason = self._refusal
        scheduler = self.up.checkpointer.scheduler
        if scheduler.running:
            scheduler.resume()
        self.server.thaw()
        for session in list(self.server.sessions.values()):
            session.tell(self.up.config.upgrade.message_failed)

    async def _send_state(self, level: int) -> int:
        listeners = list(self.server.listeners.values())
        freeze = {
            "t": "freeze",
            "level": level,
            "position": self.up.store.journal.position,
            "listeners": [listener.name for listener in listeners],
            "gate_pid": self.up.gate.pid if self.up.gate is not None else None,
            "upgrade_id": self.upgrade_id,
            "requested_by": self.request.by,
            "player": self.request.player,
            "command": self.request.command,
            "serve_args": self.up.serve_args,
            "from_pid": os.getpid(),
        }
        fds = [self.up.lock_fd, *(listener.sock.fileno() for listener in listeners)]
        await self.control.send(freeze, fds)
        if level != 1:
            await self.control.send({"t": "done", "sessions": 0})
            return 0
        sent = await transfer.send_sessions(self.control, self.server.export_sessions())
        log.info(
            "handed over %d session(s): %d bytes of unsent output, %d unread line(s)",
            sent.sessions,
            sent.unsent_bytes,
            sent.unread_lines,
        )
        return sent.sessions

    async def _close_players(self) -> None:
        for conn in list(self.server.sessions):
            conn.close("upgrade", even_if_frozen=True)
        deadline = time.monotonic() + 2.0
        while self.server.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    async def _restart(self, started: float) -> Result:
        """Level 3: save, close everyone cleanly, stop, let the replacement start cold."""
        await self._final_checkpoint()
        await self.control.send({"t": "restart", "command": self.request.command})
        self.up.handed_over.set()
        self.up.level_done = 3
        sd_notify.notify(f"MAINPID={self.child.pid}")
        records = self.up.store.records
        await records.call(
            self.up.log.finish_sync,
            self.upgrade_id,
            finished=time.time(),
            outcome="ok",
            level=3,
            freeze_ms=(time.monotonic() - started) * 1000,
            sessions=0,
            to_version=self.plan.version,
            to_pid=self.child.pid,
        )
        await self.server.close_connections()
        if self.up.gate is not None:
            await self.up.gate.stop()
        text = (
            f"Upgrade at level 3: this server stopped after a final checkpoint "
            f"({(time.monotonic() - started) * 1000:.0f} ms); version {self.plan.version} "
            f"(pid {self.child.pid}) starts cold now."
        )
        log.info("%s", text)
        return Result(True, text)


async def _expect(
    control: ch.Channel, child: asyncio.subprocess.Process, wanted: str, timeout: float
) -> dict[str, Any]:
    """The replacement's next message, which must be ``wanted``. Raises UpgradeFailed."""
    receive = asyncio.ensure_future(control.receive())
    exited = asyncio.ensure_future(child.wait())
    try:
        done, _ = await asyncio.wait(
            {receive, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for task in (receive, exited):
            if not task.done():
                task.cancel()
    if receive in done and receive.exception() is None:
        message, fds = receive.result()
        for fd in fds:
            os.close(fd)
        kind = message.get("t")
        if kind == "error":
            raise UpgradeFailed(f"the replacement reported: {message.get('reason', '?')}")
        if kind != wanted:
            raise UpgradeFailed(f"the replacement sent {kind!r} where {wanted!r} was expected")
        return message
    if not done:
        raise UpgradeFailed(f"the replacement did not send {wanted.upper()} within {timeout:.0f} s")
    try:  # it exited, or the channel broke: give an exiting child a moment to say how
        code: int | None = await asyncio.wait_for(child.wait(), 2.0)
    except TimeoutError:
        code = None
    if code is not None:
        raise UpgradeFailed(
            f"the replacement exited with status {code} before {wanted.upper()}"
            " (its error is in the server log)"
        )
    raise UpgradeFailed(f"the replacement broke the protocol: {receive.exception()}")


def _os_reason(error: OSError) -> str:
    return error.strerror or str(error)


def parse_command(text: str) -> list[str]:
    """A ``to <command line>`` argument, split like a shell would (never run by one)."""
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise MooError(f"That command line does not parse: {error}.") from None
    if not words:
        raise MooError("Give a command line to run, e.g. /opt/moo-2/bin/moo.")
    return words

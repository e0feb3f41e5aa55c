"""The running server's side of a hot upgrade: requests, the replacement process, the
outcome (steps 4 to 6, from the quiet point to the commit, are handover.py's; the
replacement's side is adopt.py).

1. One upgrade at a time: a second request is refused with who started the first.
2. Take the store's checkpoint lock (no checkpoint may prune journal the replacement
   reads), record the attempt, spawn the replacement: ``PROGRAM serve SERVE_ARGS
   --upgrade-fd N`` (``engine`` for an engine behind a front), fork + exec with nothing
   inherited but one end of the control channel (and stdout/stderr, so its log lines
   join ours). Tell players ``upgrade.message_before`` now, while nobody waits on the notices.
3. Wait for HELLO (``upgrade.load_timeout_seconds``) while serving as usual; choose the
   level from it (protocol.py).
4.-6. The quiet point, the freeze, the transfer and READY / GO / SERVING: handover.py.
7. Anything else before SERVING (the replacement exits, sends garbage or an ERROR,
   reports an incompatible version, stays silent past a timeout): kill it, unfreeze,
   tell the requester and the wizards why, players ``upgrade.message_failed``, record
   the failure. Nobody is disconnected.
   After SERVING (or RESTART at level 3): ``handed_over`` is set and runtime.py exits.
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
from typing import TYPE_CHECKING

from moo import __version__
from moo.config import Config
from moo.errors import MooError
from moo.persist.upgrade_records import UpgradeLog
from moo.protocol import upgrade as msg
from moo.upgrade import channel as ch
from moo.upgrade.handover import Handover, Result, UpgradeFailed, expect
from moo.upgrade.protocol import Plan, choose_level, front_plan_note

if TYPE_CHECKING:
    from moo.checkpoint.service import Checkpointer
    from moo.net.gate_process import Gate
    from moo.persist.store import Store
    from moo.server import Server

log = logging.getLogger(__name__)


@dataclass
class Request:
    command: list[str]
    by: str  # who asked, for records and messages: "Wizard (#2)", "admin socket", "SIGUSR2"
    player: int | None  # an in-game requester, told how it went
    report: Callable[[str], None]  # progress lines to the requester
    started: float = 0.0


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
        gate: Gate | None,
        subcommand: str = "serve",
    ) -> None:
        self.config = config
        self.server = server
        self.store = store
        self.checkpointer = checkpointer
        self.program = program
        self.serve_args = serve_args
        self.subcommand = subcommand  # "engine" behind a front
        self.behind_front = subcommand == "engine"  # no socket moves, nobody is closed
        self.lock_fd = lock_fd
        self.gate = gate
        self.log = UpgradeLog(store.records)
        self.active: Request | None = None
        self.handed_over = asyncio.Event()
        self._task: asyncio.Task[Result] | None = None
        # Upgrades by outcome (metrics): "failed" ones this server carried on after; "ok"
        # is 1 in a replacement (runtime.py): a successful one ends this process.
        self.results: dict[str, int] = {"ok": 0, "failed": 0}

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
            if record.outcome == "ok" and record.sessions is None:  # an engine's: none moved
                how = "restarted cold" if record.level == 3 else "replaced"
                detail = f"engine {how} behind the front, frozen {record.freeze_ms or 0:.1f} ms"
            elif record.outcome == "ok":
                frozen = record.freeze_ms or 0.0
                detail += f", {record.sessions or 0} sessions, frozen {frozen:.1f} ms"
            elif record.error:  # behind a front a level says nothing (protocol.py)
                detail = record.error if self.behind_front else f"{detail}: {record.error}"
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
        self.results["ok" if result.ok else "failed"] += 1
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
        handoff: Handover | None = None
        plan: Plan | None = None
        warned = False  # players were told ``message_before``
        lock = self.store.lock
        await lock.acquire()  # released on failure only: after a handoff no checkpoint here
        try:
            child = await self._spawn(request.command, child_end)
            request.report(f"Started the replacement (pid {child.pid}); it is loading.")
            await self.server.announce(self.config.upgrade.message_before)
            warned = True
            loaded = time.monotonic()
            hello = await expect(
                control, child, msg.Hello, self.config.upgrade.load_timeout_seconds
            )
            plan = choose_level(hello, behind_front=self.behind_front)
            how = f"handing over at level {plan.level}" + (f" ({plan.why})" if plan.why else "")
            if self.behind_front:
                how = front_plan_note(plan, len(self.server.sessions))
            request.report(
                f"Replacement version {plan.version} loaded in "
                f"{time.monotonic() - loaded:.1f} s; {how}."
            )
            handoff = Handover(self, control, child, plan, upgrade_id, request)
            return await handoff.run()
        except (MooError, OSError) as error:  # ProtocolError and UpgradeFailed are MooErrors
            reason = str(error) if not isinstance(error, OSError) else _os_reason(error)
            if self.handed_over.is_set():  # the replacement serves: never undo that
                log.error("after the handoff: %s", reason)
                return Result(True, f"Upgrade done, but afterwards: {reason}")
            await self._fall_back(child, handoff)
            if warned:
                await self.server.announce(self.config.upgrade.message_failed)
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

    async def _spawn(
        self, command: list[str], child_end: socket.socket
    ) -> asyncio.subprocess.Process:
        fd = child_end.fileno()
        argv = [*command, self.subcommand, *self.serve_args, "--upgrade-fd", str(fd)]
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
        self, child: asyncio.subprocess.Process | None, handoff: Handover | None
    ) -> None:
        if child is not None and child.returncode is None:
            child.kill()
            await child.wait()
        if handoff is not None:
            handoff.unfreeze()


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

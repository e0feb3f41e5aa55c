"""Steps 4 to 6 of a hot upgrade on the running server (handoff.py has the rest): from
the quiet point, through the freeze and the transfer, to the commit or the unfreeze.

4. Level 2 or 3: tell players ``message_restart`` (not behind a front, where nobody is
   closed: the messages there are protocol.py's ``front_*``) and let it leave
   (``message_before`` went out when the replacement was started: 1000 notices cost
   ~14 ms, which at the freeze every player would wait out). Level 1: pre-copy every
   session with its socket while still serving, and wait for PREBUILT (transfer.py).
   Wait for a quiet point (nothing in flight, up to ``upgrade.busy_wait_seconds``);
   freeze: listeners, connections, the command runner, world changes and the
   checkpointer's scheduler.
   Web sessions cannot be carried (a WebSocket's state lives in this process): the
   freeze closes them with 1012 and their pages reconnect by themselves (Server.freeze).
5. Level 2: a final checkpoint (no pruning). Send FREEZE (journal position, listener
   names, gate pid, this run's command line) with the data-dir lock and listener fds;
   level 1 then sends what changed since the pre-copy, while the journal is fsynced;
   DONE.
6. READY within ``upgrade.ready_timeout_seconds`` -> GO; the replacement becomes the
   data directory's writer and answers SERVING. From SERVING on this process only lets
   go (level 2: closes the players' connections cleanly) and names its successor to
   systemd. TLS connections are never handed over (their TLS state lives in this
   process's OpenSSL; the exports skip them): after SERVING they are told
   ``upgrade.message_tls`` and closed cleanly, so they lose their connection only
   when the upgrade succeeds. Level 3 instead: final checkpoint, RESTART, close
   everyone, stop the gate.

Any exception out of ``Handover.run`` before SERVING means: unfreeze (handoff.py kills
the replacement and records why).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from moo.errors import MooError
from moo.gc_control import gc_paused
from moo.ops import sd_notify
from moo.protocol import upgrade as msg
from moo.upgrade import channel as ch
from moo.upgrade import transfer
from moo.upgrade.protocol import Plan, front_summary, summary

if TYPE_CHECKING:
    from moo.upgrade.handoff import Request, Upgrader

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_M = TypeVar("_M", bound=msgspec.Struct)

UPGRADING = "The server is being upgraded; try again in a moment."


class UpgradeFailed(MooError):
    """The replacement did not take over; the running server carries on."""


@dataclass(frozen=True)
class Result:
    ok: bool
    text: str


class Handover:
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
        level = self.plan.level
        if level > 1 and not self.up.behind_front:  # behind a front nobody is closed
            await self.server.announce(config.message_restart)
            await asyncio.sleep(0.05)  # let it leave before the freeze
        ages_at = time.monotonic()  # both passes take the sessions' ages at this time
        copied: transfer.Copied = {}
        if level == 1:
            copied = await self._precopy(ages_at)
        await self._wait_quiet(config.busy_wait_seconds)
        started = time.monotonic()
        self.freeze()
        freeze_sent = False
        exported: list[tuple[transfer.Item, int]] = []
        if level == 1:
            # FREEZE first, so the replacement catches up with the journal meanwhile; then
            # one snapshot of the sessions before anything awaits (a login still in flight
            # past the quiet point's bound could otherwise finish between two exports).
            freeze_sent = self.control.send_nowait(*self._freeze_message(level))
            exported = list(self.server.export_sessions(ages_at))
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
            with gc_paused():
                sessions = await self._bounded(
                    self._send_state(level, copied, exported, freeze_sent), "the sessions"
                )
        finally:
            await synced
        if journal.failed is not None:
            raise UpgradeFailed(f"the journal cannot be trusted: {journal.failed}")
        ready_timeout = self.up.config.upgrade.ready_timeout_seconds
        await expect(self.control, self.child, msg.Ready, ready_timeout)
        # The replacement measures the pause itself, to its thaw, from ``frozen_at``
        # (CLOCK_MONOTONIC is shared by processes), and records it.
        await self.control.send(msg.Go(started))
        # The replacement now becomes the data directory's writer and says SERVING before
        # it reads or writes anything; without SERVING this server may still carry on.
        await expect(self.control, self.child, msg.Serving, ready_timeout)
        freeze_ms = (time.monotonic() - started) * 1000
        self.up.handed_over.set()  # committed: the replacement serves from here on
        sd_notify.notify(f"MAINPID={self.child.pid}")  # before this process exits
        closed = await self.server.close_untransferable(config.message_tls)
        if closed:
            log.info("closed %d TLS connection(s): TLS state cannot be handed over", closed)
        if level == 2:
            await self.server.close_and_wait(self.server.connections(), "upgrade")
        self.server.let_go()
        if self.up.behind_front:  # the front's connections stayed; none moved
            connected = len(self.server.sessions)
            text = front_summary(self.plan.version, self.child.pid, connected, freeze_ms)
        else:
            text = summary(self.plan.version, self.child.pid, level, sessions, freeze_ms)
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

    async def _precopy(self, ages_at: float) -> transfer.Copied:
        """Every session to the replacement while this server still serves; it builds
        them meanwhile, so the freeze only carries what changed."""
        started = time.monotonic()
        sent = await self._bounded(
            transfer.precopy(self.control, self.server.export_sessions(ages_at), ages_at),
            "the pre-copy",
        )
        await expect(
            self.control, self.child, msg.Prebuilt, self.up.config.upgrade.ready_timeout_seconds
        )
        log.info(
            "pre-copied %d session(s) while serving (%.0f ms)",
            sent.sessions,
            (time.monotonic() - started) * 1000,
        )
        return sent.copied

    async def _bounded(self, sending: Coroutine[Any, Any, _T], what: str) -> _T:
        """``sending`` within ``upgrade.ready_timeout_seconds``: a replacement that is
        alive but stopped reading must not hold this server (frozen) for ever."""
        timeout = self.up.config.upgrade.ready_timeout_seconds
        try:
            return await asyncio.wait_for(sending, timeout)
        except TimeoutError:
            raise UpgradeFailed(
                f"the replacement did not take {what} within {timeout:.0f} s"
            ) from None

    async def _send_state(
        self,
        level: int,
        copied: transfer.Copied,
        exported: list[tuple[transfer.Item, int]],
        freeze_sent: bool,
    ) -> int:
        if not freeze_sent:
            await self.control.send(*self._freeze_message(level))
        sent = await transfer.send_changes(self.control, exported, copied)
        log.info(
            "handed over %d session(s) (%d changed since the pre-copy, %d gone): "
            "%d bytes of unsent output, %d unread line(s)",
            sent.sessions,
            sent.changed,
            sent.gone,
            sent.unsent_bytes,
            sent.unread_lines,
        )
        return sent.sessions

    def _freeze_message(self, level: int) -> tuple[msg.Freeze, list[int]]:
        """FREEZE, with the data-dir lock and listener fds."""
        listeners = list(self.server.listeners.values())
        freeze = msg.Freeze(
            level=level,
            position=self.up.store.journal.position,
            listeners=[listener.name for listener in listeners],
            gate_pid=self.up.gate.pid if self.up.gate is not None else None,
            upgrade_id=self.upgrade_id,
            requested_by=self.request.by,
            player=self.request.player,
            command=self.request.command,
            serve_args=self.up.serve_args,
        )
        return freeze, [self.up.lock_fd, *(listener.sock.fileno() for listener in listeners)]

    async def _restart(self, started: float) -> Result:
        """Level 3: save, close everyone cleanly, stop, let the replacement start cold."""
        await self._final_checkpoint()
        await self.control.send(
            msg.Restart(self.request.command, self.request.by, self.request.player)
        )
        self.up.handed_over.set()
        sd_notify.notify(f"MAINPID={self.child.pid}")
        records = self.up.store.records
        await records.call(
            self.up.log.finish_sync,
            self.upgrade_id,
            finished=time.time(),
            outcome="ok",
            level=3,
            freeze_ms=(time.monotonic() - started) * 1000,
            sessions=None if self.up.behind_front else 0,  # behind a front: nothing moved
            to_version=self.plan.version,
            to_pid=self.child.pid,
        )
        await self.server.close_connections()
        if self.up.gate is not None:
            await self.up.gate.stop()
        stopped_ms = (time.monotonic() - started) * 1000
        text = (
            f"Upgrade at level 3: this server stopped after a final checkpoint "
            f"({stopped_ms:.0f} ms); version {self.plan.version} "
            f"(pid {self.child.pid}) starts cold now."
        )
        if self.up.behind_front:
            text = (
                f"Upgrade: this engine stopped after a final checkpoint ({stopped_ms:.0f} ms); "
                f"version {self.plan.version} (pid {self.child.pid}) starts cold now, while "
                f"the {len(self.server.sessions)} connection(s) wait on the front."
            )
        log.info("%s", text)
        return Result(True, text)


async def expect(
    control: ch.Channel,
    child: asyncio.subprocess.Process,
    wanted: type[_M],
    timeout: float,
) -> _M:
    """The replacement's next message, which must be a ``wanted`` (``msg.Hello``: its
    first, in JSON, refused if of another protocol). Raises UpgradeFailed."""
    name = wanted.__struct_config__.tag
    assert isinstance(name, str)
    receiving: Coroutine[Any, Any, object]
    receiving = control.receive_hello() if wanted is msg.Hello else _message(control)
    receive = asyncio.ensure_future(receiving)
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
        message = receive.result()
        if isinstance(message, msg.Error):
            raise UpgradeFailed(f"the replacement reported: {message.reason}")
        if not isinstance(message, wanted):
            kind = message.__struct_config__.tag if isinstance(message, msgspec.Struct) else "?"
            raise UpgradeFailed(f"the replacement sent {kind!r} where {name!r} was expected")
        return message
    if not done:
        raise UpgradeFailed(f"the replacement did not send {name.upper()} within {timeout:.0f} s")
    try:  # it exited, or the channel broke: give an exiting child a moment to say how
        code: int | None = await asyncio.wait_for(child.wait(), 2.0)
    except TimeoutError:
        code = None
    if code is not None:
        raise UpgradeFailed(
            f"the replacement exited with status {code} before {name.upper()}"
            " (its error is in the server log)"
        )
    raise UpgradeFailed(f"the replacement broke the protocol: {receive.exception()}")


async def _message(control: ch.Channel) -> msg.Message:
    """The next message; descriptors nobody expects are closed."""
    message, fds = await control.receive()
    for fd in fds:
        os.close(fd)
    return message

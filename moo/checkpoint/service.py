"""The $checkpointer: scheduled, announced, warned, measured checkpoints.

It runs on APScheduler 3 (``AsyncIOScheduler``, in-memory job store); every job is
rebuilt from the world and the SQLite records by ``reschedule()``, so a restart or a
hot upgrade keeps the schedule. The jobs it schedules:

    regular    the next regular checkpoint: the last attempt + interval (failed_interval
               after a failure), unless a wizard cancelled that one (skip_regular)
    requested  a checkpoint someone asked for (@checkpoint, @checkpoint in/at)
    warn-<id>  one per connected player with a warning lead, before the next checkpoint
    stale      every ``stale_check`` seconds: warn wizards when nothing succeeded lately

A checkpoint runs as a task of its own (APScheduler's shutdown cancels running
coroutine jobs, and a checkpoint must never be cut short): ``stop()`` waits for it.
Jobs are coroutines on the event loop, so a checkpoint always starts between commands.
Before it starts, each object on $checkpointer.prepare has its ``prepare_checkpoint``
verb run (within ``prepare_budget`` seconds in all; a failing verb is logged and skipped).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from moo.checkpoint import messages, state
from moo.checkpoint.timeparse import format_duration
from moo.errors import CheckpointError
from moo.persist.checkpoint_run import CheckpointOutcome
from moo.persist.records import CheckpointRecord
from moo.persist.store import Store
from moo.world.permissions import is_wizard
from moo.world.world import World

log = logging.getLogger(__name__)

HISTORY = 100


class Host(Protocol):
    def notify(self, player: int, text: str) -> None: ...

    def connected_ids(self) -> list[int]: ...

    def run_verb(self, oid: int, name: str) -> bool: ...


@dataclass(frozen=True)
class Next:
    at: float
    why: str  # "the regular interval", "a retry after a failed checkpoint", "requested by X"
    job: str  # "regular" or "requested"


class Checkpointer:
    def __init__(
        self,
        world: World,
        store: Store,
        host: Host,
        tz: ZoneInfo,
        *,
        regular: bool = True,
        stale_check: float = 600.0,
        prepare_budget: float = 2.0,
        clock: Callable[[], float] = time.time,
        interval: int = 3600,
    ) -> None:
        self.world = world
        self.store = store
        self.host = host
        self.tz = tz
        self.regular = regular
        self.stale_check = stale_check
        self.prepare_budget = prepare_budget
        self.clock = clock
        # With no attempt on record the first regular checkpoint is due an interval after
        # start-up, so rebuilding the schedule never pushes it back.
        self.started_at = clock()
        self.oid = state.ensure_objects(world, interval=interval)
        try:
            self.history: list[CheckpointRecord] = store.records.recent_checkpoints_sync(HISTORY)
        except CheckpointError as error:  # the records come second: start without history
            log.error("cannot read the checkpoint history: %s", error)
            self.history = []
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.running: asyncio.Task[CheckpointOutcome | None] | None = None
        self.running_since: float | None = None

    # ------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self.scheduler.start()
        self.scheduler.add_job(
            self._stale_job,
            "interval",
            seconds=self.stale_check,
            id="stale",
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )
        self.reschedule()

    async def stop(self) -> None:
        """Wait for a checkpoint in progress, then stop scheduling."""
        if self.running is not None:
            await asyncio.shield(self.running)
        self.scheduler.shutdown(wait=False)

    @property
    def settings(self) -> state.Settings:
        return state.read(self.world, self.oid)

    # -------------------------------------------------------------- schedule

    def last_attempt(self) -> CheckpointRecord | None:
        return next((r for r in self.history if r.status in ("ok", "failed")), None)

    def last_success(self) -> CheckpointRecord | None:
        return next((r for r in self.history if r.status == "ok"), None)

    def regular_next(self) -> tuple[float, str] | None:
        if not self.regular:
            return None
        settings = self.settings
        last = self.last_attempt()
        if last is None:
            at, why = self.started_at + settings.interval, "the regular interval"
        elif last.status == "failed":
            at, why = (
                (last.finished or last.started) + settings.failed_interval,
                "a retry after a failed checkpoint",
            )
        else:
            at, why = (last.finished or last.started) + settings.interval, "the regular interval"
        if settings.skip_regular and abs(settings.skip_regular - at) < 1.0:
            at += settings.interval  # that one was cancelled
        return max(at, self.clock() + 1.0), why

    def next_checkpoint(self) -> Next | None:
        candidates = []
        regular = self.regular_next()
        if regular is not None:
            candidates.append(Next(regular[0], regular[1], "regular"))
        settings = self.settings
        if settings.scheduled_at is not None:
            who = settings.scheduled_by or "someone"
            candidates.append(Next(settings.scheduled_at, f"requested by {who}", "requested"))
        return min(candidates, key=lambda n: n.at) if candidates else None

    def reschedule(self) -> None:
        """Rebuild every date job from the world and the records."""
        if not self.scheduler.running:
            return
        for job in self.scheduler.get_jobs():
            if job.id != "stale":
                job.remove()
        regular = self.regular_next()
        if regular is not None:
            self._date_job("regular", regular[0], self._regular_job)
        settings = self.settings
        if settings.scheduled_at is not None:
            self._date_job(
                "requested", max(settings.scheduled_at, self.clock() + 0.5), self._requested_job
            )
        upcoming = self.next_checkpoint()
        for player in self.host.connected_ids():
            self._schedule_warning(player, upcoming)

    def reschedule_warning(self, player: int) -> None:
        """Rebuild only ``player``'s warn job (at login, or when their lead changes)."""
        if self.scheduler.running:
            self._schedule_warning(player, self.next_checkpoint())

    def _schedule_warning(self, player: int, upcoming: Next | None) -> None:
        job_id = f"warn-{player}"
        if self.scheduler.get_job(job_id) is not None:
            self.scheduler.remove_job(job_id)
        lead = state.player_notify(self.world, player).warn
        if upcoming is not None and lead > 0 and upcoming.at - lead > self.clock():
            self._date_job(job_id, upcoming.at - lead, self._warn_job, player, lead, upcoming.at)

    def _date_job(self, job_id: str, at: float, func: Callable[..., object], *args: object) -> None:
        self.scheduler.add_job(
            func,
            "date",
            run_date=datetime.fromtimestamp(at, UTC),
            args=args,
            id=job_id,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )

    async def _regular_job(self) -> None:
        self.start_checkpoint("scheduled", "server")

    async def _requested_job(self) -> None:
        by = self.settings.scheduled_by or None
        state.drop_earliest_request(self.world, self.oid)
        self.start_checkpoint("manual", by)

    async def _warn_job(self, player: int, lead: float, at: float) -> None:
        self.host.notify(player, messages.warning(lead, at, self.tz))

    async def _stale_job(self) -> None:
        text = self.stale_warning()
        if text is not None:
            for player in self.host.connected_ids():
                if is_wizard(self.world, player):
                    self.host.notify(player, text)

    def stale_warning(self) -> str | None:
        last = self.last_success()
        now = self.clock()
        since = last.finished if last is not None else None
        if since is not None and now - since <= self.settings.stale_after:
            return None
        if since is None and self.running is not None:
            return None
        return messages.stale(since, now, self.tz)

    def player_connected(self, player: int) -> None:
        """Warn a wizard at login when saving has gone stale, and of what the store found
        wrong at start (a damaged records database); schedule their warning."""
        if is_wizard(self.world, player):
            for warning in self.store.warnings:
                self.host.notify(player, f"*** Server warning: {warning} ***")
            text = self.stale_warning()
            if text is not None:
                self.host.notify(player, text)
        if state.player_notify(self.world, player).warn > 0:
            self.reschedule_warning(player)

    # ----------------------------------------------------------- requesting

    def request_at(self, at: float, by: str) -> str:
        """Schedule a checkpoint at ``at`` unless one is already due before then."""
        upcoming = self.next_checkpoint()
        if upcoming is not None and upcoming.at <= at:
            return (
                f"A checkpoint is already scheduled before then: at "
                f"{messages.when(upcoming.at, self.tz)} ({upcoming.why})."
            )
        state.add_request(self.world, self.oid, at, by)
        self.reschedule()
        return (
            f"Checkpoint scheduled for {messages.when(at, self.tz)} "
            f"(in {format_duration(at - self.clock())})."
        )

    def cancel(self) -> str:
        upcoming = self.next_checkpoint()
        if upcoming is None:
            return "No checkpoint is scheduled."
        if upcoming.job == "requested":
            state.drop_earliest_request(self.world, self.oid)
        else:
            self.world.set_prop(self.oid, "skip_regular", upcoming.at)
        self.reschedule()
        after = self.next_checkpoint()
        rest = f" The next one is at {messages.when(after.at, self.tz)}." if after else ""
        return f"Cancelled the checkpoint at {messages.when(upcoming.at, self.tz)}.{rest}"

    def set_interval(self, seconds: float, *, failed: bool) -> str:
        name = "failed_interval" if failed else "interval"
        self.world.set_prop(self.oid, name, int(seconds) if seconds == int(seconds) else seconds)
        self.reschedule()
        upcoming = self.next_checkpoint()
        label = "after a failed checkpoint" if failed else "between checkpoints"
        tail = (
            f" The next checkpoint is at {messages.when(upcoming.at, self.tz)}." if upcoming else ""
        )
        return f"The interval {label} is now {format_duration(seconds)}.{tail}"

    def busy_reply(self) -> str | None:
        """When a checkpoint is running: when it should finish (else None)."""
        if self.running is None or self.running_since is None:
            return None
        guess = messages.estimate(self.history)
        if guess is None:
            return "A checkpoint is being written right now."
        end = self.running_since + guess[0]
        return (
            f"A checkpoint is being written right now; it should finish at "
            f"{messages.when(end, self.tz)} (in about "
            f"{format_duration(max(0.0, end - self.clock()))})."
        )

    # --------------------------------------------------------------- running

    def start_checkpoint(self, reason: str, by: str | None, requester: int | None = None) -> str:
        """Start one now (a task of its own). Returns the reply for whoever asked; when it
        ends, ``requester`` is told the result directly (whatever their notify setting)."""
        busy = self.busy_reply()
        if busy is not None:
            return busy
        self.running_since = self.clock()
        self.running = asyncio.get_running_loop().create_task(self._run(reason, by, requester))
        return "Checkpoint started."

    async def _run(
        self, reason: str, by: str | None, requester: int | None = None
    ) -> CheckpointOutcome | None:
        """One checkpoint, announced at its start and its end whatever happens: a failure
        anywhere (even one the store did not foresee) is announced, told to the requester,
        kept in the history (so the retry comes after ``failed_interval`` and
        @status-checkpoint shows it) and logged."""
        started = self.clock()
        try:
            self._prepare()
            started = self.clock()
            self._announce_start(started)
            outcome = await self.store.checkpoint(reason, by)
        except Exception as error:
            log.exception("the checkpoint task failed")
            outcome = _unforeseen(reason, by, started, self.clock(), error)
        try:
            record = outcome.record
            if record is not None:
                self.history.insert(0, record)
                del self.history[HISTORY:]
            if self.settings.skip_regular:
                self.world.set_prop(self.oid, "skip_regular", 0)
            self._announce_end(outcome, record)
            if requester is not None:
                self.host.notify(requester, summary(outcome))
            return outcome
        except Exception:
            log.exception("announcing the end of a checkpoint failed")
            return outcome
        finally:
            self.running = None
            self.running_since = None
            self.reschedule()

    def _prepare(self) -> None:
        deadline = time.monotonic() + self.prepare_budget
        for oid in self.settings.prepare:
            if time.monotonic() > deadline:
                log.warning("checkpoint prepare: out of time; skipped #%d and the rest", oid)
                return
            try:
                if not self.host.run_verb(oid, "prepare_checkpoint"):
                    log.warning("checkpoint prepare: #%d has no prepare_checkpoint verb", oid)
            except Exception:
                log.exception("checkpoint prepare: #%d's prepare_checkpoint failed", oid)

    def _audience(self) -> tuple[list[int], list[int]]:
        on: list[int] = []
        off: list[int] = []
        for player in self.host.connected_ids():
            (on if state.player_notify(self.world, player).on else off).append(player)
        return on, off

    def _announce_start(self, started: float) -> None:
        on, off = self._audience()
        text = messages.started(started, self.tz, messages.estimate(self.history))
        for player in on:
            self.host.notify(player, text)
        short = self.settings.message
        if short:
            for player in off:
                self.host.notify(player, short)

    def _announce_end(self, outcome: CheckpointOutcome, record: CheckpointRecord | None) -> None:
        on, _off = self._audience()
        if outcome.ok and record is not None:
            previous = next((r for r in self.history[1:] if r.status == "ok"), None)
            text = messages.finished(record, previous, self.tz)
        else:
            retry = self.clock() + self.settings.failed_interval if self.regular else None
            text = messages.failed(
                outcome.started, outcome.error or "unknown error", retry or self.clock(), self.tz
            )
            if retry is None:
                text = text.rsplit("  The next try", 1)[0]
        for player in on:
            self.host.notify(player, text)


def _unforeseen(
    reason: str, by: str | None, started: float, now: float, error: Exception
) -> CheckpointOutcome:
    """The outcome of a checkpoint that raised instead of returning one (kept in memory
    only: whatever raised may be the records database)."""
    text = f"{type(error).__name__}: {error}"
    record = CheckpointRecord(
        id=0,
        reason=reason,
        requested_by=by,
        started=started,
        finished=now,
        duration=now - started,
        bytes=None,
        object_count=None,
        journal_position=None,
        world_digest=None,
        max_stall=None,
        stalled_commands=None,
        status="failed",
        error=text,
        path=None,
    )
    return CheckpointOutcome(
        None, False, reason, started, now - started, 0, 0, 0.0, text, record=record
    )


def summary(outcome: CheckpointOutcome) -> str:
    """One line for whoever asked for a checkpoint."""
    if not outcome.ok:
        return f"Checkpoint FAILED: {outcome.error}"
    return (
        f"Checkpoint done: {outcome.object_count} objects, {outcome.bytes} bytes in "
        f"{outcome.duration:.2f} s; longest stall {outcome.max_stall * 1000:.1f} ms."
    )

"""The durable world: recovery, the journal, checkpoints and their records, for one data dir.

Layout of the data directory:

    checkpoints/ckpt-NNNNNNNN.mck   checkpoint generations (snapshot.py)
    journal/<lsn>.journal           transactions since them (journal.py)
    moo.sqlite                      checkpoint and server-run records (records.py)

1. ``Store.open`` recovers the world (recovery.py), makes the journal the world's first
   observer and records the server run (``take_over`` instead after a hot upgrade).
2. ``checkpoint()`` runs one checkpoint at a time (``lock``; a hot upgrade holds it too)
   and tells ``checkpoint_observers`` the outcome. The checkpoint's own steps (rotate,
   snapshot, verify, record, prune) are ``checkpoint_run.py``'s.
3. After a journal failure the world refuses changes until ``resume_after_failure`` has
   written a checkpoint and started a new journal after it.
4. ``close()`` writes the final checkpoint and records the clean stop.

The world's safety comes first, its record second (keeper.py): a records database that
cannot be written (a full disk) never stops a checkpoint, whose rows then wait in memory;
a records file damaged at open is moved aside and replaced, with a line in ``warnings``
for wizards at login. The data directory is made owner-only at open (modes.py): 0700,
every file 0600.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from moo import __version__
from moo.config import Persist
from moo.errors import CheckpointError
from moo.persist import modes
from moo.persist.checkpoint_run import CheckpointOutcome, write_checkpoint
from moo.persist.journal import Journal
from moo.persist.keeper import RecordKeeper, open_or_replace
from moo.persist.records import RECORDS_FILE, Records, default_url
from moo.persist.recovery import Recovered, list_checkpoints, recover
from moo.world.world import World

log = logging.getLogger(__name__)


class Store:
    """Everything durable about one data directory. Create with ``Store.open``."""

    def __init__(
        self,
        data_dir: Path,
        config: Persist,
        recovered: Recovered,
        journal: Journal,
        records: Records,
        run_id: int,
        warnings: list[str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.config = config
        self.recovered = recovered
        self.world = recovered.world
        self.journal = journal
        self.records = records
        self.run_id = run_id
        self.alarms: list[Callable[[str], None]] = []
        # Told every checkpoint's outcome, ok or failed (metrics); must not raise.
        self.checkpoint_observers: list[Callable[[CheckpointOutcome], None]] = []
        self.warnings: list[str] = list(warnings or [])  # for wizards at login
        self.keeper = RecordKeeper(records, self.alarms)
        self._lock = asyncio.Lock()
        self._sync_task: asyncio.Task[None] | None = None
        self._resume_task: asyncio.Task[None] | None = None
        self._refusal = ""  # what the world says while the journal has failed
        self.world.add_observer(journal.append)

    @property
    def checkpoint_dir(self) -> Path:
        return self.data_dir / "checkpoints"

    def disk_size(self) -> int | None:
        """The newest checkpoint file's size in bytes (None: none written, or unreadable)."""
        found = list_checkpoints(self.checkpoint_dir)
        if not found:
            return None
        try:
            return found[-1][1].stat().st_size
        except OSError:
            return None

    @classmethod
    def open(
        cls,
        data_dir: Path,
        config: Persist,
        build_fresh: Callable[[], World],
        *,
        force: bool = False,
    ) -> Store:
        """Recover the world and open the journal and records. Raises CheckpointError.

        Not atomic: a refused recovery changes nothing in the world's files; a successful
        one may cut a torn journal tail (logged). Either way the data directory is made
        owner-only first, and a damaged records file is moved aside and replaced.
        """
        checkpoints = data_dir / "checkpoints"
        journal_dir = data_dir / "journal"
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        modes.tighten(data_dir)
        checkpoints.mkdir(exist_ok=True, mode=0o700)
        for stray in checkpoints.glob("*.tmp"):  # a checkpoint cut short by a crash
            log.warning("removing %s, left by a checkpoint that did not finish", stray.name)
            stray.unlink(missing_ok=True)
        warnings: list[str] = []
        records = open_or_replace(
            data_dir,
            warnings,
            lambda: cls.open_records(data_dir, config),
            config.records_url or None,
        )
        try:
            recovered = recover(checkpoints, journal_dir, build_fresh, force=force)
            for note in recovered.notes:
                log.warning("recovery: %s", note)
            run_id = records.begin_run_sync(
                started=time.time(), pid=os.getpid(), version=__version__
            )
            abandoned = records.mark_abandoned_runs_sync(run_id)
            interrupted = records.fail_interrupted_checkpoints_sync(
                "the server stopped before this checkpoint finished"
            )
        except BaseException:
            records.close()
            raise
        if abandoned:
            last = records.last_ok_checkpoint_sync()
            saved = (
                f"last saved at {_when(last.finished)}" if last and last.finished else "never saved"
            )
            log.warning(
                "the previous run (pid %s) ended without a clean stop; %s; %d journal "
                "transaction(s) replayed",
                abandoned[-1].pid,
                saved,
                recovered.replayed,
            )
        if interrupted:
            log.warning("%d checkpoint(s) were interrupted by the previous stop", interrupted)
        return cls._with_journal(data_dir, config, recovered, records, run_id, warnings)

    @classmethod
    def _with_journal(
        cls,
        data_dir: Path,
        config: Persist,
        recovered: Recovered,
        records: Records,
        run_id: int,
        warnings: list[str] | None = None,
    ) -> Store:
        journal = Journal(data_dir / "journal", next_lsn=recovered.position + 1, fsync=config.fsync)
        store = cls(data_dir, config, recovered, journal, records, run_id, warnings)
        journal.on_failure = store._journal_failed
        return store

    @staticmethod
    def load_readonly(data_dir: Path, build_fresh: Callable[[], World]) -> Recovered:
        """Recover the world without touching the directory (a hot-upgrade replacement
        loading while the running server still writes). Raises CheckpointError."""
        return recover(data_dir / "checkpoints", data_dir / "journal", build_fresh, readonly=True)

    @classmethod
    def take_over(
        cls, data_dir: Path, config: Persist, recovered: Recovered, records: Records
    ) -> Store:
        """Become the directory's writer after a hot upgrade: ``recovered`` has caught up
        with the old server's final journal position. Then ``record_run``.

        The old process ends its own run record; abandoned runs are not looked for.
        """
        return cls._with_journal(data_dir, config, recovered, records, 0)

    async def record_run(self) -> None:
        """Record this process as the running server (after ``take_over``). Raises
        CheckpointError."""
        self.run_id = await self.records.call(
            self.records.begin_run_sync, started=time.time(), pid=os.getpid(), version=__version__
        )

    @staticmethod
    def open_records(data_dir: Path, config: Persist) -> Records:
        """The records database for ``data_dir`` (the default one made 0600 before SQLite
        creates it: its -wal and -shm take its mode). Raises CheckpointError
        (RecordsDamaged when the file is damaged)."""
        if not config.records_url:
            try:
                modes.create_private(data_dir / RECORDS_FILE)
            except OSError as error:
                raise CheckpointError(
                    f"records database {data_dir / RECORDS_FILE}: cannot create: {error}"
                ) from None
        return Records.open(config.records_url or default_url(data_dir))

    def _journal_failed(self, reason: str) -> None:
        self._refusal = (
            f"The world cannot be saved right now ({reason}). Changes are "
            "refused; wizards have been told."
        )
        self.world.refuse_changes(self._refusal)
        for alarm in self.alarms:
            alarm(reason)

    def start_background(self) -> None:
        """Start the once-a-second journal sync (``fsync: everysec``) and the watch that
        takes changes again after a journal failure once a checkpoint can be written."""
        loop = asyncio.get_running_loop()
        self._sync_task = loop.create_task(self.journal.run_sync_loop())
        self._resume_task = loop.create_task(self._resume_loop())

    async def _resume_loop(self) -> None:
        interval = self.config.resume_interval_seconds
        if interval <= 0:
            return
        while True:
            await asyncio.sleep(interval)
            if self.journal.failed is not None:
                await self.resume_after_failure()

    async def resume_after_failure(self) -> bool:
        """After a journal failure: write a checkpoint of the world (everything acknowledged
        is in memory: a change the journal refused was undone), and if it verifies, start a
        new journal after it and take changes again; wizards are told. Returns whether the
        world takes changes now. Never raises; a checkpoint that still fails (the disk is
        still full) is recorded like any other, and the next try comes after
        ``persist.resume_interval_seconds``."""
        if self.journal.failed is None:
            return True
        async with self._lock:
            position = self.journal.position
            outcome = await self.checkpoint_locked("recovery", "server")
            if not outcome.ok:
                return False
            try:
                await asyncio.to_thread(self.journal.resume_after, position)
            except OSError as error:
                log.error("the journal cannot start again: %s", error.strerror or error)
                return False
        self.world.accept_changes(self._refusal)
        log.warning(
            "the journal writes again after checkpoint %s: changes are accepted", outcome.path
        )
        for alarm in self.alarms:
            alarm("the world is saved again (a checkpoint was written): changes are accepted")
        return True

    async def checkpoint(self, reason: str, requested_by: str | None = None) -> CheckpointOutcome:
        """Write, verify and record a checkpoint; one at a time (a second call waits).

        Returns the outcome, failed or not (failures are also logged and recorded).
        """
        async with self._lock:
            return await self.checkpoint_locked(reason, requested_by)

    @property
    def lock(self) -> asyncio.Lock:
        """Held while a checkpoint runs; a hot upgrade holds it too, so that no checkpoint
        prunes journal segments the replacement is reading."""
        return self._lock

    async def checkpoint_locked(
        self, reason: str, requested_by: str | None, *, prune: bool = True
    ) -> CheckpointOutcome:
        """``checkpoint`` for a caller that already holds ``lock``; ``prune=False`` keeps
        every older generation and journal segment (a hot upgrade's replacement may still
        be reading them). Never raises for a records database that cannot be written.
        Each of ``checkpoint_observers`` is told the outcome."""
        outcome = await write_checkpoint(self, reason, requested_by, prune=prune)
        for observe in self.checkpoint_observers:
            try:
                observe(outcome)
            except Exception:
                log.exception("a checkpoint observer failed")
        return outcome

    async def close(self, *, final_reason: str | None = "shutdown") -> CheckpointOutcome | None:
        """Final checkpoint (unless None or the journal failed), then close everything."""
        outcome = None
        for task in (self._sync_task, self._resume_task):
            if task is not None:
                task.cancel()
        if final_reason is not None and self.journal.failed is None:
            outcome = await self.checkpoint(final_reason, "server")
        self.journal.close()
        await self.keeper.flush()
        try:
            await self.records.call(
                self.records.end_run_sync, self.run_id, stopped=time.time(), clean=True
            )
        except CheckpointError as error:
            log.error("cannot record the clean stop: %s", error)
        if self.keeper.pending:
            log.error("%d record(s) could not be written before the stop", self.keeper.pending)
        self.records.close()
        return outcome


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(epoch))

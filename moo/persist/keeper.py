"""The records, second to the world's safety: writes that wait for a database that can
take them, and a damaged records file replaced at start.

1. ``RecordKeeper.attempt(method, ...)`` runs one records write in a worker thread and
   returns None instead of raising when the database refuses (a full disk, a lock held
   too long, a file damaged while running): the checkpoint that asked goes on.
2. ``attempt_or_queue`` and ``finish_checkpoint`` keep a refused write in memory, in
   order; ``flush()`` writes the queue, oldest first, before the next checkpoint's own
   rows and at close, so the table's order stays the order things happened.
3. The first refusal in a row is logged and raised to the wizards (the store's alarms);
   the first success after it is logged.
4. ``open_or_replace`` (at start): a records file in the data directory that is not a
   database, or fails SQLite's ``quick_check``, is moved aside to
   ``moo.sqlite.damaged-<local time>`` with its -wal and -shm, a new one is made, and one
   line for the log and the wizards says so. The world's files are never involved. A
   database named by ``persist.records_url`` is someone else's to repair: it refuses.

Why a queue in memory and not a file: the rows are a record of what happened, not the
world, and the disk that refused them is the one a file would go to.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moo.errors import CheckpointError
from moo.files import fsync_directory
from moo.persist.records import (
    RECORDS_FILE,
    RECORDS_FILES,
    CheckpointRecord,
    Records,
    RecordsDamaged,
)

log = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\0"  # the first 16 bytes of every SQLite database file


class RecordKeeper:
    """Records writes that never stop what asked for them. One per Store."""

    def __init__(self, records: Records, alarms: list[Callable[[str], None]]) -> None:
        self.records = records
        self.alarms = alarms  # the store's list: alarms added later are heard too
        self._queue: list[Callable[[], object]] = []
        self._failing = False

    @property
    def pending(self) -> int:
        """How many writes wait for the database."""
        return len(self._queue)

    async def attempt(self, method: Callable[..., Any], *args: Any) -> Any:
        """Run ``method(*args)`` (a ``*_sync`` write) in a worker thread. Returns its
        result (True for None), or None when the database refused it (step 3). Raises
        only what is not a CheckpointError (a programming error)."""
        try:
            result = await self.records.call(method, *args)
        except CheckpointError as error:
            self._refused(error)
            return None
        self._failing = False
        return True if result is None else result

    async def attempt_or_queue(self, write: Callable[[], object]) -> None:
        """``attempt(write)``, and queue it when refused. Never raises CheckpointError."""
        if await self.attempt(write) is None:
            self._queue.append(write)

    async def finish_checkpoint(
        self,
        record_id: int | None,
        reason: str,
        requested_by: str | None,
        started: float,
        **values: Any,
    ) -> CheckpointRecord:
        """Finish the checkpoint's row (or add it whole when its begin was refused),
        queued when refused. ``values`` are ``finish_checkpoint_sync``'s keywords,
        ``finished`` and ``status`` among them. Returns the row as recorded (id 0 when
        not known yet). Never raises CheckpointError."""
        write: Callable[[], object]
        if record_id is not None:
            write = _bind(self.records.finish_checkpoint_sync, record_id, **values)
        else:
            write = _bind(self.records.add_checkpoint_sync, reason, requested_by, started, **values)
        await self.attempt_or_queue(write)
        fields: dict[str, Any] = {name: values.get(name) for name in CheckpointRecord.__slots__}
        fields.update(
            id=record_id or 0,
            reason=reason,
            requested_by=requested_by,
            started=started,
            duration=values["finished"] - started,
        )
        return CheckpointRecord(**fields)

    async def flush(self) -> None:
        """Write the queued writes, oldest first, until one is refused again (it and the
        rest stay queued). Never raises CheckpointError."""
        if not self._queue:
            return
        try:
            while self._queue:
                await asyncio.to_thread(self._queue[0])
                self._queue.pop(0)
        except CheckpointError as error:
            self._refused(error)
            return
        if self._failing:
            log.warning("the records database takes writes again; the queued ones are in")
        self._failing = False

    def _refused(self, error: CheckpointError) -> None:
        if self._failing:
            log.error("records still cannot be written: %s", error)
            return
        self._failing = True
        text = (
            f"the records database cannot be written ({error}); checkpoints go on, and "
            "their records will be written when it can be"
        )
        log.error("%s", text)
        for alarm in self.alarms:
            alarm(text)


def _bind(method: Callable[..., object], *args: Any, **kwargs: Any) -> Callable[[], object]:
    return lambda: method(*args, **kwargs)


def open_or_replace(
    data_dir: Path, warnings: list[str], open_records: Callable[[], Records], url: str | None
) -> Records:
    """``open_records()``; but when ``url`` is None (the data directory's own
    ``moo.sqlite``) a damaged file is moved aside with its -wal and -shm and a new one
    made, and ``warnings`` gets one line saying so (step 4). Raises CheckpointError.
    Not atomic: a crash between the moves leaves some files aside, which the next start
    (finding no damaged file) simply recreates."""
    path = data_dir / RECORDS_FILE
    try:
        if url is None:
            with path.open("rb") as f:  # checked before SQLite, which may drop the -wal
                head = f.read(len(SQLITE_HEADER))
            if head and head != SQLITE_HEADER:
                raise RecordsDamaged(f"records database {path}: file is not a database")
        return open_records()
    except FileNotFoundError:
        return open_records()
    except OSError as error:
        raise CheckpointError(f"records database {path}: cannot read: {error}") from None
    except RecordsDamaged as error:
        if url is not None:
            raise
        damage = str(error)
    aside = data_dir / f"{RECORDS_FILE}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        for name in RECORDS_FILES:
            if (data_dir / name).exists():
                os.replace(data_dir / name, aside.with_name(aside.name + name[len(RECORDS_FILE) :]))
        fsync_directory(data_dir)
    except OSError as error:
        raise CheckpointError(
            f"{damage}; and it cannot be moved aside: {error.strerror or error}"
        ) from None
    text = (
        f"the records database was damaged ({damage.rpartition(': ')[2]}); it was moved to "
        f"{aside.name} and a new one made: the checkpoint and run history before now is "
        "only in that file. The world's own files were not affected."
    )
    log.warning("%s", text)
    warnings.append(text)
    return open_records()

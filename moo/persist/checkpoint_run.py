"""One checkpoint of the durable world, start to finish: what ``Store.checkpoint`` runs.

``write_checkpoint`` runs these steps for a ``Store`` (``store.py``, which holds the lock
that keeps them one at a time):

1. rotate the journal (the new checkpoint covers everything before the new segment);
2. write a consistent snapshot in slices (``snapshot.py``) while the lag meter watches the
   loop;
3. verify the written file by reading it back (in a worker thread);
4. record it in SQLite (through the store's ``RecordKeeper``: a records database that
   cannot be written never stops a checkpoint), delete generations beyond
   ``persist.keep_checkpoints`` / ``persist.max_checkpoint_bytes`` and the journal segments
   that no kept checkpoint needs (``prune=False`` keeps them all: a hot upgrade's
   replacement may still be reading them).

A failed checkpoint is recorded with its error; the previous generations stay. Either way
the outcome is a ``CheckpointOutcome``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moo.errors import CheckpointError
from moo.persist import snapshot
from moo.persist.lag import LagMeter
from moo.persist.records import CheckpointRecord
from moo.persist.recovery import checkpoint_path, list_checkpoints

if TYPE_CHECKING:
    from moo.persist.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckpointOutcome:
    record_id: int | None  # None: the records database could not take it (written later)
    ok: bool
    reason: str
    started: float
    duration: float
    bytes: int
    object_count: int
    max_stall: float
    error: str | None = None
    path: Path | None = None
    record: CheckpointRecord | None = None  # what was (or will be) recorded


async def write_checkpoint(
    store: Store, reason: str, requested_by: str | None, *, prune: bool
) -> CheckpointOutcome:
    """Steps 1-4 for ``store`` (whose ``lock`` the caller holds): the outcome, ok or failed.

    Never raises for a failed checkpoint (CheckpointError or anything unforeseen: logged
    and recorded) nor for a records database that cannot be written (the rows wait in the
    keeper). Not atomic as a whole; each file is (the snapshot writer's temp file and
    rename), and the previous generations stay until the new one verifies.
    """
    started = time.time()
    await store.keeper.flush()
    record_id = await store.keeper.attempt(
        store.records.begin_checkpoint_sync, reason, requested_by, started
    )
    generation = max((g for g, _ in list_checkpoints(store.checkpoint_dir)), default=0) + 1
    path = checkpoint_path(store.checkpoint_dir, generation)
    meter = LagMeter()
    meter.start()
    try:
        position = store.journal.rotate()
        writer = snapshot.SnapshotWriter(
            store.world, path, position, slice_seconds=store.config.slice_ms / 1000
        )
        writer.start()  # no await since rotate(): the snapshot's moment is ``position``
        await asyncio.to_thread(store.journal.mark_segment)
        stats = await writer.write()
        await asyncio.to_thread(snapshot.verify, path)
    except Exception as error:  # CheckpointError, or anything unforeseen: record it
        if not isinstance(error, CheckpointError):
            log.exception("checkpoint failed unexpectedly")
        stall = await meter.stop()
        log.error("checkpoint failed: %s", error)
        finished = time.time()
        record = await _finish(
            store,
            record_id,
            reason,
            requested_by,
            started,
            finished,
            meter,
            stall,
            status="failed",
            error=str(error),
        )
        return CheckpointOutcome(
            record_id,
            False,
            reason,
            started,
            finished - started,
            0,
            0,
            stall,
            str(error),
            record=record,
        )
    finished = time.time()
    size = snapshot.HEADER_SIZE + stats.header.body_length + stats.header.tasks_length
    # Unlinking a 200 MB old generation took 40-60 ms on the loop (bench/checkpoint.py
    # at 1M objects): prune in a thread, and inside the lag meter's window.
    if prune:
        try:
            await asyncio.to_thread(_prune, store)
        except OSError as error:  # the new checkpoint is safe: only old files stay
            log.warning("pruning old checkpoints failed: %s", error.strerror or error)
    stall = await meter.stop()
    record = await _finish(
        store,
        record_id,
        reason,
        requested_by,
        started,
        finished,
        meter,
        stall,
        status="ok",
        bytes=size,
        object_count=stats.header.object_count,
        journal_position=position,
        world_digest=stats.header.digest,
        path=str(path),
    )
    await store.keeper.attempt_or_queue(
        functools.partial(store.records.note_saved_sync, store.run_id, finished)
    )
    log.info(
        "checkpoint %s: %d objects, %d bytes, %.2f s, longest stall %.1f ms",
        path.name,
        stats.header.object_count,
        size,
        finished - started,
        stall * 1000,
    )
    return CheckpointOutcome(
        record_id,
        True,
        reason,
        started,
        finished - started,
        size,
        stats.header.object_count,
        stall,
        None,
        path,
        record,
    )


async def _finish(
    store: Store,
    record_id: int | None,
    reason: str,
    requested_by: str | None,
    started: float,
    finished: float,
    meter: LagMeter,
    stall: float,
    **values: Any,
) -> CheckpointRecord:
    """The checkpoint's record, ok or failed, with what every outcome records: its times
    and the lag meter's figures."""
    return await store.keeper.finish_checkpoint(
        record_id,
        reason,
        requested_by,
        started,
        finished=finished,
        max_stall=stall,
        stalled_commands=meter.stalls_over_10ms,
        **values,
    )


def _prune(store: Store) -> None:
    """Keep the newest generations (by count and total size); drop unneeded journal."""
    kept = list_checkpoints(store.checkpoint_dir)
    keep = max(1, store.config.keep_checkpoints)
    budget = store.config.max_checkpoint_bytes
    total = 0
    survivors: list[Path] = []
    for _generation, path in reversed(kept):
        size = path.stat().st_size
        if len(survivors) >= keep or (budget and survivors and total + size > budget):
            path.unlink(missing_ok=True)
            continue
        survivors.append(path)
        total += size
    oldest = survivors[-1] if survivors else None
    if oldest is not None:
        try:
            needed_from = snapshot.read_header(oldest).journal_position
        except CheckpointError:
            return
        store.journal.drop_through(needed_from)

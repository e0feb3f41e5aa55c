"""Checkpoint records: one row per checkpoint attempt in the records database.

The ``checkpoints`` table is defined in records_schema.py; this module holds what is done
with it, as upgrade_records.py does for ``upgrades`` and run_records.py for
``server_runs``. ``RecordsCheckpoints`` is a layer of ``Records`` (records.py): every
method below is found on the one Records object.

How a checkpoint is recorded (by checkpoint_run.py for a Store, through its keeper, keeper.py):

1. At server start, before any checkpoint begins: ``fail_interrupted_checkpoints_sync``
   marks rows left ``running`` by a process that died.
2. ``begin_checkpoint_sync`` writes a row with status ``running`` and returns its id.
3. ``finish_checkpoint_sync`` sets ``ok`` or ``failed``, the figures (bytes, objects,
   journal position, digest, stall) and the duration; ``add_checkpoint_sync`` writes a
   whole ended checkpoint at once when its begin could not be written at the time.
4. ``recent_checkpoints_sync``, ``checkpoint_sync`` and ``last_ok_checkpoint_sync`` read
   them back; ``delete_checkpoint_sync`` drops one (``moo checkpoint rm``, cleanup.py).

Every method is sync and runs one transaction (``RecordsEngine.transaction()``);
from the event loop: ``await records.call(records.begin_checkpoint_sync, ...)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from moo.persist.records_engine import RecordsEngine
from moo.persist.records_schema import checkpoints

REASONS = frozenset({"scheduled", "manual", "shutdown", "panic", "upgrade", "initial", "recovery"})
FINISHED_STATUSES = frozenset({"ok", "failed"})


@dataclass(frozen=True, slots=True)
class CheckpointRecord:
    id: int
    reason: str
    requested_by: str | None
    started: float
    finished: float | None
    duration: float | None
    bytes: int | None
    object_count: int | None
    journal_position: int | None
    world_digest: str | None
    max_stall: float | None
    stalled_commands: int | None
    status: str
    error: str | None
    path: str | None


def _checkpoint(row: sa.Row[Any]) -> CheckpointRecord:
    return CheckpointRecord(**row._mapping)


class RecordsCheckpoints(RecordsEngine):
    """The ``checkpoints`` rows: a layer of Records (records.py)."""

    def begin_checkpoint_sync(self, reason: str, requested_by: str | None, started: float) -> int:
        """Record a checkpoint as running; returns its id.

        Raises ValueError for an unknown reason, CheckpointError if the database fails.
        Atomic (one INSERT).
        """
        if reason not in REASONS:
            raise ValueError(f"unknown checkpoint reason {reason!r}")
        stmt = sa.insert(checkpoints).values(
            reason=reason, requested_by=requested_by, started=started, status="running"
        )
        return self.insert_sync(stmt)

    def finish_checkpoint_sync(
        self,
        checkpoint_id: int,
        *,
        finished: float,
        status: str,
        bytes: int | None = None,
        object_count: int | None = None,
        journal_position: int | None = None,
        world_digest: str | None = None,
        max_stall: float | None = None,
        stalled_commands: int | None = None,
        error: str | None = None,
        path: str | None = None,
    ) -> None:
        """Record how a running checkpoint ended; duration = finished - started.

        Returns None. Raises ValueError for a status other than ok/failed, CheckpointError
        if the id is unknown, the checkpoint is not running (finished twice, or failed by
        fail_interrupted_checkpoints_sync), or the database fails. Atomic (one UPDATE).
        """
        if status not in FINISHED_STATUSES:
            raise ValueError(f"a checkpoint finishes 'ok' or 'failed', not {status!r}")
        self.finish_running_sync(
            checkpoints,
            checkpoints.c.status,
            checkpoint_id,
            "checkpoint record",
            {
                "finished": finished,
                "status": status,
                "bytes": bytes,
                "object_count": object_count,
                "journal_position": journal_position,
                "world_digest": world_digest,
                "max_stall": max_stall,
                "stalled_commands": stalled_commands,
                "error": error,
                "path": path,
            },
            with_duration=True,
        )

    def add_checkpoint_sync(
        self,
        reason: str,
        requested_by: str | None,
        started: float,
        *,
        finished: float,
        status: str,
        **values: Any,
    ) -> int:
        """Record a checkpoint that already ended, whole (its begin could not be written
        at the time: Store writes it later). ``values`` are finish_checkpoint_sync's other
        keywords. Returns its id. Raises ValueError for an unknown reason or status,
        TypeError for an unknown keyword, CheckpointError if the database fails. Atomic
        (one INSERT)."""
        if reason not in REASONS:
            raise ValueError(f"unknown checkpoint reason {reason!r}")
        if status not in FINISHED_STATUSES:
            raise ValueError(f"a checkpoint finishes 'ok' or 'failed', not {status!r}")
        unknown = set(values) - set(checkpoints.c.keys())
        if unknown or {"id", "duration"} & set(values):
            raise TypeError(f"not a checkpoint value: {sorted(unknown or values)}")
        stmt = sa.insert(checkpoints).values(
            reason=reason,
            requested_by=requested_by,
            started=started,
            finished=finished,
            duration=finished - started,
            status=status,
            **values,
        )
        return self.insert_sync(stmt)

    def recent_checkpoints_sync(self, limit: int = 10) -> list[CheckpointRecord]:
        """Up to ``limit`` checkpoints, newest (highest id) first. Raises CheckpointError."""
        stmt = sa.select(checkpoints).order_by(checkpoints.c.id.desc()).limit(limit)
        with self.transaction() as conn:
            return [_checkpoint(row) for row in conn.execute(stmt)]

    def checkpoint_sync(self, checkpoint_id: int) -> CheckpointRecord | None:
        """The checkpoint with this id, or None. Raises CheckpointError."""
        stmt = sa.select(checkpoints).where(checkpoints.c.id == checkpoint_id)
        with self.transaction() as conn:
            row = conn.execute(stmt).one_or_none()
        return None if row is None else _checkpoint(row)

    def last_ok_checkpoint_sync(self) -> CheckpointRecord | None:
        """The newest checkpoint with status ok, or None. Raises CheckpointError."""
        stmt = (
            sa.select(checkpoints)
            .where(checkpoints.c.status == "ok")
            .order_by(checkpoints.c.id.desc())
            .limit(1)
        )
        with self.transaction() as conn:
            row = conn.execute(stmt).one_or_none()
        return None if row is None else _checkpoint(row)

    def delete_checkpoint_sync(self, checkpoint_id: int) -> None:
        """Delete one checkpoint record; an unknown id is not an error.

        Raises CheckpointError if the database fails. Atomic (one DELETE).
        """
        with self.transaction() as conn:
            conn.execute(sa.delete(checkpoints).where(checkpoints.c.id == checkpoint_id))

    def fail_interrupted_checkpoints_sync(self, error: str) -> int:
        """Mark every checkpoint still 'running' as failed with ``error``; returns how many.

        Call at server start, before any checkpoint begins: a running row then can only
        be left by a process that died. ``finished`` stays NULL (the end is unknown).
        Raises CheckpointError. Atomic (one UPDATE).
        """
        stmt = (
            sa.update(checkpoints)
            .where(checkpoints.c.status == "running")
            .values(status="failed", error=error)
        )
        with self.transaction() as conn:
            return conn.execute(stmt).rowcount

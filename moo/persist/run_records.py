"""Server-run records: one row per server process in the records database.

The ``server_runs`` table is defined in records_schema.py; this module holds what is done
with it, as checkpoint_records.py and upgrade_records.py do for theirs. ``RecordsRuns``
is a layer of ``Records`` (records.py): every method below is found on the one Records
object.

How a run is recorded (by Store, store.py):

1. At start: ``begin_run_sync`` writes this process's row and returns its id; at a cold
   start ``mark_abandoned_runs_sync`` then marks earlier runs that never stopped as
   unclean, each reported once.
2. After every good checkpoint: ``note_saved_sync`` sets the run's ``last_saved``.
3. At a clean stop: ``end_run_sync`` sets ``stopped`` and ``clean``.
4. ``previous_run_sync`` reads back the run before a given one.

Every method is sync and runs one transaction (``RecordsEngine.transaction()``);
from the event loop: ``await records.call(records.begin_run_sync, ...)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from moo.errors import CheckpointError
from moo.persist.records_engine import RecordsEngine
from moo.persist.records_schema import server_runs


@dataclass(frozen=True, slots=True)
class ServerRun:
    id: int
    started: float
    stopped: float | None
    clean: bool | None
    pid: int
    version: str
    last_saved: float | None


def _run(row: sa.Row[Any]) -> ServerRun:
    # SQLite's RETURNING hands back a REAL column's value as stored before affinity (1, not
    # 1.0) and a Boolean as 0/1, so coerce rather than trust the row.
    values = dict(row._mapping)
    for name in ("started", "stopped", "last_saved"):
        if values[name] is not None:
            values[name] = float(values[name])
    if values["clean"] is not None:
        values["clean"] = bool(values["clean"])
    return ServerRun(**values)


class RecordsRuns(RecordsEngine):
    """The ``server_runs`` rows: a layer of Records (records.py)."""

    def begin_run_sync(self, *, started: float, pid: int, version: str) -> int:
        """Record this server process as running; returns the run id.

        Raises CheckpointError. Atomic (one INSERT).
        """
        stmt = sa.insert(server_runs).values(started=started, pid=pid, version=version)
        return self.insert_sync(stmt)

    def end_run_sync(self, run_id: int, *, stopped: float, clean: bool) -> None:
        """Record that this run stopped. Raises CheckpointError (also for an unknown id).

        Atomic (one UPDATE). Overwrites a clean=False left by mark_abandoned_runs_sync.
        """
        stmt = (
            sa.update(server_runs)
            .where(server_runs.c.id == run_id)
            .values(stopped=stopped, clean=clean)
        )
        with self.transaction() as conn:
            found = conn.execute(stmt).rowcount
        if found != 1:
            raise CheckpointError(f"no server run record {run_id} to end")

    def note_saved_sync(self, run_id: int, saved: float) -> None:
        """Set the run's last_saved. Raises CheckpointError (also for an unknown id). Atomic."""
        stmt = sa.update(server_runs).where(server_runs.c.id == run_id).values(last_saved=saved)
        with self.transaction() as conn:
            found = conn.execute(stmt).rowcount
        if found != 1:
            raise CheckpointError(f"no server run record {run_id} to note a save on")

    def previous_run_sync(self, current_run_id: int) -> ServerRun | None:
        """The run just before ``current_run_id`` (highest lower id), or None.

        Raises CheckpointError.
        """
        stmt = (
            sa.select(server_runs)
            .where(server_runs.c.id < current_run_id)
            .order_by(server_runs.c.id.desc())
            .limit(1)
        )
        with self.transaction() as conn:
            row = conn.execute(stmt).one_or_none()
        return None if row is None else _run(row)

    def mark_abandoned_runs_sync(self, current_run_id: int) -> list[ServerRun]:
        """Mark earlier runs that never stopped as unclean; returns them, oldest first.

        Only runs with a lower id than ``current_run_id``, ``stopped`` NULL and ``clean``
        not yet set: each abandoned run is reported once, and a newer process (an
        upgrade taking over) is never touched. ``stopped`` stays NULL.
        Raises CheckpointError. Atomic (one UPDATE ... RETURNING).
        """
        stmt = (
            sa.update(server_runs)
            .where(
                server_runs.c.id < current_run_id,
                server_runs.c.stopped.is_(None),
                server_runs.c.clean.is_(None),
            )
            .values(clean=False)
            .returning(*server_runs.c)
        )
        with self.transaction() as conn:
            runs = [_run(row) for row in conn.execute(stmt)]
        return sorted(runs, key=lambda run: run.id)

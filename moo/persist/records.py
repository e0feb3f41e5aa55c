"""Checkpoint, server-run and upgrade records in a SQL database (SQLite by default, or PostgreSQL).

What is stored: one row per checkpoint attempt (``checkpoints``), one row
per server process (``server_runs``) and one row per hot upgrade (``upgrades``,
whose operations live in upgrade_records.py). The world itself is never stored
here; these rows say when it was saved, how long that took and how it went.

How a call flows:

1. ``Records.open(url)`` builds a sync SQLAlchemy Core engine, creates the
   schema on an empty database, upgrades a known older one, refuses a newer one.
2. Every ``*_sync`` method runs one short transaction (``Records.transaction()``)
   under ``self._lock``.
   On SQLite the transaction is a real ``BEGIN IMMEDIATE`` (sqlite3's legacy
   mode would skip BEGIN for SELECT and DDL), so two processes (server and
   CLI) serialise on SQLite's lock and wait up to sqlite3's 5 s busy timeout.
3. From the event loop, ``await records.call(records.x_sync, ...)`` runs any
   method in a worker thread, so the loop never waits for a disk write.
4. Any SQLAlchemy or driver error leaves as ``CheckpointError`` naming the
   database (the SQLite path, or the URL without its password).

Times are UTC epoch floats in the API and real timestamps in the database (``EpochTime``:
``timestamptz`` on PostgreSQL, so ``psql`` shows dates; ISO text in UTC on SQLite, which
hands ``DateTime(timezone=True)`` back naive, research/libraries.md section 5).

Why hand-written: Core, not the ORM (one small insert + commit measured
0.29 ms in Core vs 0.39 ms through the ORM); a sync engine in a thread, not
aiosqlite (0.62 ms per insert, and only 36 vs 51 ms of loop stall on a 50k-row
write); and a one-row ``schema_version`` table instead of Alembic while the
schema has three tables and no users. ``_UPGRADES`` holds each step: version 2
added ``upgrades``; version 3 made every time column a timestamp.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from moo.errors import CheckpointError
from moo.persist.records_engine import (
    RECORDS_FILE,
    RECORDS_FILES,
    RecordsDamaged,
    RecordsEngine,
    damaged,
    default_url,
    describe,
    make_engine,
)
from moo.persist.records_schema import (
    TIME_COLUMNS,
    EpochTime,
    add_upgrades_table,
    checkpoints,
    metadata,
    schema_version,
    server_runs,
    times_become_timestamps,
    upgrades,
)

__all__ = [
    "FINISHED_STATUSES",
    "REASONS",
    "RECORDS_FILE",
    "RECORDS_FILES",
    "SCHEMA_VERSION",
    "TIME_COLUMNS",
    "CheckpointRecord",
    "EpochTime",
    "Records",
    "RecordsDamaged",
    "ServerRun",
    "checkpoints",
    "default_url",
    "metadata",
    "schema_version",
    "server_runs",
    "upgrades",
]

SCHEMA_VERSION = 3
REASONS = frozenset({"scheduled", "manual", "shutdown", "panic", "upgrade", "initial", "recovery"})
FINISHED_STATUSES = frozenset({"ok", "failed"})

# from_version -> function that brings a database from that version to the next, in the
# open() transaction. A new version is one function in records_schema.py, its entry here,
# and SCHEMA_VERSION + 1.
_UPGRADES: dict[int, Callable[[Connection], None]] = {
    1: add_upgrades_table,
    2: times_become_timestamps,
}


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


@dataclass(frozen=True, slots=True)
class ServerRun:
    id: int
    started: float
    stopped: float | None
    clean: bool | None
    pid: int
    version: str
    last_saved: float | None


def _checkpoint(row: sa.Row[Any]) -> CheckpointRecord:
    return CheckpointRecord(**row._mapping)


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


class Records(RecordsEngine):
    """The records database. Thread-safe; one instance per process is enough."""

    @classmethod
    def open(cls, url: str) -> Records:
        """Open the database at ``url``, creating or upgrading its schema. Sync.

        Returns a ready Records. Raises RecordsDamaged (a CheckpointError) when an SQLite
        file is not a database or fails ``PRAGMA quick_check``; CheckpointError (naming
        the database) when the URL is bad, the driver is missing, or the schema version is
        newer than SCHEMA_VERSION or unknown. Atomic: schema creation or an upgrade
        happens in one transaction, so a crash leaves the old schema or the new.
        """
        try:
            parsed = sa.make_url(url)
        except SQLAlchemyError as error:
            # Not echoed: a URL that does not parse may still hold a password.
            raise CheckpointError(f"records database URL is not valid: {error}") from None
        where = describe(parsed)
        try:
            engine = make_engine(parsed)
        except (OSError, ImportError, SQLAlchemyError) as error:
            raise CheckpointError(f"records database {where}: cannot open: {error}") from None
        records = cls(engine, where)
        try:
            with records.transaction() as conn:
                if parsed.get_backend_name() == "sqlite":
                    found = conn.exec_driver_sql("PRAGMA quick_check").scalars().all()
                    if found != ["ok"]:
                        raise RecordsDamaged(
                            f"records database {where}: damaged ({'; '.join(found[:3])})"
                        )
                _ensure_schema(conn, where)
        except CheckpointError as error:
            engine.dispose()
            if error.__cause__ is not None and damaged(error.__cause__):
                raise RecordsDamaged(str(error)) from error.__cause__
            raise
        return records

    # -- checkpoints -------------------------------------------------------------------

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

    # -- server runs -------------------------------------------------------------------

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


def _ensure_schema(conn: Connection, where: str) -> None:
    """Create the schema on an empty database or upgrade it to SCHEMA_VERSION, in ``conn``.

    Returns None. Raises CheckpointError for a newer or unreadable version, or for our
    tables without a version row. Atomic as the caller's transaction is.
    """
    inspector = sa.inspect(conn)
    if not inspector.has_table(schema_version.name):
        ours = [
            table.name
            for table in metadata.sorted_tables
            if table is not schema_version and inspector.has_table(table.name)
        ]
        if ours:
            raise CheckpointError(
                f"records database {where} has {', '.join(ours)} but no schema_version table;"
                " it was not made by this server"
            )
        metadata.create_all(conn)
        conn.execute(sa.insert(schema_version).values(version=SCHEMA_VERSION))
        return
    versions = conn.execute(sa.select(schema_version.c.version)).scalars().all()
    if len(versions) != 1:
        raise CheckpointError(
            f"records database {where}: schema_version holds {len(versions)} rows, not 1"
        )
    found = versions[0]
    if found > SCHEMA_VERSION:
        raise CheckpointError(
            f"records database {where} has schema version {found}, newer than this server"
            f" knows ({SCHEMA_VERSION}); run the newer server or use another database"
        )
    for version in range(found, SCHEMA_VERSION):
        upgrade = _UPGRADES.get(version)
        if upgrade is None:
            raise CheckpointError(
                f"records database {where}: no upgrade from schema version {version}"
            )
        upgrade(conn)
    if found != SCHEMA_VERSION:
        conn.execute(sa.update(schema_version).values(version=SCHEMA_VERSION))

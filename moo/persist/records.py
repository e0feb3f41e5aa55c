"""Checkpoint, server-run and upgrade records in a SQL database (SQLite by default, or PostgreSQL).

What is stored: one row per checkpoint attempt (``checkpoints``), one row per server
process (``server_runs``) and one row per hot upgrade (``upgrades``). The world itself is
never stored here; these rows say when it was saved, how long that took and how it went.

How a call flows:

1. ``Records.open(url)`` (here) builds a sync SQLAlchemy Core engine
   (records_engine.py), checks an SQLite file with ``PRAGMA quick_check``, and in one
   transaction creates the schema on an empty database, upgrades a known older one
   (``_UPGRADES``), refuses a newer one.
2. Every ``*_sync`` method runs one short transaction (``Records.transaction()``) under
   the instance's lock; on SQLite a real ``BEGIN IMMEDIATE``, so the server and the CLI
   serialise on SQLite's lock.
3. From the event loop, ``await records.call(records.x_sync, ...)`` runs any method in a
   worker thread, so the loop never waits for a disk write.
4. Any SQLAlchemy or driver error leaves as ``CheckpointError`` naming the database (the
   SQLite path, or the URL without its password); ``RecordsDamaged`` when the SQLite file
   itself is damaged (Store.open then moves it aside).

``Records`` is built in layers, each a class in its own module; ``Records`` inherits them
all, so every ``records.method()`` is found on the one object:

- ``records_schema.py``     the tables, ``EpochTime`` and each version's upgrade step;
- ``records_engine.py``     ``RecordsEngine``: the engine, ``transaction()``, the shared
  writes ``insert_sync`` and ``finish_running_sync``, and ``call``;
- ``checkpoint_records.py`` ``RecordsCheckpoints``: the ``checkpoints`` rows
  (``CheckpointRecord``);
- ``run_records.py``        ``RecordsRuns``: the ``server_runs`` rows (``ServerRun``);
- this module               ``Records``: ``open``, the schema version and its check.

The ``upgrades`` rows are kept by ``UpgradeLog`` (upgrade_records.py), which wraps a
Records rather than being a layer of it. Every name other modules import from here is
re-exported (``__all__``).

Times are UTC epoch floats in the API and real timestamps in the database (``EpochTime``).

Why hand-written: Core, not the ORM (one small insert + commit measured 0.29 ms in Core vs
0.39 ms through the ORM); a sync engine in a thread, not aiosqlite (records_engine.py);
and a one-row ``schema_version`` table instead of Alembic while the schema has three
tables and no users. ``_UPGRADES`` holds each step: version 2 added ``upgrades``; version
3 made every time column a timestamp.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from moo.errors import CheckpointError
from moo.persist.checkpoint_records import (
    FINISHED_STATUSES,
    REASONS,
    CheckpointRecord,
    RecordsCheckpoints,
)
from moo.persist.records_engine import (
    RECORDS_FILE,
    RECORDS_FILES,
    RecordsDamaged,
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
from moo.persist.run_records import RecordsRuns, ServerRun

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

# from_version -> function that brings a database from that version to the next, in the
# open() transaction. A new version is one function in records_schema.py, its entry here,
# and SCHEMA_VERSION + 1.
_UPGRADES: dict[int, Callable[[Connection], None]] = {
    1: add_upgrades_table,
    2: times_become_timestamps,
}


class Records(RecordsCheckpoints, RecordsRuns):
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

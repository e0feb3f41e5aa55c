"""The records database's tables as they are today, and each step from an older version.

What is here, in the order a database meets it:

1. ``EpochTime``: the column type of every time, a UTC epoch float in Python and a
   timestamp in the database (``timestamptz`` on PostgreSQL, so ``psql`` shows dates; ISO
   text in UTC on SQLite, which hands ``DateTime(timezone=True)`` back naive,
   research/libraries.md section 5).
2. ``metadata``: today's tables, ``schema_version`` (one row), ``checkpoints``,
   ``server_runs`` and ``upgrades``; ``Records.open`` creates them all on an empty
   database.
3. The upgrade steps, one function per version, each bringing a database from that
   version to the next inside ``Records.open``'s transaction: ``add_upgrades_table``
   (1 -> 2) and ``times_become_timestamps`` (2 -> 3).

The version number, the step table and the check that runs them (``SCHEMA_VERSION``,
``_UPGRADES``, ``_ensure_schema``) are in records.py, beside ``Records.open``. A new version
is a changed table here, one function here, and one entry there.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection


class EpochTime(sa.types.TypeDecorator[float]):
    """A UTC epoch float in Python, a timestamp with time zone in the database."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: float | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return dt.datetime.fromtimestamp(value, dt.UTC)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> float | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite: stored in UTC, handed back naive
            value = value.replace(tzinfo=dt.UTC)
        return float(value.timestamp())


metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, nullable=False),
)

checkpoints = sa.Table(
    "checkpoints",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("requested_by", sa.Text),
    sa.Column("started", EpochTime, nullable=False),
    sa.Column("finished", EpochTime),
    sa.Column("duration", sa.Float),
    sa.Column("bytes", sa.BigInteger),  # BigInteger: a world file may pass 2 GiB
    sa.Column("object_count", sa.Integer),
    sa.Column("journal_position", sa.BigInteger),
    sa.Column("world_digest", sa.Text),
    sa.Column("max_stall", sa.Float),
    sa.Column("stalled_commands", sa.Integer),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("path", sa.Text),
    sa.Index("ix_checkpoints_status", "status"),
)

server_runs = sa.Table(
    "server_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started", EpochTime, nullable=False),
    sa.Column("stopped", EpochTime),
    sa.Column("clean", sa.Boolean),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("last_saved", EpochTime),
)

upgrades = sa.Table(
    "upgrades",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started", EpochTime, nullable=False),
    sa.Column("finished", EpochTime),
    sa.Column("requested_by", sa.Text),
    sa.Column("command", sa.Text),  # the replacement's argv, a JSON list of strings
    sa.Column("command_before", sa.Text),  # the program it replaced (what a rollback runs)
    sa.Column("from_version", sa.Text),
    sa.Column("from_pid", sa.Integer),
    sa.Column("to_version", sa.Text),
    sa.Column("to_pid", sa.Integer),
    sa.Column("level", sa.Integer),  # 1, 2 or 3
    sa.Column("outcome", sa.Text, nullable=False),  # running | ok | failed
    sa.Column("freeze_ms", sa.Float),
    sa.Column("sessions", sa.Integer),  # sessions carried across
    sa.Column("error", sa.Text),
)


def add_upgrades_table(conn: Connection) -> None:
    """Version 1 -> 2: add ``upgrades``, spelled out as it was at version 2.

    Not ``upgrades.create(conn)``: that builds the table as this file defines it today,
    and a later version that changes it would then find its own change already made.
    """
    frozen = sa.MetaData()
    sa.Table(
        "upgrades",
        frozen,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started", sa.Float, nullable=False),
        sa.Column("finished", sa.Float),
        sa.Column("requested_by", sa.Text),
        sa.Column("command", sa.Text),
        sa.Column("command_before", sa.Text),
        sa.Column("from_version", sa.Text),
        sa.Column("from_pid", sa.Integer),
        sa.Column("to_version", sa.Text),
        sa.Column("to_pid", sa.Integer),
        sa.Column("level", sa.Integer),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("freeze_ms", sa.Float),
        sa.Column("sessions", sa.Integer),
        sa.Column("error", sa.Text),
    )
    frozen.create_all(conn)


TIME_COLUMNS = {
    "checkpoints": ("started", "finished"),
    "server_runs": ("started", "stopped", "last_saved"),
    "upgrades": ("started", "finished"),
}
"""Version 3's timestamp columns (version 2 kept them as epoch floats)."""


def times_become_timestamps(conn: Connection) -> None:
    """Version 2 -> 3: every time column from an epoch float to a timestamp, rows kept.

    PostgreSQL changes the column types in place (``to_timestamp``). SQLite cannot change a
    column's type: each table is rebuilt (renamed aside, made anew, rows copied with their
    times written as the UTC text SQLAlchemy's DateTime reads, the old one dropped). The
    new tables are today's definitions: a later version that changes these tables must
    first freeze them here, as ``add_upgrades_table`` does.
    """
    if conn.dialect.name == "postgresql":
        for table_name, time_columns in TIME_COLUMNS.items():
            for column in time_columns:
                conn.exec_driver_sql(
                    f"ALTER TABLE {table_name} ALTER COLUMN {column} TYPE timestamptz "
                    f"USING to_timestamp({column})"
                )
        return
    for name, times in TIME_COLUMNS.items():
        table = metadata.tables[name]
        for index in table.indexes:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
        conn.exec_driver_sql(f"ALTER TABLE {name} RENAME TO {name}_v2")
        table.create(conn)
        columns = [column.name for column in table.columns]
        picked = [
            f"strftime('%Y-%m-%d %H:%M:%f000', {c}, 'unixepoch')" if c in times else c
            for c in columns
        ]
        conn.exec_driver_sql(
            f"INSERT INTO {name} ({', '.join(columns)}) SELECT {', '.join(picked)} FROM {name}_v2"
        )
        conn.exec_driver_sql(f"DROP TABLE {name}_v2")

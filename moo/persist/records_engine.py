"""The records database's connection: an engine from a URL, and one transaction at a time.

How a call flows through this layer (``Records``, records.py, stands on it):

1. ``make_engine(url)`` builds a sync SQLAlchemy Core engine; on SQLite it makes the
   parent directory, turns on WAL and synchronous=NORMAL, and makes every transaction a
   real ``BEGIN IMMEDIATE`` (sqlite3's legacy mode would skip BEGIN for SELECT and DDL),
   so two processes (server and CLI) serialise on SQLite's lock and wait up to
   sqlite3's 5 s busy timeout. ``describe(url)`` names the database in every error.
2. ``RecordsEngine.transaction()`` runs one short transaction under the instance's lock;
   ``insert_sync`` and ``finish_running_sync`` are the two writes the row modules
   (checkpoint_records.py, run_records.py, upgrade_records.py) share.
3. Any SQLAlchemy or driver error leaves as ``CheckpointError`` naming the database (the
   SQLite path, or the URL without its password); ``damaged(error)`` tells when it says
   the SQLite file itself is damaged (``RecordsDamaged``).
4. From the event loop, ``await records.call(records.x_sync, ...)`` runs any ``*_sync``
   method in a worker thread, so the loop never waits for a disk write.

Why a sync engine in a thread, not aiosqlite: 0.62 ms per insert through aiosqlite, and
only 36 vs 51 ms of loop stall on a 50k-row write.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from moo.errors import CheckpointError

P = ParamSpec("P")
T = TypeVar("T")

RECORDS_FILE = "moo.sqlite"  # in the data directory, unless persist.records_url says otherwise
RECORDS_FILES = (RECORDS_FILE, RECORDS_FILE + "-wal", RECORDS_FILE + "-shm")  # with WAL's


# sqlite3 error codes that mean the file itself is damaged (not busy, not full, not ours)
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


class RecordsDamaged(CheckpointError):
    """The records database file is damaged (not a database, or fails its integrity
    check). Store.open then moves it aside and starts a new one."""


def damaged(error: BaseException) -> bool:
    """Whether a driver error says the SQLite file itself is damaged."""
    cause = error.orig if isinstance(error, sa.exc.DBAPIError) else error
    code = getattr(cause, "sqlite_errorcode", None)
    return isinstance(cause, sqlite3.DatabaseError) and code in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


def default_url(data_dir: Path) -> str:
    """The records database of ``data_dir`` when no ``persist.records_url`` is set."""
    return f"sqlite:///{data_dir / RECORDS_FILE}"


def describe(url: sa.URL) -> str:
    """The database as a person would name it: the SQLite path, else the URL without password."""
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


def make_engine(url: sa.URL) -> Engine:
    """A sync engine; on SQLite: parent directory made, WAL, synchronous=NORMAL, real BEGIN.

    Raises OSError if the directory cannot be made, ImportError if the driver is missing.
    """
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url)
    if url.database in (None, "", ":memory:"):
        # One shared connection, or every worker thread would see its own empty database.
        engine = sa.create_engine(
            url, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        if not url.query.get("uri"):
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _reason(error: Exception) -> str:
    """The driver's own words when there are some, without SQLAlchemy's background link."""
    if isinstance(error, sa.exc.DBAPIError) and error.orig is not None:
        return f"{type(error.orig).__name__}: {error.orig}"
    return str(error)


class RecordsEngine:
    """One records database's engine, its lock and its transactions: the layer under
    ``Records`` (records.py). Thread-safe."""

    def __init__(self, engine: Engine, where: str) -> None:
        self._engine = engine
        self._where = where
        self._lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        """Release every pooled connection. Later calls raise CheckpointError. Idempotent."""
        with self._lock:
            self._closed = True
            self._engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction, committed on success, rolled back on any error.

        Yields the connection. Raises CheckpointError for database and driver errors (and
        when closed). Atomic. Holds the lock that serialises every method of this Records,
        so keep the body to a few statements. For modules that keep their own operations
        on tables of this database (upgrade_records.py).
        """
        with self._lock:
            if self._closed:
                raise CheckpointError(f"records database {self._where} is closed")
            try:
                with self._engine.begin() as conn:
                    yield conn
            except (SQLAlchemyError, sqlite3.Error) as error:
                raise CheckpointError(
                    f"records database {self._where}: {_reason(error)}"
                ) from error

    def insert_sync(self, stmt: sa.Insert) -> int:
        """Run one INSERT of a single row; returns the new row's id.

        Raises CheckpointError if the database fails. Atomic (one INSERT).
        """
        with self.transaction() as conn:
            key = conn.execute(stmt).inserted_primary_key
        assert key is not None
        return int(key[0])

    def finish_running_sync(
        self,
        table: sa.Table,
        state: sa.Column[Any],
        row_id: int,
        what: str,
        values: dict[str, Any],
        *,
        with_duration: bool = False,
    ) -> None:
        """Set ``values`` on row ``row_id`` of ``table`` if its ``state`` is still 'running'
        (``with_duration``: also ``duration`` = ``values["finished"]`` - the row's started).

        The one way a running checkpoint or upgrade (upgrade_records.py) is finished.
        Returns None. Raises CheckpointError naming ``what`` (``"checkpoint record"``) if
        the id is unknown or the row is no longer running, or if the database fails.
        Atomic (one transaction: the started time is read, the row updated, and a miss
        explained, in it).
        """
        running = sa.and_(table.c.id == row_id, state == "running")
        with self.transaction() as conn:
            if with_duration:
                started = conn.execute(sa.select(table.c.started).where(running)).scalar()
                if started is not None:
                    values = {**values, "duration": values["finished"] - started}
            stmt = sa.update(table).where(running).values(values)
            if conn.execute(stmt).rowcount == 1:
                return
            found = conn.execute(sa.select(state).where(table.c.id == row_id)).scalar_one_or_none()
        if found is None:
            raise CheckpointError(f"no {what} {row_id} to finish")
        raise CheckpointError(f"{what} {row_id} is already {found}")

    # -- off the event loop --------------------------------------------------------------

    async def call(self, method: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a ``*_sync`` method (Records' or UpgradeLog's) in a worker thread, never
        blocking the loop: ``await records.call(records.begin_checkpoint_sync, ...)``."""
        return await asyncio.to_thread(method, *args, **kwargs)

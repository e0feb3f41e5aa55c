"""Hot-upgrade records on real SQLite files: round trips, refusals, the version 1 -> 2 step."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from moo.errors import CheckpointError
from moo.persist.records import SCHEMA_VERSION, Records
from moo.persist.upgrade_records import UpgradeLog, UpgradeRecord
from tests.postgres_server import PostgresServer
from tests.unit.sqlite_helpers import raw, url

COMMAND = ["/opt/moo/.venv/bin/moo", "serve", "--config", "/etc/moo/config.yaml"]


@pytest.fixture
def log(records: Records) -> UpgradeLog:
    return UpgradeLog(records)


def sql(records: Records, text: str) -> list[tuple[object, ...]]:
    """Run SQL through the records' own engine (SQLite or PostgreSQL), outside their API."""
    with records._engine.begin() as conn:
        result = conn.exec_driver_sql(text)
        return [tuple(row) for row in result] if result.returns_rows else []


def begin(log: UpgradeLog, started: float = 100.0, by: str | None = "wizard") -> int:
    return log.begin_sync(
        started=started,
        requested_by=by,
        command=COMMAND,
        from_version="0.1.0",
        from_pid=41,
        command_before=["moo-old"],
    )


# -- round trips ----------------------------------------------------------------------


def test_begin_records_a_running_upgrade(records: Records, log: UpgradeLog) -> None:
    upgrade_id = begin(log)
    assert log.recent_sync() == [
        UpgradeRecord(
            id=upgrade_id,
            started=100.0,
            finished=None,
            requested_by="wizard",
            command=COMMAND,
            command_before=["moo-old"],
            from_version="0.1.0",
            from_pid=41,
            to_version=None,
            to_pid=None,
            level=None,
            outcome="running",
            freeze_ms=None,
            sessions=None,
            error=None,
        )
    ]
    # Stored as JSON text, readable by anyone with sqlite3 or psql.
    assert sql(records, "SELECT command FROM upgrades") == [
        ('["/opt/moo/.venv/bin/moo", "serve", "--config", "/etc/moo/config.yaml"]',)
    ]


def test_finish_ok_stores_every_figure(log: UpgradeLog) -> None:
    upgrade_id = begin(log)
    log.finish_sync(
        upgrade_id,
        finished=103.5,
        outcome="ok",
        level=1,
        freeze_ms=42.5,
        sessions=17,
        to_version="0.2.0",
        to_pid=42,
    )
    [record] = log.recent_sync()
    assert (record.finished, record.outcome, record.level) == (103.5, "ok", 1)
    assert (record.freeze_ms, record.sessions) == (42.5, 17)
    assert (record.to_version, record.to_pid, record.error) == ("0.2.0", 42, None)
    assert record.command == COMMAND


def test_finish_failed_stores_the_error(log: UpgradeLog) -> None:
    upgrade_id = begin(log)
    log.finish_sync(upgrade_id, finished=101.0, outcome="failed", level=3, error="no hello")
    [record] = log.recent_sync()
    assert (record.outcome, record.level, record.error) == ("failed", 3, "no hello")
    assert record.to_pid is None


def test_finish_unknown_id_is_refused(log: UpgradeLog) -> None:
    with pytest.raises(CheckpointError, match="no upgrade record 99 to finish"):
        log.finish_sync(99, finished=1.0, outcome="ok")


@pytest.mark.parametrize("outcome", ["running", "done", ""])
def test_finish_with_a_bad_outcome_is_refused(log: UpgradeLog, outcome: str) -> None:
    upgrade_id = begin(log)
    with pytest.raises(CheckpointError, match="finishes 'ok' or 'failed'"):
        log.finish_sync(upgrade_id, finished=1.0, outcome=outcome)
    assert log.recent_sync()[0].outcome == "running"


def test_finish_with_a_bad_level_is_refused(log: UpgradeLog) -> None:
    upgrade_id = begin(log)
    with pytest.raises(CheckpointError, match="level is 1, 2 or 3"):
        log.finish_sync(upgrade_id, finished=1.0, outcome="ok", level=4)


def test_finishing_twice_is_refused_and_keeps_the_first(log: UpgradeLog) -> None:
    upgrade_id = begin(log)
    log.finish_sync(upgrade_id, finished=2.0, outcome="ok", level=1)
    with pytest.raises(CheckpointError, match=f"upgrade record {upgrade_id} is already ok"):
        log.finish_sync(upgrade_id, finished=3.0, outcome="failed", error="late")
    [record] = log.recent_sync()
    assert (record.finished, record.outcome, record.error) == (2.0, "ok", None)


def test_recent_is_newest_first_and_limited(log: UpgradeLog) -> None:
    ids = [begin(log, started=float(n)) for n in range(5)]
    assert [record.id for record in log.recent_sync(limit=3)] == ids[::-1][:3]
    assert [record.id for record in log.recent_sync()] == ids[::-1]


def test_recent_on_an_empty_table_is_empty(log: UpgradeLog) -> None:
    assert log.recent_sync() == []


def test_last_ok_is_the_newest_ok_one(log: UpgradeLog) -> None:
    assert log.last_ok_sync() is None
    first, second, third = (begin(log, started=float(n)) for n in range(3))
    log.finish_sync(first, finished=10.0, outcome="ok", to_version="0.2.0")
    log.finish_sync(second, finished=20.0, outcome="ok", to_version="0.3.0")
    log.finish_sync(third, finished=30.0, outcome="failed", error="boom")
    last = log.last_ok_sync()
    assert last is not None
    assert (last.id, last.to_version) == (second, "0.3.0")


def test_fail_interrupted_fails_only_running_rows(log: UpgradeLog) -> None:
    done = begin(log)
    log.finish_sync(done, finished=5.0, outcome="ok")
    left = [begin(log), begin(log)]
    assert log.fail_interrupted_sync("server died mid-upgrade") == 2
    by_id = {record.id: record for record in log.recent_sync()}
    for upgrade_id in left:
        assert by_id[upgrade_id].outcome == "failed"
        assert by_id[upgrade_id].error == "server died mid-upgrade"
        assert by_id[upgrade_id].finished is None
    assert by_id[done].outcome == "ok"
    assert by_id[done].error is None
    assert log.fail_interrupted_sync("again") == 0


def test_a_stored_command_that_is_not_a_list_of_strings_is_an_error(
    records: Records, log: UpgradeLog
) -> None:
    upgrade_id = begin(log)
    sql(records, f"UPDATE upgrades SET command = '[1, 2]' WHERE id = {upgrade_id}")
    with pytest.raises(CheckpointError, match=f"upgrade record {upgrade_id}: command"):
        log.recent_sync()


def test_rows_survive_a_reopen(db_path: Path) -> None:
    first = Records.open(url(db_path))
    upgrade_id = begin(UpgradeLog(first))
    first.close()
    again = Records.open(url(db_path))
    try:
        assert [record.id for record in UpgradeLog(again).recent_sync()] == [upgrade_id]
    finally:
        again.close()


def test_closed_records_raise_checkpoint_error(records: Records, log: UpgradeLog) -> None:
    records.close()
    with pytest.raises(CheckpointError, match="is closed"):
        begin(log)


async def test_methods_run_through_records_call(records: Records, log: UpgradeLog) -> None:
    upgrade_id = await records.call(
        log.begin_sync,
        started=1.0,
        requested_by=None,
        command=["moo"],
        from_version=None,
        from_pid=None,
    )
    await records.call(log.finish_sync, upgrade_id, finished=2.0, outcome="ok", sessions=0)
    both = await asyncio.gather(records.call(log.last_ok_sync), records.call(log.recent_sync))
    assert both[0] is not None
    assert both[0].id == upgrade_id
    assert both[0].command == ["moo"]


# -- schema ---------------------------------------------------------------------------

# The version 1 schema exactly as the version 1 server created it (SQLAlchemy's DDL).
VERSION_1_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE checkpoints (
    id INTEGER NOT NULL, reason TEXT NOT NULL, requested_by TEXT, started FLOAT NOT NULL,
    finished FLOAT, duration FLOAT, bytes BIGINT, object_count INTEGER,
    journal_position BIGINT, world_digest TEXT, max_stall FLOAT, stalled_commands INTEGER,
    status TEXT NOT NULL, error TEXT, path TEXT, PRIMARY KEY (id)
);
CREATE INDEX ix_checkpoints_status ON checkpoints (status);
CREATE TABLE server_runs (
    id INTEGER NOT NULL, started FLOAT NOT NULL, stopped FLOAT, clean BOOLEAN,
    pid INTEGER NOT NULL, version TEXT NOT NULL, last_saved FLOAT, PRIMARY KEY (id)
);
INSERT INTO schema_version (version) VALUES (1);
INSERT INTO checkpoints (reason, requested_by, started, status) VALUES ('manual', 'ann', 5.0, 'ok');
INSERT INTO server_runs (started, pid, version) VALUES (4.0, 7, '0.1.0');
"""


def make_version_1(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    try:
        conn.executescript(VERSION_1_SCHEMA)
    finally:
        conn.close()


def columns(path: Path, table: str) -> list[tuple[object, ...]]:
    """(name, type, notnull, pk) of each column, in order."""
    return [(row[1], row[2], row[3], row[5]) for row in raw(path, f"PRAGMA table_info({table})")]


def test_schema_version_is_3() -> None:
    assert SCHEMA_VERSION == 3


def test_a_fresh_database_has_the_upgrades_table(db_path: Path, sqlite_records: Records) -> None:
    names = {row[0] for row in raw(db_path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert "upgrades" in names
    assert raw(db_path, "SELECT version FROM schema_version") == [(3,)]


def test_a_version_1_database_is_upgraded_and_keeps_its_rows(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    make_version_1(old)
    assert "upgrades" not in {row[0] for row in raw(old, "SELECT name FROM sqlite_master")}

    records = Records.open(url(old))
    try:
        assert raw(old, "SELECT version FROM schema_version") == [(3,)]
        checkpoint = records.last_ok_checkpoint_sync()
        assert checkpoint is not None
        assert (checkpoint.reason, checkpoint.requested_by) == ("manual", "ann")
        assert checkpoint.started == 5.0  # an epoch float, now a timestamp, read back
        previous = records.previous_run_sync(99)
        assert previous is not None
        assert (previous.pid, previous.version, previous.started) == (7, "0.1.0", 4.0)
        log = UpgradeLog(records)
        upgrade_id = begin(log)
        log.finish_sync(upgrade_id, finished=2.0, outcome="ok", level=2)
        assert log.last_ok_sync() is not None
    finally:
        records.close()

    fresh = tmp_path / "fresh.db"
    Records.open(url(fresh)).close()
    for table in ("checkpoints", "server_runs", "upgrades"):
        assert columns(old, table) == columns(fresh, table)
    # Opening again is a no-op: still version 3, rows still there.
    Records.open(url(old)).close()
    assert raw(old, "SELECT version FROM schema_version") == [(3,)]
    assert raw(old, "SELECT count(*) FROM upgrades") == [(1,)]


def test_a_version_4_database_is_refused(db_path: Path) -> None:
    Records.open(url(db_path)).close()
    raw(db_path, "UPDATE schema_version SET version = 4")
    with pytest.raises(CheckpointError, match="schema version 4, newer than this server"):
        Records.open(url(db_path))


def test_an_upgrades_table_without_a_version_row_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "stray.db"
    raw(path, "CREATE TABLE upgrades (id INTEGER PRIMARY KEY)")
    with pytest.raises(CheckpointError, match="has upgrades but no schema_version table"):
        Records.open(url(path))


def test_a_version_2_postgresql_database_gets_timestamptz_and_keeps_its_times(
    postgres: PostgresServer,
) -> None:
    """Version 2 stored epoch floats; version 3 turns the columns into timestamptz."""
    address = postgres.new_database()
    engine = sa.create_engine(address)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.exec_driver_sql("INSERT INTO schema_version VALUES (2)")
        conn.exec_driver_sql(
            "CREATE TABLE checkpoints (id SERIAL PRIMARY KEY, reason TEXT NOT NULL, "
            "requested_by TEXT, started DOUBLE PRECISION NOT NULL, finished DOUBLE PRECISION, "
            "duration DOUBLE PRECISION, bytes BIGINT, object_count INTEGER, "
            "journal_position BIGINT, world_digest TEXT, max_stall DOUBLE PRECISION, "
            "stalled_commands INTEGER, status TEXT NOT NULL, error TEXT, path TEXT)"
        )
        conn.exec_driver_sql(
            "CREATE TABLE server_runs (id SERIAL PRIMARY KEY, started DOUBLE PRECISION NOT NULL, "
            "stopped DOUBLE PRECISION, clean BOOLEAN, pid INTEGER NOT NULL, version TEXT NOT NULL, "
            "last_saved DOUBLE PRECISION)"
        )
        conn.exec_driver_sql(
            "CREATE TABLE upgrades (id SERIAL PRIMARY KEY, started DOUBLE PRECISION NOT NULL, "
            "finished DOUBLE PRECISION, requested_by TEXT, command TEXT, command_before TEXT, "
            "from_version TEXT, from_pid INTEGER, to_version TEXT, to_pid INTEGER, "
            "level INTEGER, outcome TEXT NOT NULL, freeze_ms DOUBLE PRECISION, "
            "sessions INTEGER, error TEXT)"
        )
        conn.exec_driver_sql(
            "INSERT INTO checkpoints (reason, started, finished, status) "
            "VALUES ('manual', 1765000000.25, 1765000002.5, 'ok')"
        )
    records = Records.open(address)
    try:
        checkpoint = records.last_ok_checkpoint_sync()
        assert checkpoint is not None
        assert (checkpoint.started, checkpoint.finished) == (1765000000.25, 1765000002.5)
    finally:
        records.close()
    with engine.connect() as conn:
        kinds: dict[str, str] = dict(
            conn.exec_driver_sql(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'checkpoints'"
            ).all()
        )
    engine.dispose()
    assert kinds["started"] == kinds["finished"] == "timestamp with time zone"
    assert kinds["duration"] == "double precision"

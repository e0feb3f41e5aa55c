"""Checkpoint and server-run records on real SQLite files: schema, round trips, async, damage."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from moo.errors import CheckpointError
from moo.persist import records as records_module
from moo.persist.records import SCHEMA_VERSION, Records
from tests.unit.sqlite_helpers import raw, url

# -- schema ---------------------------------------------------------------------------


def test_open_creates_directory_schema_and_version_row(
    db_path: Path, sqlite_records: Records
) -> None:
    assert db_path.is_file()
    tables = {row[0] for row in raw(db_path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"schema_version", "checkpoints", "server_runs"} <= tables
    assert raw(db_path, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


def test_reopen_keeps_rows_and_version(db_path: Path) -> None:
    first = Records.open(url(db_path))
    checkpoint_id = first.begin_checkpoint_sync("initial", "server", 10.0)
    run_id = first.begin_run_sync(started=9.0, pid=42, version="0.1.0")
    first.close()
    again = Records.open(url(db_path))
    try:
        record = again.checkpoint_sync(checkpoint_id)
        assert record is not None
        assert record.reason == "initial"
        assert again.previous_run_sync(run_id + 1) is not None
    finally:
        again.close()
    assert raw(db_path, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


def test_newer_schema_version_is_refused(db_path: Path) -> None:
    Records.open(url(db_path)).close()
    raw(db_path, f"UPDATE schema_version SET version = {SCHEMA_VERSION + 1}")
    with pytest.raises(CheckpointError, match="newer than this server knows") as caught:
        Records.open(url(db_path))
    assert str(db_path) in str(caught.value)


def test_version_without_a_known_upgrade_is_refused(db_path: Path) -> None:
    Records.open(url(db_path)).close()
    raw(db_path, "UPDATE schema_version SET version = 0")
    with pytest.raises(CheckpointError, match="no upgrade from schema version 0"):
        Records.open(url(db_path))


def test_upgrade_loop_runs_each_step_and_stores_the_new_version(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Records.open(url(db_path)).close()

    def add_note(conn: Connection) -> None:
        conn.execute(sa.text("ALTER TABLE server_runs ADD COLUMN note TEXT"))

    monkeypatch.setattr(records_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(records_module, "_UPGRADES", {SCHEMA_VERSION: add_note})
    Records.open(url(db_path)).close()
    assert raw(db_path, "SELECT version FROM schema_version") == [(SCHEMA_VERSION + 1,)]
    assert "note" in {row[1] for row in raw(db_path, "PRAGMA table_info(server_runs)")}


def test_our_tables_without_a_version_row_are_refused(db_path: Path) -> None:
    Records.open(url(db_path)).close()
    raw(db_path, "DROP TABLE schema_version")
    with pytest.raises(CheckpointError, match="no schema_version table"):
        Records.open(url(db_path))


def test_wal_mode_and_synchronous_normal_are_on(db_path: Path, sqlite_records: Records) -> None:
    assert raw(db_path, "PRAGMA journal_mode") == [("wal",)]
    with sqlite_records._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_corrupt_file_raises_checkpoint_error_naming_the_path(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not a database\x00\xff" * 200)
    with pytest.raises(CheckpointError) as caught:
        Records.open(url(db_path))
    assert str(db_path) in str(caught.value)
    assert "not a database" in str(caught.value)
    assert not isinstance(caught.value, sa.exc.SQLAlchemyError)


def test_damage_is_told_apart_from_other_failures(db_path: Path) -> None:
    """RecordsDamaged (Store.open moves such a file aside) for a file that is not a
    database or fails quick_check; a plain CheckpointError for a newer schema."""
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"garbage" * 1000)
    with pytest.raises(records_module.RecordsDamaged, match="not a database"):
        Records.open(url(db_path))
    db_path.unlink()
    opened = Records.open(url(db_path))
    for index in range(200):
        opened.begin_checkpoint_sync("manual", "x" * 500, float(index))
    opened.close()
    data = bytearray(db_path.read_bytes())
    for page in range(2, len(data) // 4096):  # every b-tree page's header: type byte
        data[page * 4096] = 0x77
    db_path.write_bytes(bytes(data))
    with pytest.raises(records_module.RecordsDamaged):
        Records.open(url(db_path))
    db_path.unlink()
    Records.open(url(db_path)).close()
    raw(db_path, f"UPDATE schema_version SET version = {SCHEMA_VERSION + 1}")
    with pytest.raises(CheckpointError) as caught:
        Records.open(url(db_path))
    assert not isinstance(caught.value, records_module.RecordsDamaged)


def test_a_checkpoint_recorded_whole_afterwards(records: Records) -> None:
    """add_checkpoint_sync: the row a checkpoint gets when its begin was refused."""
    first = records.add_checkpoint_sync(
        "manual", "Wizard", 10.0, finished=12.5, status="ok", bytes=99, path="/x.mck"
    )
    record = records.checkpoint_sync(first)
    assert record is not None
    assert (record.status, record.duration, record.bytes, record.requested_by) == (
        "ok",
        2.5,
        99,
        "Wizard",
    )
    with pytest.raises(ValueError, match="finishes"):
        records.add_checkpoint_sync("manual", None, 1.0, finished=2.0, status="running")
    with pytest.raises(TypeError):
        records.add_checkpoint_sync("manual", None, 1.0, finished=2.0, status="ok", size=3)


def test_bad_url_raises_checkpoint_error() -> None:
    with pytest.raises(CheckpointError, match="URL is not valid"):
        Records.open("not a url")


def test_closed_records_refuse_calls(records: Records) -> None:
    records.close()
    with pytest.raises(CheckpointError, match="closed"):
        records.recent_checkpoints_sync()


# -- checkpoints ----------------------------------------------------------------------


def test_begin_then_finish_round_trip_with_duration(records: Records) -> None:
    checkpoint_id = records.begin_checkpoint_sync("manual", "Alice", 1000.25)
    running = records.checkpoint_sync(checkpoint_id)
    assert running is not None
    assert (running.status, running.finished, running.duration) == ("running", None, None)
    records.finish_checkpoint_sync(
        checkpoint_id,
        finished=1002.75,
        status="ok",
        bytes=3 * 2**31,  # past a 32-bit column
        object_count=120,
        journal_position=5000,
        world_digest="ab" * 32,
        max_stall=0.012,
        stalled_commands=3,
        path="/data/checkpoints/000001.mpk",
    )
    assert records.checkpoint_sync(checkpoint_id) == records_module.CheckpointRecord(
        id=checkpoint_id,
        reason="manual",
        requested_by="Alice",
        started=1000.25,
        finished=1002.75,
        duration=2.5,
        bytes=3 * 2**31,
        object_count=120,
        journal_position=5000,
        world_digest="ab" * 32,
        max_stall=0.012,
        stalled_commands=3,
        status="ok",
        error=None,
        path="/data/checkpoints/000001.mpk",
    )


def test_failed_checkpoint_keeps_its_error(records: Records) -> None:
    checkpoint_id = records.begin_checkpoint_sync("scheduled", None, 50.0)
    records.finish_checkpoint_sync(
        checkpoint_id, finished=51.0, status="failed", error="No space left on device"
    )
    record = records.checkpoint_sync(checkpoint_id)
    assert record is not None
    assert (record.status, record.error, record.duration) == (
        "failed",
        "No space left on device",
        1.0,
    )


def test_finish_refuses_unknown_finished_and_bad_status(records: Records) -> None:
    checkpoint_id = records.begin_checkpoint_sync("manual", "Alice", 1.0)
    with pytest.raises(ValueError, match="'running'"):
        records.finish_checkpoint_sync(checkpoint_id, finished=2.0, status="running")
    records.finish_checkpoint_sync(checkpoint_id, finished=2.0, status="ok")
    with pytest.raises(CheckpointError, match="already ok"):
        records.finish_checkpoint_sync(checkpoint_id, finished=3.0, status="failed")
    with pytest.raises(CheckpointError, match="no checkpoint record 999"):
        records.finish_checkpoint_sync(999, finished=3.0, status="ok")
    with pytest.raises(ValueError, match="unknown checkpoint reason"):
        records.begin_checkpoint_sync("whim", None, 1.0)


def test_recent_checkpoints_newest_first_and_limited(records: Records) -> None:
    ids = [records.begin_checkpoint_sync("scheduled", None, float(i)) for i in range(5)]
    assert [r.id for r in records.recent_checkpoints_sync(3)] == ids[::-1][:3]
    assert [r.id for r in records.recent_checkpoints_sync()] == ids[::-1]


def test_last_ok_checkpoint_skips_failed_and_running(records: Records) -> None:
    assert records.last_ok_checkpoint_sync() is None
    good = records.begin_checkpoint_sync("scheduled", None, 1.0)
    records.finish_checkpoint_sync(good, finished=2.0, status="ok")
    bad = records.begin_checkpoint_sync("scheduled", None, 3.0)
    records.finish_checkpoint_sync(bad, finished=4.0, status="failed", error="disk")
    records.begin_checkpoint_sync("manual", "Alice", 5.0)
    last = records.last_ok_checkpoint_sync()
    assert last is not None
    assert last.id == good


def test_delete_checkpoint(records: Records) -> None:
    checkpoint_id = records.begin_checkpoint_sync("manual", None, 1.0)
    records.delete_checkpoint_sync(checkpoint_id)
    assert records.checkpoint_sync(checkpoint_id) is None
    records.delete_checkpoint_sync(checkpoint_id)  # already gone: not an error


def test_fail_interrupted_checkpoints_marks_only_running(records: Records) -> None:
    done = records.begin_checkpoint_sync("scheduled", None, 1.0)
    records.finish_checkpoint_sync(done, finished=2.0, status="ok")
    stuck = [records.begin_checkpoint_sync("scheduled", None, 3.0) for _ in range(2)]
    assert records.fail_interrupted_checkpoints_sync("server died during checkpoint") == 2
    for checkpoint_id in stuck:
        record = records.checkpoint_sync(checkpoint_id)
        assert record is not None
        assert (record.status, record.error) == ("failed", "server died during checkpoint")
    done_record = records.checkpoint_sync(done)
    assert done_record is not None
    assert done_record.status == "ok"
    assert records.fail_interrupted_checkpoints_sync("again") == 0


# -- server runs ----------------------------------------------------------------------


def test_run_begin_note_saved_end(records: Records) -> None:
    first = records.begin_run_sync(started=100.0, pid=11, version="0.1.0")
    records.note_saved_sync(first, 150.0)
    records.end_run_sync(first, stopped=200.0, clean=True)
    second = records.begin_run_sync(started=300.0, pid=12, version="0.2.0")
    assert records.previous_run_sync(second) == records_module.ServerRun(
        id=first,
        started=100.0,
        stopped=200.0,
        clean=True,
        pid=11,
        version="0.1.0",
        last_saved=150.0,
    )
    assert records.previous_run_sync(first) is None
    with pytest.raises(CheckpointError, match="no server run record 999"):
        records.end_run_sync(999, stopped=1.0, clean=True)


def test_mark_abandoned_runs_reports_each_unclean_run_once(records: Records) -> None:
    crashed = records.begin_run_sync(started=1.0, pid=1, version="0.1.0")
    stopped = records.begin_run_sync(started=2.0, pid=2, version="0.1.0")
    records.end_run_sync(stopped, stopped=3.0, clean=True)
    crashed_too = records.begin_run_sync(started=4.0, pid=3, version="0.1.0")
    current = records.begin_run_sync(started=5.0, pid=4, version="0.1.0")

    abandoned = records.mark_abandoned_runs_sync(current)
    assert [run.id for run in abandoned] == [crashed, crashed_too]
    assert all(run.clean is False and run.stopped is None for run in abandoned)
    assert abandoned[0].started == 1.0
    assert isinstance(abandoned[0].started, float)
    assert records.mark_abandoned_runs_sync(current) == []
    previous = records.previous_run_sync(current)
    assert previous is not None
    assert (previous.id, previous.clean, previous.stopped) == (crashed_too, False, None)
    current_run = records.previous_run_sync(current + 1)
    assert current_run is not None
    assert current_run.clean is None  # the current run is never touched


# -- async ----------------------------------------------------------------------------


async def test_async_wrappers_round_trip(records: Records) -> None:
    run_id = await records.call(records.begin_run_sync, started=1.0, pid=7, version="0.1.0")
    checkpoint_id = await records.call(records.begin_checkpoint_sync, "shutdown", "server", 10.0)
    await records.call(
        records.finish_checkpoint_sync, checkpoint_id, finished=12.0, status="ok", bytes=99
    )
    await records.call(records.note_saved_sync, run_id, 12.0)
    await records.call(records.end_run_sync, run_id, stopped=13.0, clean=True)
    [record] = await records.call(records.recent_checkpoints_sync, 5)
    assert (record.id, record.duration, record.bytes) == (checkpoint_id, 2.0, 99)
    run = records.previous_run_sync(run_id + 1)
    assert run is not None
    assert (run.last_saved, run.stopped, run.clean) == (12.0, 13.0, True)


async def test_async_writes_do_not_block_the_event_loop(records: Records) -> None:
    ticks = 0
    running = True

    async def ticker() -> None:
        nonlocal ticks
        while running:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    for i in range(200):
        checkpoint_id = await records.call(
            records.begin_checkpoint_sync, "scheduled", None, float(i)
        )
        await records.call(
            records.finish_checkpoint_sync, checkpoint_id, finished=i + 0.5, status="ok"
        )
    during = ticks - before
    running = False
    await task
    # The loop ran the ticker at least once while each of the 400 calls was in its thread.
    assert during >= 400
    assert len(await records.call(records.recent_checkpoints_sync, 1000)) == 200


async def test_concurrent_async_writes_all_land(records: Records) -> None:
    ids = await asyncio.gather(
        *(
            records.call(records.begin_checkpoint_sync, "manual", f"p{i}", float(i))
            for i in range(50)
        )
    )
    assert len(set(ids)) == 50
    assert len(await records.call(records.recent_checkpoints_sync, 100)) == 50

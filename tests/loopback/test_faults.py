"""Faults a campaign found, each on the real server (``python -m moo serve``) and its files.

1. A full disk during a checkpoint: the records database refuses its writes and the
   checkpoint file does not fit. The failure is announced to players, told to whoever
   asked and to the wizards, shown by @status-checkpoint, retried after the failed
   interval; the rows are written once the database takes writes again.
2. A records database that cannot be written never stops a checkpoint that fits.
3. The newest journal segment deleted after a crash: the start is refused, naming it;
   --force-recover starts and says what is missing.
4. A damaged records database: the server starts, moves it aside, warns the log and the
   wizards at login, and records from scratch; the world is intact.
5. A full journal: changes refused and wizards told; once the space returns a checkpoint
   is written, a new journal starts, and changes are taken again (and survive kill -9).

A full disk is RLIMIT_FSIZE (``ServerProcess.file_size_limit``: writes past it fail with
EFBIG, as they would with ENOSPC). SQLite appends to its write-ahead log from the start
again once it has been copied back; to make the records write land past the limit, the
test pins the log (a read transaction held by another connection, after ~1 MB of filler
was committed), which is what any long reader does. Releasing the pin and truncating the
log is the disk getting space back.
"""

from __future__ import annotations

import asyncio
import re
import resource
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from moo.persist import journal_format as jf
from moo.persist import snapshot
from moo.persist.recovery import list_checkpoints
from tests.loopback.conftest import MARK, send_together
from tests.loopback.test_durability import (
    BULK_ALIASES,
    digest_of,
    kill9,
    log_of,
    records_of,
    server_config,
    wizard_on,
)
from tests.server_process import ServerProcess

LIMIT = 256 * 1024
WHEN = r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} UTC"
FAILED = re.compile(
    rf"^\[Checkpointer\]  The checkpoint started at {WHEN} FAILED: (?P<error>.+)\."
    rf"  The next try is at (?P<retry>{WHEN})\.$"
)


def regular_on() -> dict[str, object]:
    """server_config, but with the regular (hourly) checkpoint on: retries are scheduled."""
    config = server_config(fsync="everysec")
    persist = config["persist"]
    assert isinstance(persist, dict)
    persist.pop("checkpoint_interval_seconds")
    return config


@contextmanager
def records_pinned(data: Path) -> Iterator[None]:
    """~1 MB committed to the records' write-ahead log, held there by an open read: every
    write the server makes meanwhile lands past LIMIT. On exit the log is copied back
    and truncated (space returns)."""
    path = data / "moo.sqlite"
    writer = sqlite3.connect(path, isolation_level=None)
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("CREATE TABLE IF NOT EXISTS test_filler (b BLOB)")
        writer.execute("INSERT INTO test_filler VALUES (zeroblob(1048576))")
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM test_filler").fetchall()
        assert (data / "moo.sqlite-wal").stat().st_size > 2 * LIMIT
        yield
    finally:
        reader.execute("COMMIT")
        reader.close()
        writer.execute("DROP TABLE IF EXISTS test_filler")
        for _attempt in range(50):
            busy = writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if not busy:
                break
            time.sleep(0.1)
        writer.close()


def full_disk_config() -> dict[str, object]:
    return server_config(fsync="everysec", resume_interval_seconds=0.3)


async def full_disk_server(data: Path) -> ServerProcess:
    """A server on a world whose checkpoint (~400 KB) cannot fit under its file size limit
    (``LIMIT``, raisable later: the hard limit is left open, so space can "return"); the
    journal retries a failed write every 0.3 s."""
    await build_bulk(data, 120)
    return ServerProcess(
        data,
        extra_config=full_disk_config(),
        ssh=False,
        file_size_limit=LIMIT,
        file_size_hard_limit=resource.RLIM_INFINITY,
    ).start()


async def build_bulk(data: Path, count: int) -> None:
    """A world whose checkpoint is ~3 KB x ``count`` bigger, saved by a clean stop."""
    first = ServerProcess(data, extra_config=regular_on(), ssh=False).start()
    try:
        async with wizard_on(first) as wiz:
            await send_together(
                wiz, [f"@create $thing named bulk{i},{BULK_ALIASES}" for i in range(count)]
            )
    finally:
        assert first.stop() == 0


# ------------------------------------------------------- 1. a full disk, announced


async def test_a_checkpoint_failed_by_a_full_disk_is_announced_shown_and_retried(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    await build_bulk(data, 120)  # ~360 KB: the checkpoint cannot fit under LIMIT
    kept = [path for _, path in list_checkpoints(data / "checkpoints")]
    assert kept[-1].stat().st_size > LIMIT
    server = ServerProcess(data, extra_config=regular_on(), ssh=False, file_size_limit=LIMIT)
    server.start()
    try:
        async with wizard_on(server) as wiz:
            await wiz.command("@checkpoint failed-interval 7 minutes", MARK)
            with records_pinned(data):
                assert await wiz.command("@checkpoint now", MARK) == ["Checkpoint started."]
                alarm = await wiz.expect("*** Server alarm: ", 20)
                assert "records database cannot be written" in alarm, alarm
                announced = FAILED.match(await wiz.expect(FAILED, 20))
                assert announced is not None
                assert "File too large" in announced["error"], announced.string
                told = await wiz.expect("Checkpoint FAILED: ", 10)
                assert "File too large" in told
                status = await wiz.command("@status-checkpoint", MARK)
                assert status[0].endswith(": a retry after a failed checkpoint."), status
                assert re.search(r"in (6 minutes|7 minutes)", status[0]), status
                failed = [line for line in status if line.startswith("Last attempt: FAILED")]
                assert failed and "File too large" in failed[0], status
                listed = await wiz.command("@list-checkpoints 1", MARK)
                assert "FAILED: " in listed[1] and "File too large" in listed[1], listed
            # Space is back for the records (not for the checkpoint): both rows land.
            assert await wiz.command("@checkpoint now", MARK) == ["Checkpoint started."]
            await wiz.expect(FAILED, 20)
            await wiz.expect("Checkpoint FAILED: ", 10)
            assert server.running
    finally:
        assert server.stop() == 0
    with records_of(data) as records:
        newest = records.recent_checkpoints_sync(3)
    assert [(r.status, r.reason, r.requested_by) for r in newest[:2]] == [
        ("failed", "shutdown", "server"),
        ("failed", "manual", "Wizard"),
    ] or [(r.status, r.reason) for r in newest[:3]] == [
        ("failed", "shutdown"),
        ("failed", "manual"),
        ("failed", "manual"),
    ], newest
    manual = [r for r in newest if r.reason == "manual"]
    assert len(manual) == 2, newest
    assert all(r.error and "File too large" in r.error for r in manual), manual
    assert all(r.finished is not None and r.duration is not None for r in manual), manual
    assert [path for _, path in list_checkpoints(data / "checkpoints")] == kept
    assert snapshot.verify(kept[-1])


# ------------------------------------------- 2. records down, the checkpoint still runs


async def test_records_that_cannot_be_written_do_not_stop_a_checkpoint(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data, extra_config=regular_on(), ssh=False, file_size_limit=LIMIT)
    server.start()
    try:
        async with wizard_on(server) as wiz:
            await wiz.command("@create $thing named keepsake", MARK)
            saved = await digest_of(wiz)
            before = len(list_checkpoints(data / "checkpoints"))
            with records_pinned(data):
                assert await wiz.command("@checkpoint now", MARK) == ["Checkpoint started."]
                await wiz.expect("[Checkpointer]  Finished at ", 20)
                assert (await wiz.expect("Checkpoint ", 10)).startswith("Checkpoint done: ")
                written = list_checkpoints(data / "checkpoints")
                assert len(written) == before + 1
                assert snapshot.verify(written[-1][1]).digest == saved
                status = await wiz.command("@status-checkpoint", MARK)
                assert re.match(r"Last saved: .* reason: manual\)\.$", status[1]), status
                assert "a retry" not in status[0], status
            assert await wiz.command("@checkpoint now", MARK) == ["Checkpoint started."]
            assert (await wiz.expect("Checkpoint ", 20)).startswith("Checkpoint done: ")
    finally:
        assert server.stop() == 0
    with records_of(data) as records:
        newest = records.recent_checkpoints_sync(3)
    assert [(r.status, r.reason) for r in newest] == [
        ("ok", "shutdown"),
        ("ok", "manual"),
        ("ok", "manual"),
    ], newest
    assert newest[2].path == str(written[-1][1]) and newest[2].world_digest == saved


# --------------------------------------------------- 3. the newest segment, deleted


async def test_a_deleted_newest_journal_segment_refuses_the_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = server_config(fsync="everysec")
    first = ServerProcess(data, extra_config=config, ssh=False).start()
    try:
        async with wizard_on(first) as wiz:
            for name in ("early0", "early1"):
                await wiz.command(f"@create $thing named {name}", MARK)
            assert (await wiz.command("@checkpoint now", MARK)) == ["Checkpoint started."]
            await wiz.expect("Checkpoint done: ", 20)
            for name in ("late0", "late1", "late2"):
                await wiz.command(f"@create $thing named {name}", MARK)
    finally:
        kill9(first)
    newest = jf.list_segments(data / "journal")[-1][1]
    assert newest.stat().st_size > 0
    newest.unlink()

    refused = ServerProcess(data, extra_config=config, ssh=False)
    try:
        refused.start()
        raise AssertionError("the server started without its newest journal segment")
    except RuntimeError as error:
        assert f"{newest.name} is missing" in str(error), error
        assert "--force-recover" in str(error)
    assert refused.process is not None and refused.process.returncode != 0

    forced = ServerProcess(data, extra_config=config, ssh=False, flags=("--force-recover",))
    forced.start()
    try:
        async with wizard_on(forced) as wiz:
            assert (await wiz.command("look early1", MARK))[0] == "early1"
            assert (await wiz.command("look late0", MARK))[0] != "late0"
    finally:
        assert forced.stop() == 0
    assert f"{newest.name} is missing; every change it held is lost" in log_of(forced)

    again = ServerProcess(data, extra_config=config, ssh=False).start()
    assert again.stop() == 0


# ----------------------------------------------- 4. a damaged records database


async def test_a_damaged_records_database_is_replaced_and_wizards_are_told(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    config = server_config(fsync="everysec")
    first = ServerProcess(data, extra_config=config, ssh=False).start()
    try:
        async with wizard_on(first) as wiz:
            await wiz.command("@create $thing named heirloom", MARK)
            saved = await digest_of(wiz)
    finally:
        assert first.stop() == 0
    records = data / "moo.sqlite"
    damaged = bytearray(records.read_bytes())
    damaged[:16] = b"garbage garbage!"
    records.write_bytes(bytes(damaged))

    second = ServerProcess(data, extra_config=config, ssh=False).start()
    try:
        async with wizard_on(second) as wiz:
            warning = await wiz.expect("*** Server warning: ", 5)
            assert "records database was damaged" in warning and "moo.sqlite.damaged-" in warning
            assert await digest_of(wiz) == saved
            assert await wiz.command("@checkpoint now", MARK) == ["Checkpoint started."]
            await wiz.expect("Checkpoint done: ", 20)
    finally:
        assert second.stop() == 0
    aside = [p for p in data.iterdir() if p.name.startswith("moo.sqlite.damaged-")]
    assert len(aside) == 1 and aside[0].read_bytes() == bytes(damaged)
    assert "records database was damaged" in log_of(second)
    with records_of(data) as fresh:
        assert [r.reason for r in fresh.recent_checkpoints_sync()] == ["shutdown", "manual"]


# --------------------------------------- 5. a full journal, then the space comes back


async def test_after_a_full_disk_the_world_takes_changes_again_once_space_returns(
    tmp_path: Path,
) -> None:
    """The journal's write fails (the disk is full): changes are refused and wizards told;
    the server keeps trying a checkpoint, which cannot fit while the disk is full; once the
    space returns it writes one, starts a new journal after it, says so, and takes changes
    again, which then survive a kill -9."""
    data = tmp_path / "data"
    server = await full_disk_server(data)
    try:
        async with wizard_on(server) as wiz:
            created = await wiz.command("@create $thing named gauge", MARK)
            oid = int(re.search(r"\(#(\d+)\)", created[0]).group(1))  # type: ignore[union-attr]
            acked = 0
            text = "x" * 3000
            for step in range(1, 400):
                reply = await wiz.command(f"@describe #{oid} as {step} {text}", MARK)
                if not reply[0].startswith("Description of gauge"):
                    assert any("Server alarm" in line for line in reply), reply
                    break
                acked = step
            assert acked > 0
            refused = await wiz.command(f"@describe #{oid} as refused", MARK)
            assert refused[0].startswith("The world cannot be saved right now"), refused
            await asyncio.sleep(1.0)  # a few tries, each a checkpoint too big to fit
            assert (await wiz.command(f"@describe #{oid} as still", MARK))[0].startswith(
                "The world cannot be saved right now"
            )
            writer = server.pid  # the world's process (behind a front, the engine)
            assert writer is not None
            unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
            resource.prlimit(writer, resource.RLIMIT_FSIZE, unlimited)
            await wiz.expect("the world is saved again", timeout=10)
            assert await wiz.command(f"@describe #{oid} as after {acked}", MARK) == [
                f"Description of gauge (#{oid}) set."
            ]
        kill9(server)
        again = ServerProcess(data, extra_config=full_disk_config(), ssh=False).start()
        try:
            async with wizard_on(again) as wiz:
                looked = await wiz.command(f"look #{oid}", MARK)
                assert looked[1] == f"after {acked}", looked[:2]
        finally:
            again.stop()
    finally:
        if server.running:
            server.stop()

"""Store.open tidies what a crash mid-checkpoint leaves behind, and keeps the data dir
owner-only (0700, files 0600) on every path, not only ``moo serve``'s."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from moo.config import Persist
from moo.persist.store import Store
from moo.world.loader import build_core_world


async def test_a_half_written_checkpoint_is_removed_at_open(tmp_path: Path) -> None:
    stray = tmp_path / "checkpoints" / "ckpt-00000002.mck.tmp"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"\0" * 4096)  # what a kill -9 during a checkpoint leaves
    store = Store.open(tmp_path, Persist(fsync="no"), build_core_world)
    try:
        assert not stray.exists()
        outcome = await store.checkpoint("manual", "test")
        assert outcome.ok
        assert sorted(p.name for p in stray.parent.iterdir()) == ["ckpt-00000001.mck"]
    finally:
        await store.close(final_reason=None)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_world_written_through_store_open_is_owner_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Not only ``moo serve`` (bench/world_builder.py opens a Store directly), and whatever
    the umask: the data dir 0700 (tightened, with a warning, when it was wider), every
    file 0600."""
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    old = os.umask(0o022)
    try:
        store = Store.open(data, Persist(fsync="no"), build_core_world)
        assert (await store.checkpoint("initial", "test")).ok
        store.world.create(store.world.sys("thing"), 2, "widget")
        await store.close()
    finally:
        os.umask(old)
    assert mode(data) == 0o700
    assert "0755" in caplog.text and str(data) in caplog.text
    found = sorted(data.rglob("*"))
    assert any(p.suffix == ".mck" for p in found) and any(p.suffix == ".journal" for p in found)
    assert any(p.name == "moo.sqlite" for p in found)
    wrong = {str(p.relative_to(data)): oct(mode(p)) for p in found if mode(p) & 0o077}
    assert not wrong, wrong


async def test_wider_files_in_an_existing_data_dir_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = Store.open(data, Persist(fsync="no"), build_core_world)
    assert (await store.checkpoint("initial", "test")).ok
    await store.close(final_reason=None)
    for path in [data, *data.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    store = Store.open(data, Persist(fsync="no"), build_core_world)
    await store.close(final_reason=None)
    wrong = {str(p): oct(mode(p)) for p in [data, *data.rglob("*")] if mode(p) & 0o077}
    assert not wrong, wrong


@pytest.mark.parametrize("wal", [False, True], ids=["alone", "with-wal-and-shm"])
async def test_a_damaged_records_database_is_moved_aside_and_made_anew(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, wal: bool
) -> None:
    """The world files are intact: start, keep the damaged file (and its -wal/-shm) aside,
    say so in the log and to wizards (``Store.warnings``), and record from scratch."""
    data = tmp_path / "data"
    store = Store.open(data, Persist(fsync="no"), build_core_world)
    assert (await store.checkpoint("initial", "test")).ok
    store.world.create(store.world.sys("thing"), 2, "survivor")
    digest = store.world.digest()
    await store.close()
    (data / "moo.sqlite").write_bytes(b"this is not a database, it was damaged\n" * 200)
    if wal:
        (data / "moo.sqlite-wal").write_bytes(b"wal bytes")
        (data / "moo.sqlite-shm").write_bytes(b"shm bytes")

    store = Store.open(data, Persist(fsync="no"), build_core_world)
    try:
        assert store.world.digest() == digest
        aside = sorted(p.name for p in data.iterdir() if ".damaged-" in p.name)
        assert len(aside) == (3 if wal else 1), aside
        assert aside[0].startswith("moo.sqlite.damaged-")
        assert (data / aside[0]).read_bytes().startswith(b"this is not a database")
        assert len(store.warnings) == 1 and aside[0] in store.warnings[0], store.warnings
        assert "file is not a database" in store.warnings[0]
        assert aside[0] in caplog.text
        assert store.records.recent_checkpoints_sync() == []
        assert (await store.checkpoint("manual", "test")).ok
        assert [r.status for r in store.records.recent_checkpoints_sync()] == ["ok"]
    finally:
        await store.close()

"""Recovery must refuse a journal with a missing segment: right after the checkpoint (a gap in
the LSNs), or the newest one (no gap to see: the journal's marker says where it was)."""

from __future__ import annotations

from pathlib import Path

import pytest

from moo.config import Persist
from moo.persist import journal as jr
from moo.persist import journal_format as jf
from moo.persist.recovery import RecoveryError, checkpoint_path, recover
from moo.persist.snapshot import SnapshotWriter
from moo.persist.store import Store
from moo.world import mutations as m
from moo.world.loader import build_core_world


def write_frames(directory: Path, first: int, count: int) -> None:
    journal = jr.Journal(directory, next_lsn=first, fsync="no")
    for index in range(count):
        journal.append([m.SetNextId(1000 + first + index)])
    journal.close()


async def test_a_missing_segment_after_the_checkpoint_is_refused(tmp_path: Path) -> None:
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    await SnapshotWriter(build_core_world(), checkpoint_path(checkpoints, 1), 0).write()
    journal_dir = tmp_path / "journal"
    write_frames(journal_dir, 1, 3)
    write_frames(journal_dir, 4, 3)
    (journal_dir / jf.segment_name(1)).unlink()  # frames 1-3 are gone
    with pytest.raises(RecoveryError, match="a segment is missing"):
        recover(checkpoints, journal_dir, build_core_world, force=False)


def test_a_journal_that_follows_the_checkpoint_exactly_replays(tmp_path: Path) -> None:
    journal_dir = tmp_path / "journal"
    write_frames(journal_dir, 1, 3)
    write_frames(journal_dir, 4, 3)
    recovered = recover(tmp_path / "checkpoints", journal_dir, build_core_world)
    assert recovered.replayed == 6
    assert recovered.position == 6
    assert recovered.world.next_id == 1006


# ------------------------------------------- the newest segment, missing after a crash

PERSIST = Persist(fsync="no", checkpoint_interval_seconds=0, keep_checkpoints=3)


async def opened(data: Path, *, force: bool = False) -> Store:
    store = Store.open(data, PERSIST, build_core_world, force=force)
    if store.recovered.fresh:
        assert (await store.checkpoint("initial", "test")).ok
    return store


def killed(store: Store) -> None:
    """As kill -9 leaves it: the journal's fd closed without a word, no final checkpoint."""
    store.journal._close_fd()
    store.records.close()


def make(store: Store, *names: str) -> None:
    for name in names:
        store.world.create(store.world.sys("thing"), 2, name)


def names(store: Store) -> set[str]:
    return {obj.name for obj in store.world.objects.values()}


async def test_a_missing_newest_segment_after_a_checkpoint_refuses_the_start(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    store = await opened(data)
    make(store, "early0", "early1")
    assert (await store.checkpoint("manual", "test")).ok
    make(store, "late0", "late1", "late2")
    killed(store)
    newest = jf.list_segments(data / "journal")[-1][1]
    newest.unlink()
    with pytest.raises(RecoveryError, match=f"{newest.name}.*is missing"):
        Store.open(data, PERSIST, build_core_world)

    store = await opened(data, force=True)
    try:
        assert {"early0", "early1"} <= names(store)
        assert not {"late0", "late1", "late2"} & names(store)
        assert any(newest.name in note and "missing" in note for note in store.recovered.notes)
    finally:
        await store.close()
    store = await opened(data)  # the forced start wrote its own position: clean from now on
    await store.close()


async def test_a_missing_newest_segment_after_a_restart_refuses_the_start(
    tmp_path: Path,
) -> None:
    """Two segments after the checkpoint (a crash, a start that replayed, more changes):
    the older one alone looks complete, with no gap to find."""
    data = tmp_path / "data"
    store = await opened(data)
    make(store, "first0", "first1")
    killed(store)
    store = await opened(data)
    make(store, "second0", "second1")
    killed(store)
    segments = jf.list_segments(data / "journal")
    assert len(segments) == 2
    segments[-1][1].unlink()
    with pytest.raises(RecoveryError, match="is missing"):
        Store.open(data, PERSIST, build_core_world)


async def test_an_empty_newest_segment_missing_after_a_clean_stop_is_not_refused(
    tmp_path: Path,
) -> None:
    """A clean stop's final checkpoint holds everything: the empty segment after it can go."""
    data = tmp_path / "data"
    store = await opened(data)
    make(store, "kept")
    await store.close()
    newest = jf.list_segments(data / "journal")[-1][1]
    assert newest.stat().st_size == 0
    newest.unlink()
    store = await opened(data)
    try:
        assert "kept" in names(store)
    finally:
        await store.close()

"""Recovery must refuse a journal with a missing segment right after the checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from moo.persist import journal as jr
from moo.persist.recovery import RecoveryError, checkpoint_path, recover
from moo.persist.snapshot import SnapshotWriter
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
    (journal_dir / jr.segment_name(1)).unlink()  # frames 1-3 are gone
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

"""Store.open tidies what a crash mid-checkpoint leaves behind."""

from __future__ import annotations

from pathlib import Path

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

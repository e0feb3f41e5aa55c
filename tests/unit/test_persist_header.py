"""Every byte of a checkpoint's 4096-byte header is checked, the padding included."""

from __future__ import annotations

from pathlib import Path

import pytest

from moo.errors import CheckpointError
from moo.persist import snapshot
from moo.world.loader import build_core_world
from tests.unit.test_checkpoint_cli import flip


async def written(tmp_path: Path) -> Path:
    path = tmp_path / "ckpt-00000001.mck"
    await snapshot.SnapshotWriter(build_core_world(), path, 7).write()
    return path


@pytest.mark.parametrize("offset", [200, 1000, snapshot.HEADER_SIZE - 5, snapshot.HEADER_SIZE - 1])
async def test_damage_in_the_header_padding_is_caught(tmp_path: Path, offset: int) -> None:
    path = await written(tmp_path)
    snapshot.verify(path)
    flip(path, offset)
    with pytest.raises(CheckpointError, match="damaged header"):
        snapshot.read_header(path)
    with pytest.raises(CheckpointError, match="damaged header"):
        snapshot.verify(path)
    with pytest.raises(CheckpointError, match="damaged header"):
        snapshot.load(path)


async def test_every_header_byte_counts(tmp_path: Path) -> None:
    """A flip anywhere in the header block fails the header check (magic, length, the
    packed header, its CRC and the padding)."""
    path = await written(tmp_path)
    pristine = path.read_bytes()
    for offset in range(0, snapshot.HEADER_SIZE, 7):
        flip(path, offset)
        with pytest.raises(CheckpointError):
            snapshot.read_header(path)
        path.write_bytes(pristine)
    assert snapshot.verify(path).journal_position == 7

"""The journal's last frame: a torn write is cut, damage is refused (journal_format.py's rule).

A frame is written by one ``os.write``: a crash or a full disk leaves a prefix of it (the
length does not fit), and a power loss can leave the file longer than what reached the
disk, the rest reading as zeros from a 512-byte boundary on. Anything else wrong with a
complete last frame (a bit flip, a damaged length) is damage: it refuses the start unless
``force``, which sets the damaged frame aside.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from moo.persist import journal as jr
from moo.persist import journal_format as jf
from moo.persist.recovery import RecoveryError, recover
from moo.world import mutations as m
from moo.world.loader import build_core_world

FRAMES = 5


def write_frames(directory: Path) -> Path:
    """FRAMES frames in one segment, left as a crash leaves them (no clean close: that
    would mark the last LSN as written, and a cut tail as missing)."""
    journal = jr.Journal(directory, next_lsn=1, fsync="no")
    for index in range(FRAMES):
        journal.append([m.SetNextId(1000 + index), m.SetNextId(2000 + index)])
    journal._close_fd()
    return directory / jf.segment_name(1)


def last_frame(segment: Path) -> tuple[int, int]:
    """(offset, size) of the segment's last frame."""
    data = segment.read_bytes()
    offset = 0
    while True:
        size = jf.FRAME_HEAD + int.from_bytes(data[offset + 2 : offset + 6], "big")
        if offset + size >= len(data):
            return offset, size
        offset += size


def edit(segment: Path, change: bytes, at: int) -> None:
    data = bytearray(segment.read_bytes())
    data[at : at + len(change)] = change
    segment.write_bytes(bytes(data))


def recovered_next_id(tmp_path: Path, *, force: bool = False) -> int:
    return recover(
        tmp_path / "checkpoints", tmp_path / "journal", build_core_world, force=force
    ).world.next_id


def test_a_bit_flip_in_a_complete_last_frame_refuses_the_start(tmp_path: Path) -> None:
    segment = write_frames(tmp_path / "journal")
    offset, size = last_frame(segment)
    data = segment.read_bytes()
    edit(segment, bytes([data[offset + size - 1] ^ 0x01]), offset + size - 1)
    with pytest.raises(RecoveryError, match="damaged"):
        recovered_next_id(tmp_path)
    assert segment.stat().st_size == len(data), "a refused start changes nothing"


def test_force_recover_sets_a_damaged_last_frame_aside(tmp_path: Path) -> None:
    segment = write_frames(tmp_path / "journal")
    offset, _size = last_frame(segment)
    data = segment.read_bytes()
    edit(segment, bytes([data[offset + 30] ^ 0x10]), offset + 30)
    assert recovered_next_id(tmp_path, force=True) == 2000 + FRAMES - 2
    aside = segment.with_name(segment.name + ".damaged")
    assert aside.read_bytes()[offset + 30] == data[offset + 30] ^ 0x10
    assert segment.stat().st_size == offset
    assert recovered_next_id(tmp_path) == 2000 + FRAMES - 2  # and the next start is clean


def test_a_damaged_length_that_overshoots_a_complete_frame_is_damage(tmp_path: Path) -> None:
    segment = write_frames(tmp_path / "journal")
    offset, _size = last_frame(segment)
    edit(segment, (1 << 20).to_bytes(4, "big"), offset + 2)
    with pytest.raises(RecoveryError, match="damaged"):
        recovered_next_id(tmp_path)


def test_a_flipped_magic_on_the_last_frame_is_damage(tmp_path: Path) -> None:
    segment = write_frames(tmp_path / "journal")
    offset, _size = last_frame(segment)
    edit(segment, b"\xd1", offset)
    with pytest.raises(RecoveryError, match="damaged"):
        recovered_next_id(tmp_path)


@pytest.mark.parametrize("keep", [1, 2, 9, jf.FRAME_HEAD, jf.FRAME_HEAD + 3, -1])
def test_a_prefix_of_the_last_frame_is_a_torn_write_and_cut(tmp_path: Path, keep: int) -> None:
    segment = write_frames(tmp_path / "journal")
    offset, size = last_frame(segment)
    cut = offset + (keep if keep > 0 else size + keep)
    segment.write_bytes(segment.read_bytes()[:cut])
    assert recovered_next_id(tmp_path) == 2000 + FRAMES - 2
    assert segment.stat().st_size == offset


def test_a_last_frame_ending_in_zeros_from_a_sector_boundary_is_torn(tmp_path: Path) -> None:
    """A power loss after the size reached the disk but not the last sector's data."""
    journal = jr.Journal(tmp_path / "journal", next_lsn=1, fsync="no")
    journal.append([m.SetNextId(1001)])
    journal.append([m.SetProp(0, "x" * 10, "y" * 1500)])  # a frame crossing 512-byte sectors
    journal._close_fd()
    segment = tmp_path / "journal" / jf.segment_name(1)
    offset, size = last_frame(segment)
    end = offset + size
    boundary = (end - 1) // 512 * 512
    assert boundary > offset + jf.FRAME_HEAD
    edit(segment, b"\0" * (end - boundary), boundary)
    assert recovered_next_id(tmp_path) == 1001
    assert segment.stat().st_size == offset


def test_an_all_zero_tail_is_torn(tmp_path: Path) -> None:
    segment = write_frames(tmp_path / "journal")
    offset, size = last_frame(segment)
    edit(segment, b"\0" * size, offset)
    assert recovered_next_id(tmp_path) == 2000 + FRAMES - 2
    assert segment.stat().st_size == offset

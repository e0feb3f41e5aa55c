"""The world file: save/load round trip by digest; a damaged file is refused, never half-read."""

from __future__ import annotations

from pathlib import Path

import pytest

from moo.errors import CheckpointError
from moo.persist import worldfile
from moo.persist.worldfile import FILENAME, MAGIC
from moo.world.loader import build_core_world
from moo.world.model import Flag
from moo.world.values import NOTHING, ObjRef
from moo.world.world import World

WIZARD = 2
THING = 5
FIRST_ROOM = 10


def busy_world() -> World:
    """A core world with some changes of every kind, so the file holds more than the core."""
    world = build_core_world()
    alice = world.create(4, NOTHING, "Alice", location=FIRST_ROOM, flags=Flag.PLAYER)
    bag = world.create(THING, alice, "bag", location=alice, aliases=["sack"])
    world.define_prop(bag, "loot", {"gold": 3, "gems": [ObjRef(14), 2.5, "ruby ☃"]}, alice, "rc")
    world.move(14, bag)
    gone = world.create(THING, WIZARD, "gone")
    world.recycle(gone)
    return world


def test_save_then_load_gives_the_same_world(tmp_path: Path) -> None:
    world = busy_world()
    path = worldfile.save(world, tmp_path)
    assert path == tmp_path / FILENAME
    assert path.read_bytes().startswith(MAGIC)
    loaded = worldfile.load(tmp_path)
    assert loaded is not None
    assert loaded.digest() == world.digest()
    assert loaded.next_id == world.next_id
    assert not loaded.valid(world.next_id - 1)  # the recycled id stays unused


def test_load_rebuilds_the_derived_indexes(tmp_path: Path) -> None:
    world = busy_world()
    worldfile.save(world, tmp_path)
    loaded = worldfile.load(tmp_path)
    assert loaded is not None
    alice = world.player_by_name("alice")
    assert loaded.player_by_name("ALICE") == alice
    assert sorted(loaded.player_ids()) == sorted(world.player_ids())
    for oid in world.objects:
        assert sorted(loaded.children(oid)) == sorted(world.children(oid)), oid
    assert loaded.get_prop(15 + 1, "loot")["gems"][0] == ObjRef(14)
    # The loaded world keeps working through its mutation path.
    loaded.rename(14, "lamp")
    assert loaded.digest() != world.digest()


def test_save_replaces_the_previous_file_and_leaves_no_temp(tmp_path: Path) -> None:
    first = build_core_world()
    worldfile.save(first, tmp_path)
    second = busy_world()
    worldfile.save(second, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILENAME]
    loaded = worldfile.load(tmp_path)
    assert loaded is not None and loaded.digest() == second.digest()


def test_missing_file_is_none(tmp_path: Path) -> None:
    assert worldfile.load(tmp_path) is None
    assert worldfile.load(tmp_path / "no-such-dir") is None


def _saved_bytes(tmp_path: Path) -> tuple[World, bytes]:
    world = busy_world()
    worldfile.save(world, tmp_path)
    return world, (tmp_path / FILENAME).read_bytes()


def _write(tmp_path: Path, data: bytes) -> None:
    (tmp_path / FILENAME).write_bytes(data)


def test_bad_magic_is_refused(tmp_path: Path) -> None:
    _world, data = _saved_bytes(tmp_path)
    for bad in (b"MOOWORLD 9\n" + data[len(MAGIC) :], b"", b"MOOWORLD 1", b"garbage" * 10):
        _write(tmp_path, bad)
        with pytest.raises(CheckpointError, match="bad magic"):
            worldfile.load(tmp_path)


@pytest.mark.parametrize("fraction", [0.0, 0.0001, 0.001, 0.25, 0.5, 0.9, 0.9999])
def test_truncated_file_is_refused(tmp_path: Path, fraction: float) -> None:
    _world, data = _saved_bytes(tmp_path)
    body = len(data) - len(MAGIC)
    keep = min(int(body * fraction), body - 1)
    _write(tmp_path, data[: len(MAGIC) + keep])
    with pytest.raises(CheckpointError, match="damaged"):
        worldfile.load(tmp_path)


def test_trailing_garbage_is_refused(tmp_path: Path) -> None:
    _world, data = _saved_bytes(tmp_path)
    _write(tmp_path, data + b"\x00")
    with pytest.raises(CheckpointError):
        worldfile.load(tmp_path)


FLIP_PLACES = [
    "magic",
    "array header",
    "next_id",
    "first object",
    "middle",
    "inside a name",
    "inside a description",
    "last byte",
]


def _flip_position(data: bytes, where: str) -> int:
    body = len(MAGIC)
    return {
        "magic": 3,
        "array header": body,
        "next_id": body + 1,
        "first object": body + 3,
        "middle": (body + len(data)) // 2,
        "inside a name": data.index(b"brass lantern") + 2,
        "inside a description": data.index(b"polished by many hands") + 5,
        "last byte": len(data) - 1,
    }[where]


@pytest.mark.parametrize("where", FLIP_PLACES)
@pytest.mark.parametrize("mask", [0x01, 0xFF])
def test_flipped_byte_is_refused(tmp_path: Path, where: str, mask: int) -> None:
    # A flipped bit must never come back as a world with different content.
    world, data = _saved_bytes(tmp_path)
    damaged = bytearray(data)
    damaged[_flip_position(data, where)] ^= mask
    _write(tmp_path, bytes(damaged))
    try:
        loaded = worldfile.load(tmp_path)
    except CheckpointError:
        return
    assert loaded is not None
    pytest.fail(
        f"a file with byte {_flip_position(data, where)} flipped loaded without error "
        f"(same digest as saved: {loaded.digest() == world.digest()}, next_id {loaded.next_id})"
    )

"""The compact object representation and the snapshot paths that keep it.

Shared empty containers (changed only through the world's mutation path), ObjRefs and ids
shared by a snapshot load, the one-pass ``World.load``, and the batched snapshot encoder,
which must write the very bytes one ``encode`` per object wrote (the format is unchanged:
files of earlier servers load, and theirs load ours).
"""

from __future__ import annotations

import asyncio
import copy
import pickle
from pathlib import Path
from typing import Any

import msgspec
import pytest

from moo.errors import WorldError
from moo.persist import snapshot
from moo.world.codec import array_header, digest_encoder
from moo.world.loader import build_core_world
from moo.world.model import EMPTY_DICT, EMPTY_LIST, MooObject, VerbDef
from moo.world.values import NOTHING, ObjRef
from moo.world.world import World

WIZARD = 2


def make_world(things: int = 300) -> tuple[World, int, list[int]]:
    """The core world, a class defining two properties, a room and ``things`` in it."""
    world = build_core_world()
    cls = world.create(world.sys("thing"), WIZARD, "Class")
    world.define_prop(cls, "home", ObjRef(NOTHING), WIZARD, "rc")
    world.define_prop(cls, "tags", [], WIZARD, "rc")
    room = world.create(world.sys("room"), WIZARD, "Room")
    made = []
    for i in range(things):
        oid = world.create(cls, WIZARD, f"thing {i}", location=room)
        world.set_prop(oid, "home", ObjRef(room))
        world.set_prop(oid, "tags", ["x", i])
        made.append(oid)
    return world, room, made


def shared_empties(obj: MooObject) -> list[str]:
    """Names of ``obj``'s empty containers that are not the shared ones."""
    fields = ("aliases", "contents", "propdefs", "props", "verbs")
    return [f for f in fields if not getattr(obj, f) and getattr(obj, f) not in _SHARED]


_SHARED: tuple[Any, ...] = (EMPTY_LIST, EMPTY_DICT)


# ------------------------------------------------------------------ shared empties


@pytest.mark.parametrize(
    "change",
    [
        lambda: EMPTY_LIST.append(1),
        lambda: EMPTY_LIST.extend([1]),
        lambda: EMPTY_LIST.insert(0, 1),
        lambda: EMPTY_LIST.__setitem__(slice(0, 0), [1]),
        lambda: EMPTY_LIST.__iadd__([1]),
        lambda: EMPTY_DICT.__setitem__("a", 1),
        lambda: EMPTY_DICT.update(a=1),
        lambda: EMPTY_DICT.setdefault("a", 1),
        lambda: EMPTY_DICT.pop("a", None),
        lambda: EMPTY_DICT.__ior__({"a": 1}),
    ],
)
def test_the_shared_empty_containers_refuse_every_change(change: Any) -> None:
    with pytest.raises(TypeError, match="shared empty"):
        change()
    assert EMPTY_LIST == [] and EMPTY_DICT == {}


def test_copies_and_pickles_of_the_shared_empties_are_the_shared_empties() -> None:
    for shared in (EMPTY_LIST, EMPTY_DICT):
        assert copy.copy(shared) is shared and copy.deepcopy(shared) is shared
        assert pickle.loads(pickle.dumps(shared)) is shared
    obj = MooObject(id=1, name="x", parent=NOTHING, owner=1, location=NOTHING)
    twin = copy.deepcopy(obj)
    assert twin.props is EMPTY_DICT and twin.contents is EMPTY_LIST


def test_a_new_object_holds_the_shared_empties_and_changes_get_its_own() -> None:
    world, room, things = make_world(3)
    bare = world.create(world.sys("thing"), WIZARD, "bare")
    obj = world.objects[bare]
    assert shared_empties(obj) == [] and obj.props is EMPTY_DICT and obj.contents is EMPTY_LIST

    world.set_prop(bare, "description", "a bare thing")
    assert obj.props == {"description": "a bare thing"} and EMPTY_DICT == {}
    world.clear_prop(bare, "description")
    assert obj.props is EMPTY_DICT

    world.move(things[0], bare)
    assert obj.contents == [things[0]] and EMPTY_LIST == []
    world.move(things[0], room)
    assert obj.contents is EMPTY_LIST

    world.define_prop(bare, "mine", 1, WIZARD)
    assert obj.propdefs.keys() == {"mine"} and obj.props == {"mine": 1}
    world.undefine_prop(bare, "mine")
    assert obj.propdefs is EMPTY_DICT and obj.props is EMPTY_DICT

    verb = VerbDef("go", WIZARD, "rx", "none", "none", "none", "moo")
    world.set_aliases(bare, ["b"])
    world.add_verb(bare, verb)
    assert obj.aliases == ["b"] and obj.verbs == [verb]
    world.set_aliases(bare, [])
    world.set_verbs(bare, [])
    assert obj.aliases is EMPTY_LIST and obj.verbs is EMPTY_LIST
    assert EMPTY_LIST == [] and EMPTY_DICT == {}


def test_a_rolled_back_transaction_leaves_the_shared_empties_unchanged() -> None:
    world, _room, things = make_world(2)
    bare = world.create(world.sys("thing"), WIZARD, "bare")
    before = world.digest()
    with pytest.raises(RuntimeError), world.transaction():
        world.set_prop(bare, "description", "x")
        world.move(things[1], bare)
        raise RuntimeError("undo")
    assert world.digest() == before
    assert shared_empties(world.objects[bare]) == [] and EMPTY_LIST == [] and EMPTY_DICT == {}
    assert world.objects[bare].props is EMPTY_DICT


def test_recycling_a_container_and_reparenting_keep_the_world_consistent() -> None:
    world, room, things = make_world(5)
    world.recycle(room)
    assert all(world.objects[t].location == NOTHING for t in things)
    cls = world.objects[things[0]].parent
    world.set_parent(things[0], world.sys("thing"))  # its values of home/tags go
    assert world.objects[things[0]].props is EMPTY_DICT
    assert world.objects[cls].props == {"home": ObjRef(NOTHING), "tags": []}


# ------------------------------------------------------------------------ loading


def test_a_loaded_snapshot_keeps_values_as_bytes_until_read(tmp_path: Path) -> None:
    world, room, things = make_world()
    path = tmp_path / "c.mck"
    asyncio.run(snapshot.SnapshotWriter(world, path, 7).write())
    loaded, header = snapshot.load(path)
    assert loaded.digest() == world.digest() == header.digest
    first = loaded.objects[things[0]]
    assert type(first.props_data) is msgspec.Raw
    assert first.props == {"home": ObjRef(room), "tags": ["x", 0]}
    kept: object = first.props_data  # (the read above replaced it: not the Raw any more)
    assert type(kept) is dict  # decoded once, kept
    assert loaded.get_prop(things[1], "tags") == ["x", 1]
    assert loaded.digest() == world.digest()  # decoded or not, the same bytes
    room_id = loaded.objects[room].id
    assert all(loaded.objects[t].location is room_id for t in things)
    assert all(c is loaded.objects[c].id for c in loaded.objects[room].contents)
    assert all(shared_empties(obj) == [] for obj in loaded.objects.values())
    assert loaded.children(world.objects[things[0]].parent) == things
    assert loaded.player_by_name("wizard") == WIZARD
    assert loaded.objects == world.objects  # values compared as values


def test_changing_a_loaded_object_decodes_its_values_first(tmp_path: Path) -> None:
    world, room, things = make_world(3)
    path = tmp_path / "c.mck"
    asyncio.run(snapshot.SnapshotWriter(world, path, 7).write())
    loaded, _header = snapshot.load(path)
    loaded.set_prop(things[0], "tags", ["new"])
    loaded.clear_prop(things[1], "home")
    assert loaded.objects[things[0]].props == {"home": ObjRef(room), "tags": ["new"]}
    assert loaded.objects[things[1]].props == {"tags": ["x", 1]}
    world.set_prop(things[0], "tags", ["new"])
    world.clear_prop(things[1], "home")
    assert loaded.digest() == world.digest()


def test_values_that_do_not_decode_raise_a_world_error() -> None:
    obj = MooObject(id=7, name="x", parent=NOTHING, owner=1, location=NOTHING)
    obj.props_data = msgspec.Raw(b"\x92\x01\x02")  # a list where a map must be
    with pytest.raises(WorldError, match="#7: its stored property values do not decode"):
        _ = obj.props


def test_world_load_refuses_a_world_that_is_not_empty_and_a_repeated_id() -> None:
    world, _room, _things = make_world(1)
    objects = list(world.objects.values())
    with pytest.raises(WorldError, match="empty"):
        world.load(objects, world.next_id)
    with pytest.raises(WorldError, match="twice"):
        World().load([*objects, objects[0]], world.next_id)


# ------------------------------------------------------------------------ writing


def test_the_batched_encoder_writes_what_one_encode_per_object_wrote(tmp_path: Path) -> None:
    world, _room, things = make_world(700)
    for gone in things[100:110] + things[400:401]:  # holes in the id range
        world.recycle(gone)
    path = tmp_path / "c.mck"
    asyncio.run(snapshot.SnapshotWriter(world, path, 0).write())
    body = path.read_bytes()[snapshot.HEADER_SIZE :]
    per_object = [digest_encoder.encode(world.objects[oid]) for oid in sorted(world.objects)]
    assert body == array_header(len(per_object)) + b"".join(per_object)


def test_changes_during_a_write_stay_out_of_the_snapshot(tmp_path: Path) -> None:
    """Objects behind and ahead of the write cursor change between slices: the file is the
    world as it was at ``start()``."""
    world, _room, things = make_world(3000)
    expected = world.digest()
    path = tmp_path / "c.mck"
    writer = snapshot.SnapshotWriter(world, path, 0, slice_seconds=0.0)  # 256 ids per slice

    async def run() -> None:
        writer.start()
        task = asyncio.create_task(writer.write())
        for step in range(8):
            await asyncio.sleep(0)
            for oid in things[step::7]:  # behind, at and ahead of the cursor
                world.set_prop(oid, "tags", ["changed", step])
            world.move(things[-1 - step], NOTHING)
        world.create(world.sys("thing"), WIZARD, "born during the write")
        await task

    asyncio.run(run())
    loaded, _header = snapshot.load(path)
    assert loaded.digest() == expected
    assert world.digest() != expected


def test_a_loaded_world_writes_back_the_very_file_it_was_loaded_from(tmp_path: Path) -> None:
    """Values kept as bytes are copied into the next checkpoint: the format cannot drift."""
    world, _room, things = make_world(500)
    world.set_prop(things[3], "tags", {"b": 1, "a": [ObjRef(2), 1.5, "x"]})  # a map, unsorted
    first, second = tmp_path / "1.mck", tmp_path / "2.mck"
    asyncio.run(snapshot.SnapshotWriter(world, first, 9).write())
    loaded, _header = snapshot.load(first)
    loaded.get_prop(things[0], "tags")  # one object decoded, the rest still bytes
    asyncio.run(snapshot.SnapshotWriter(loaded, second, 9).write())
    body = snapshot.HEADER_SIZE
    assert first.read_bytes()[body:] == second.read_bytes()[body:]
    assert snapshot.read_header(first).digest == snapshot.read_header(second).digest

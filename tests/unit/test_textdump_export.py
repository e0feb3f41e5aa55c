"""This server's world as a LambdaMOO textdump (moo/textdump/exporter.py): LambdaCore
imported, exported, written, read and imported again answers the same everywhere; our own
core world exports with what LambdaMOO cannot hold named; damaged values are reported."""

from __future__ import annotations

import pytest

from moo.textdump.exporter import export_world
from moo.textdump.importer import import_world
from moo.textdump.model import CLEAR, PF_CHOWN, PF_READ, Textdump
from moo.textdump.reader import read_textdump
from moo.textdump.writer import write_textdump
from moo.world.loader import build_core_world
from moo.world.model import MOO_IMPL, Flag
from moo.world.values import NOTHING, ObjRef
from moo.world.world import World
from tests.unit.lang.test_lambdacore_verbs import lambdacore
from tests.unit.test_world_replay import check_invariants

OBSOLETE_FLAGS = 1 << 3 | 1 << 6
"""LambdaMOO's FLAG_OBSOLETE_1 and _2: set in LambdaCore's file, read by nothing."""


@pytest.fixture(scope="module")
def original() -> Textdump:
    return read_textdump(lambdacore().read_text(encoding="latin-1"))


def again(world: World) -> tuple[Textdump, World]:
    """``world`` exported, written as text, read back and imported."""
    dump, _ = export_world(world)
    reread = read_textdump(write_textdump(dump))
    imported, report = import_world(reread)
    assert report.repaired == [] and report.dropped == []
    return reread, imported


def assert_same_worlds(first: World, second: World) -> None:
    assert second.next_id == first.next_id
    assert sorted(second.objects) == sorted(first.objects)
    for oid, one in first.objects.items():
        two = second.objects[oid]
        assert (two.name, two.flags, two.owner, two.location, two.parent) == (
            one.name,
            one.flags,
            one.owner,
            one.location,
            one.parent,
        ), f"#{oid}"
        assert two.contents == one.contents, f"#{oid} contents"
        assert sorted(second.children(oid)) == sorted(first.children(oid)), f"#{oid} children"
        assert two.aliases == one.aliases, f"#{oid} aliases"
        assert two.verbs == one.verbs, f"#{oid} verbs"
        assert list(two.propdefs) == list(one.propdefs), f"#{oid} propdefs"
        assert two.props == one.props, f"#{oid} values"
        names = {name for ancestor in first.ancestors(oid) for name in ancestor.propdefs}
        for name in names:
            slot_one, slot_two = first.prop_slot(oid, name), second.prop_slot(oid, name)
            assert slot_one is not None and slot_two is not None
            assert (slot_two[0].id, slot_two[1]) == (slot_one[0].id, slot_one[1]), f"#{oid}.{name}"


def test_lambdacore_goes_out_and_back_the_same(original: Textdump) -> None:
    world, _ = import_world(original)
    dump, report = export_world(world)
    assert (report.objects, report.verbs, report.programs) == (97, 1728, 1728)
    assert report.dropped == [] and report.recycled == 0
    assert sorted(dump.users) == sorted(original.users)  # players() order is not kept
    reread, imported = again(world)
    check_invariants(imported)
    assert_same_worlds(world, imported)
    # The file itself: LambdaMOO's structures as the original has them, but for the order
    # of children and the place of $root_class.aliases (exporter.py's docstring).
    for before, after in zip(original.objects, reread.objects, strict=True):
        assert before is not None and after is not None
        assert (after.name, after.flags, after.owner, after.parent) == (
            before.name,
            before.flags & ~OBSOLETE_FLAGS,
            before.owner,
            before.parent,
        )
        assert (after.location, after.contents, after.next) == (
            before.location,
            before.contents,
            before.next,
        ), f"#{before.id} location links"
        assert after.verbs == before.verbs, f"#{before.id} verbs"
        assert sorted(after.propdefs) == sorted(before.propdefs), f"#{before.id} propdefs"
        old = dict(zip(original.property_names(before.id), before.propvals, strict=True))
        new = dict(zip(reread.property_names(after.id), after.propvals, strict=True))
        assert new.keys() == old.keys(), f"#{before.id} properties"
        for name, value in old.items():
            if name == "aliases":  # a built-in field here: its value, not its slot, is kept
                expected = (value.value,) if value.value is not CLEAR else ()
                aliases = world.objects[before.id].aliases
                assert new[name].value in (*expected, CLEAR, aliases), f"#{before.id}"
                continue
            assert new[name] == value, f"#{before.id}.{name}"
    assert reread.programs == {key: lines for key, lines in original.programs.items()} | {
        key: [] for key in reread.programs.keys() - original.programs.keys()
    }


def test_the_core_world_exports_and_says_what_lambdamoo_cannot_run() -> None:
    world = build_core_world()
    python_verbs = sum(
        verb.impl != MOO_IMPL for obj in world.objects.values() for verb in obj.verbs
    )
    builders = sum(bool(obj.flags & Flag.BUILDER) for obj in world.objects.values())
    _, report = export_world(world)
    assert python_verbs > 0
    written_in_python = [line for line in report.dropped if "written in Python" in line]
    assert len(written_in_python) == python_verbs
    assert len([line for line in report.dropped if "builder flag" in line]) == builders
    unheld = "\n".join(line for line in report.dropped if "no textdump value" in line)
    reread, imported = again(world)
    for oid, obj in world.objects.items():
        two = imported.objects[oid]
        assert (two.name, two.parent, two.location, two.aliases) == (
            obj.name,
            obj.parent,
            obj.location,
            obj.aliases,
        )
        assert two.flags == obj.flags & ~int(Flag.BUILDER)
        kept = {  # a map (help topics) is reported, and 0 on its definer (never clear)
            name: 0 if f"#{oid}.{name}: " in unheld else value
            for name, value in obj.props.items()
            if f"#{oid}.{name}: " not in unheld or name in obj.propdefs
        }
        assert two.props == kept, f"#{oid}"
        assert [v.names for v in two.verbs] == [v.names for v in obj.verbs]
    root = next(obj for obj in reread.objects if obj is not None and obj.parent == NOTHING)
    assert root.propdefs[0] == "aliases"
    assert root.propvals[0].perms == PF_READ | PF_CHOWN


def test_what_a_textdump_cannot_hold_is_reported_and_left_out() -> None:
    world = build_core_world()
    thing = world.create(world.sys("thing"), NOTHING, "odd\nname")
    with world.transaction():
        world.define_prop(thing, "table", {"a": 1}, owner=2, perms="r")
        world.define_prop(thing, "fine", [1, "two", ObjRef(3)], owner=2, perms="r")
    dump, report = export_world(world)
    assert any(f"#{thing}.table" in line and "no textdump value" in line for line in report.dropped)
    assert any(f"#{thing}'s name" in line for line in report.dropped)
    text = write_textdump(dump)  # nothing left in it that the writer refuses
    reread = read_textdump(text)
    imported, _ = import_world(reread)
    assert imported.objects[thing].name == "odd name"
    # on its definer: 0, as LambdaMOO never has a definer's value clear
    assert imported.objects[thing].props["table"] == 0
    dumped = reread.objects[thing]
    assert dumped is not None
    assert dumped.propvals[reread.property_names(thing).index("table")].value == 0
    assert imported.objects[thing].props["fine"] == [1, "two", ObjRef(3)]


def test_a_recycled_number_stays_recycled() -> None:
    world = build_core_world()
    thing = world.create(world.sys("thing"), NOTHING, "gone")
    world.recycle(thing)
    dump, report = export_world(world)
    assert report.recycled >= 1
    assert dump.objects[thing] is None
    imported, _ = import_world(read_textdump(write_textdump(dump)))
    assert thing not in imported.objects

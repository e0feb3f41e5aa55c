"""The World: reads, every mutation method and its refusals, transactions, hooks, digest.

Also the pieces the world is built from and checked with: the model (flags), the permission
checks, and the core-world loader (``build_core_world``, ``sync_verbs``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from moo.errors import PermissionDenied, WorldError
from moo.world import mutations as m
from moo.world import permissions as perms
from moo.world.loader import DEFAULT_CORE_DIR, build_core_world, resolve_target, sync_verbs
from moo.world.model import FLAG_NAMES, Flag, MooObject, PropDef, VerbDef
from moo.world.values import NOTHING, ObjRef
from moo.world.verb_registry import bindings, load_verb_modules, resolve
from moo.world.world import BUILTIN_PROPERTIES, World, clone

WIZARD = 2
THING = 5
ROOM = 3
FIRST_ROOM = 10
GARDEN = 11
LANTERN = 14


# ----------------------------------------------------------------------------- helpers


class Journal:
    """An observer that keeps every committed batch."""

    def __init__(self) -> None:
        self.batches: list[list[m.Mutation]] = []

    def __call__(self, records: list[m.Mutation]) -> None:
        self.batches.append(list(records))

    @property
    def records(self) -> list[m.Mutation]:
        return [r for batch in self.batches for r in batch]


@pytest.fixture
def world() -> World:
    return build_core_world()


@pytest.fixture
def journal(world: World) -> Journal:
    observer = Journal()
    world.add_observer(observer)
    return observer


PROBE_NAMES = ("wizard", "alice", "bob", "carol", "al2", "zed", "x")


def index_state(world: World) -> tuple[dict[int, list[int]], list[int], dict[str, int | None]]:
    """The derived indexes, as seen through the public API (children order is not content)."""
    children = {oid: sorted(world.children(oid)) for oid in range(world.next_id + 5)}
    names = {*PROBE_NAMES, *(o.name.lower() for o in world.objects.values())}
    return (
        children,
        sorted(world.player_ids()),
        {name: world.player_by_name(name) for name in sorted(names)},
    )


def assert_indexes_consistent(world: World) -> None:
    """The derived indexes agree with the objects' own fields."""
    for oid in range(world.next_id + 5):
        expected = sorted(o.id for o in world.objects.values() if o.parent == oid)
        assert sorted(world.children(oid)) == expected, f"children of #{oid}"
    players = {o.id for o in world.objects.values() if o.flags & Flag.PLAYER}
    assert set(world.player_ids()) == players
    for oid in players:
        assert world.player_by_name(world.objects[oid].name.upper()) == oid


def assert_refused(world: World, journal: Journal, action: Callable[[], Any], match: str) -> None:
    """``action`` raises WorldError; the world, its indexes and the journal stay as they were."""
    digest, indexes, batches = world.digest(), index_state(world), len(journal.batches)
    next_id = world.next_id
    with pytest.raises(WorldError, match=match):
        action()
    assert world.digest() == digest
    assert index_state(world) == indexes
    assert len(journal.batches) == batches
    assert world.next_id == next_id
    assert not world.in_transaction


@dataclass
class Tree:
    """class_a (defines color) > class_b (defines size) > inst_c > inst_d, plus a box in a room."""

    a: int
    b: int
    c: int
    d: int
    box: int
    pebble: int


@pytest.fixture
def tree(world: World) -> Tree:
    a = world.create(THING, WIZARD, "class A")
    world.define_prop(a, "color", "red", WIZARD, "rc")
    b = world.create(a, WIZARD, "class B")
    world.define_prop(b, "size", 1, WIZARD, "r")
    c = world.create(b, WIZARD, "inst C")
    world.set_prop(c, "color", "blue")
    world.set_prop(c, "size", 3)
    world.set_prop(c, "description", "C's own description")
    d = world.create(c, WIZARD, "inst D")
    world.set_prop(d, "color", "green")
    world.set_prop(d, "size", 4)
    box = world.create(THING, WIZARD, "box", location=FIRST_ROOM)
    pebble = world.create(THING, WIZARD, "pebble", location=box)
    return Tree(a, b, c, d, box, pebble)


def make_player(world: World, name: str, location: int = FIRST_ROOM) -> int:
    return world.create(world.sys("player"), NOTHING, name, location=location, flags=Flag.PLAYER)


# --------------------------------------------------------------------------- model


def test_flag_names_cover_every_flag() -> None:
    assert FLAG_NAMES == {
        "player": Flag.PLAYER,
        "programmer": Flag.PROGRAMMER,
        "wizard": Flag.WIZARD,
        "builder": Flag.BUILDER,
        "read": Flag.READ,
        "write": Flag.WRITE,
        "fertile": Flag.FERTILE,
    }


def test_object_flag_helpers() -> None:
    obj = MooObject(id=1, name="x", parent=NOTHING, owner=1, location=NOTHING)
    assert not obj.is_player and not obj.is_wizard and not obj.has_flag(Flag.BUILDER)
    obj.flags = Flag.PLAYER | Flag.WIZARD
    assert obj.is_player and obj.is_wizard and obj.has_flag(Flag.WIZARD)
    assert not obj.has_flag(Flag.BUILDER)


def test_clone_is_deep_and_equal(world: World) -> None:
    original = world.objects[FIRST_ROOM]
    copy = clone(original)
    assert copy == original
    copy.contents.append(999)
    copy.props["exits"].append(ObjRef(999))
    assert 999 not in original.contents
    assert ObjRef(999) not in original.props["exits"]


# --------------------------------------------------------------------------- reads


def test_get_and_valid(world: World) -> None:
    assert world.valid(0) and world.valid(LANTERN)
    assert not world.valid(15) and not world.valid(NOTHING)
    assert world.get(LANTERN).name == "brass lantern"
    with pytest.raises(WorldError, match="#99 is not a valid object"):
        world.get(99)


def test_ancestors_and_is_a(world: World) -> None:
    assert [o.id for o in world.ancestors(WIZARD)] == [2, 7, 8, 4, 1]
    assert world.is_a(WIZARD, 4) and world.is_a(WIZARD, WIZARD)
    assert not world.is_a(WIZARD, ROOM)
    assert list(world.ancestors(99)) == []


def test_descendants(world: World) -> None:
    assert sorted(world.descendants(4)) == [2, 7, 8]
    assert sorted(world.descendants(ROOM)) == [FIRST_ROOM, GARDEN]
    assert list(world.descendants(LANTERN)) == []


def test_contains(world: World, tree: Tree) -> None:
    assert world.contains(FIRST_ROOM, tree.pebble)
    assert world.contains(tree.box, tree.pebble)
    assert world.contains(tree.box, tree.box)
    assert not world.contains(tree.pebble, tree.box)
    assert not world.contains(GARDEN, tree.pebble)


def test_property_reads(world: World, tree: Tree) -> None:
    assert world.get_prop(tree.c, "color") == "blue"
    assert world.get_prop(tree.b, "color") == "red"  # inherited value
    assert world.get_prop(tree.a, "description") == "You see nothing special."
    definer = world.prop_definer(tree.d, "size")
    assert definer is not None and definer[0].id == tree.b
    assert definer[1] == PropDef(owner=WIZARD, perms="r")
    assert world.prop_definer(tree.d, "nope") is None
    assert world.has_prop(tree.d, "color") and not world.has_prop(tree.a, "size")
    with pytest.raises(WorldError, match="no property 'size'"):
        world.get_prop(tree.a, "size")
    with pytest.raises(WorldError, match="not a valid object"):
        world.get_prop(99, "size")
    assert world.prop(tree.a, "size", "dflt") == "dflt"
    assert world.prop(99, "size", 7) == 7


def test_sys_resolves_dollar_names(world: World) -> None:
    assert world.sys("$room") == ROOM
    assert world.sys("player") == 4
    assert world.sys("$nonexistent") == NOTHING
    assert world.sys("$server_name") == NOTHING  # a string, not an object reference


def test_player_index(world: World) -> None:
    assert world.player_by_name("Wizard") == WIZARD
    assert world.player_by_name("WIZARD") == WIZARD
    assert world.player_by_name("nobody") is None
    assert world.player_ids() == [WIZARD]


# ------------------------------------------------------------------------- create


def test_create_makes_a_new_object(world: World, journal: Journal) -> None:
    aliases = ["cup", "mug"]
    oid = world.create(THING, WIZARD, "tea cup", location=FIRST_ROOM, aliases=aliases)
    aliases.append("changed later")
    assert oid == 15 and world.next_id == 16
    obj = world.get(oid)
    assert (obj.name, obj.parent, obj.owner, obj.location) == ("tea cup", THING, WIZARD, 10)
    assert obj.aliases == ["cup", "mug"]
    assert obj.contents == [] and obj.props == {} and obj.propdefs == {}
    assert world.objects[FIRST_ROOM].contents[-1] == oid
    assert oid in world.children(THING)
    assert world.get_prop(oid, "description") == "You see nothing special."
    assert len(journal.batches) == 1
    [record] = journal.batches[0]
    assert isinstance(record, m.Create) and record.obj.id == oid
    assert_indexes_consistent(world)


def test_create_with_no_owner_owns_itself(world: World) -> None:
    oid = world.create(THING, NOTHING, "self-owned")
    assert world.get(oid).owner == oid


def test_create_with_no_parent_and_nowhere(world: World) -> None:
    oid = world.create(NOTHING, WIZARD, "orphan")
    obj = world.get(oid)
    assert obj.parent == NOTHING and obj.location == NOTHING
    assert list(world.ancestors(oid)) == [obj]


def test_create_player_is_indexed(world: World) -> None:
    oid = make_player(world, "Alice")
    assert world.player_by_name("alice") == oid
    assert sorted(world.player_ids()) == [WIZARD, oid]


def test_create_with_explicit_id(world: World) -> None:
    oid = world.create(THING, WIZARD, "far away", oid=40)
    assert oid == 40 and world.next_id == 41
    assert world.get(40).owner == WIZARD
    assert world.create(THING, WIZARD, "next") == 41


def test_create_refusals(world: World, journal: Journal) -> None:
    assert_refused(world, journal, lambda: world.create(99, WIZARD, "x"), "#99")
    assert_refused(world, journal, lambda: world.create(THING, WIZARD, "x", location=99), "#99")
    assert_refused(
        world,
        journal,
        lambda: world.create(4, NOTHING, "WiZaRd", flags=Flag.PLAYER),
        "already taken",
    )
    assert_refused(world, journal, lambda: world.create(THING, WIZARD, "x", oid=3), "#3 already")


def test_create_refuses_a_negative_id(world: World, journal: Journal) -> None:
    # #-1 is NOTHING: an object with that id would make "nowhere" a place.
    assert_refused(world, journal, lambda: world.create(THING, WIZARD, "x", oid=NOTHING), "#-1")
    assert not world.valid(NOTHING)


# ------------------------------------------------------------------------ recycle


def test_recycle_reparents_children_and_drops_their_props(
    world: World, journal: Journal, tree: Tree
) -> None:
    world.move(tree.b, tree.box)  # the recycled class sits in the box
    thing = world.create(THING, WIZARD, "marble", location=tree.b)
    journal.batches.clear()

    world.recycle(tree.b)

    assert not world.valid(tree.b)
    c, d = world.get(tree.c), world.get(tree.d)
    assert c.parent == tree.a  # the grandparent
    assert sorted(world.children(tree.a)) == [tree.c]
    assert world.children(tree.b) == []
    assert world.children(tree.c) == [tree.d]
    # "size" was defined on the recycled object: gone from the child and the grandchild.
    assert "size" not in c.props and "size" not in d.props
    assert c.props["color"] == "blue" and d.props["color"] == "green"
    assert c.props["description"] == "C's own description"
    # Its contents go nowhere, and it leaves its own location.
    assert world.get(thing).location == NOTHING
    assert tree.b not in world.get(tree.box).contents
    assert journal.batches == [[m.Recycle(tree.b)]]
    assert world.next_id == thing + 1  # ids are not reused
    assert_indexes_consistent(world)


def test_recycle_a_root_object_leaves_children_parentless(world: World) -> None:
    top = world.create(NOTHING, WIZARD, "top")
    world.define_prop(top, "weight", 5, WIZARD)
    child = world.create(top, WIZARD, "child")
    world.set_prop(child, "weight", 6)
    world.recycle(top)
    assert world.get(child).parent == NOTHING
    assert world.get(child).props == {}
    assert_indexes_consistent(world)


def test_recycle_player_updates_the_player_index(world: World) -> None:
    zed = make_player(world, "Zed")
    world.recycle(zed)
    assert world.player_by_name("zed") is None
    assert zed not in world.player_ids()
    assert zed not in world.get(FIRST_ROOM).contents
    again = make_player(world, "zed")  # the name is free again
    assert world.player_by_name("Zed") == again


def test_recycle_refuses_an_invalid_object(world: World, journal: Journal) -> None:
    assert_refused(world, journal, lambda: world.recycle(99), "#99")


# --------------------------------------------------------------- fields: name etc.


def test_rename(world: World, journal: Journal) -> None:
    world.rename(LANTERN, "oil lamp")
    assert world.get(LANTERN).name == "oil lamp"
    assert journal.batches == [[m.SetField(LANTERN, "name", "oil lamp")]]


def test_rename_player_moves_the_index_entry(world: World) -> None:
    alice = make_player(world, "Alice")
    world.rename(alice, "Carol")
    assert world.player_by_name("alice") is None
    assert world.player_by_name("carol") == alice
    world.rename(alice, "CAROL")  # own name in another case is fine
    assert world.player_by_name("carol") == alice
    world.rename(LANTERN, "wizard")  # a non-player may share a player's name
    assert world.player_by_name("wizard") == WIZARD
    assert_indexes_consistent(world)


def test_rename_refusals(world: World, journal: Journal) -> None:
    alice = make_player(world, "Alice")
    journal.batches.clear()
    assert_refused(world, journal, lambda: world.rename(LANTERN, ""), "empty")
    assert_refused(world, journal, lambda: world.rename(LANTERN, "  \t"), "empty")
    assert_refused(world, journal, lambda: world.rename(alice, "wIzArD"), "already taken")
    assert_refused(world, journal, lambda: world.rename(99, "x"), "#99")


def test_set_aliases_copies_the_list(world: World, journal: Journal) -> None:
    aliases = ["light"]
    world.set_aliases(LANTERN, aliases)
    aliases.append("later")
    assert world.get(LANTERN).aliases == ["light"]
    assert journal.batches == [[m.SetField(LANTERN, "aliases", ["light"])]]
    assert_refused(world, journal, lambda: world.set_aliases(99, []), "#99")


def test_set_owner(world: World, journal: Journal) -> None:
    alice = make_player(world, "Alice")
    world.set_owner(LANTERN, alice)
    assert world.get(LANTERN).owner == alice
    assert_refused(world, journal, lambda: world.set_owner(99, alice), "#99")
    assert_refused(world, journal, lambda: world.set_owner(LANTERN, 99), "#99")
    assert_refused(world, journal, lambda: world.set_owner(LANTERN, NOTHING), "#-1")


def test_set_flags_maintains_the_player_index(world: World) -> None:
    world.set_flags(LANTERN, Flag.PLAYER | Flag.BUILDER)
    assert world.get(LANTERN).flags == Flag.PLAYER | Flag.BUILDER
    assert type(world.get(LANTERN).flags) is int
    assert world.player_by_name("Brass Lantern") == LANTERN
    world.set_flags(LANTERN, Flag.BUILDER)
    assert world.player_by_name("brass lantern") is None
    assert_indexes_consistent(world)


def test_set_flags_refusals(world: World, journal: Journal) -> None:
    impostor = world.create(THING, WIZARD, "Wizard")
    assert_refused(world, journal, lambda: world.set_flags(impostor, Flag.PLAYER), "taken")
    assert_refused(world, journal, lambda: world.set_flags(99, 0), "#99")
    world.set_flags(WIZARD, Flag.PLAYER | Flag.WIZARD)  # keeping PLAYER on itself is fine
    assert world.player_by_name("wizard") == WIZARD


# ---------------------------------------------------------------------- set_parent


def test_set_parent_moves_between_children_lists(world: World, tree: Tree) -> None:
    world.set_parent(tree.d, tree.a)
    assert world.get(tree.d).parent == tree.a
    assert tree.d in world.children(tree.a)
    assert tree.d not in world.children(tree.c)
    assert world.get(tree.d).props["color"] == "green"  # still defined through class A
    assert "size" not in world.get(tree.d).props  # class B is no longer an ancestor
    assert_indexes_consistent(world)


def test_set_parent_drops_props_from_object_and_descendants(world: World, tree: Tree) -> None:
    world.set_parent(tree.c, THING)
    c, d = world.get(tree.c), world.get(tree.d)
    assert c.props == {"description": "C's own description"}
    assert d.props == {}
    assert world.get_prop(tree.d, "description") == "C's own description"
    assert not world.has_prop(tree.d, "color")


def test_set_parent_to_nothing(world: World, tree: Tree) -> None:
    world.set_parent(tree.c, NOTHING)
    assert world.get(tree.c).props == {}
    assert list(world.ancestors(tree.c))[-1].id == tree.c
    assert_indexes_consistent(world)


def test_set_parent_refuses_loops(world: World, journal: Journal, tree: Tree) -> None:
    assert_refused(world, journal, lambda: world.set_parent(tree.a, tree.a), "loop")
    assert_refused(world, journal, lambda: world.set_parent(tree.a, tree.d), "loop")
    assert_refused(world, journal, lambda: world.set_parent(1, tree.c), "loop")


def test_set_parent_refuses_a_property_clash(world: World, journal: Journal, tree: Tree) -> None:
    other = world.create(THING, WIZARD, "other")
    world.define_prop(other, "color", "grey", WIZARD)
    assert_refused(world, journal, lambda: world.set_parent(other, tree.a), "'color'")
    # A clash on a descendant refuses too, naming the descendant.
    top = world.create(NOTHING, WIZARD, "top")
    below = world.create(top, WIZARD, "below")
    world.define_prop(below, "size", 0, WIZARD)
    journal.batches.clear()
    assert_refused(world, journal, lambda: world.set_parent(top, tree.b), f"#{below}")
    # "description" is defined on the root class: any object defining it cannot join.
    world.define_prop(top, "description", "mine", WIZARD)
    journal.batches.clear()
    assert_refused(world, journal, lambda: world.set_parent(top, THING), "'description'")


def test_set_parent_refuses_invalid_objects(world: World, journal: Journal) -> None:
    assert_refused(world, journal, lambda: world.set_parent(99, THING), "#99")
    assert_refused(world, journal, lambda: world.set_parent(LANTERN, 99), "#99")


# --------------------------------------------------------------------------- move


def test_move_updates_both_contents_lists(world: World, journal: Journal, tree: Tree) -> None:
    journal.batches.clear()
    world.move(tree.pebble, GARDEN)
    assert world.get(tree.pebble).location == GARDEN
    assert tree.pebble not in world.get(tree.box).contents
    assert world.get(GARDEN).contents == [tree.pebble]
    world.move(tree.pebble, NOTHING)
    assert world.get(tree.pebble).location == NOTHING
    assert tree.pebble not in world.get(GARDEN).contents
    world.move(tree.pebble, tree.box)
    assert world.get(tree.box).contents == [tree.pebble]
    assert journal.batches == [
        [m.Move(tree.pebble, GARDEN)],
        [m.Move(tree.pebble, NOTHING)],
        [m.Move(tree.pebble, tree.box)],
    ]


def test_move_to_the_same_place_records_nothing(world: World, journal: Journal) -> None:
    world.move(LANTERN, FIRST_ROOM)
    assert journal.batches == []
    assert world.get(FIRST_ROOM).contents.count(LANTERN) == 1


def test_move_refuses_into_itself_or_its_contents(
    world: World, journal: Journal, tree: Tree
) -> None:
    inner = world.create(THING, WIZARD, "inner", location=tree.pebble)
    journal.batches.clear()
    assert_refused(world, journal, lambda: world.move(tree.box, tree.box), "itself")
    assert_refused(world, journal, lambda: world.move(tree.box, tree.pebble), "itself")
    assert_refused(world, journal, lambda: world.move(tree.box, inner), "itself")
    assert_refused(world, journal, lambda: world.move(FIRST_ROOM, inner), "itself")


def test_move_refuses_invalid_objects(world: World, journal: Journal) -> None:
    assert_refused(world, journal, lambda: world.move(99, FIRST_ROOM), "#99")
    assert_refused(world, journal, lambda: world.move(LANTERN, 99), "#99")


# --------------------------------------------------------------------- properties


def test_set_prop_own_and_inherited(world: World, journal: Journal, tree: Tree) -> None:
    journal.batches.clear()
    world.set_prop(tree.a, "color", "purple")
    world.set_prop(tree.b, "color", "orange")
    assert world.get_prop(tree.a, "color") == "purple"
    assert world.get_prop(tree.b, "color") == "orange"
    world.set_prop(LANTERN, "description", [ObjRef(3), {"k": 1.5}])
    assert world.get_prop(LANTERN, "description") == [ObjRef(3), {"k": 1.5}]
    assert journal.batches[0] == [m.SetProp(tree.a, "color", "purple")]


def test_set_prop_refusals(world: World, journal: Journal, tree: Tree) -> None:
    assert_refused(world, journal, lambda: world.set_prop(tree.a, "size", 2), "no property")
    assert_refused(world, journal, lambda: world.set_prop(LANTERN, "zzz", 2), "no property")
    assert_refused(world, journal, lambda: world.set_prop(99, "description", ""), "#99")


def test_clear_prop_makes_the_value_inherited_again(
    world: World, journal: Journal, tree: Tree
) -> None:
    journal.batches.clear()
    world.clear_prop(tree.c, "color")
    assert "color" not in world.get(tree.c).props
    assert world.get_prop(tree.c, "color") == "red"
    assert journal.batches == [[m.ClearProp(tree.c, "color")]]
    world.clear_prop(tree.c, "color")  # nothing of its own left: no record
    world.clear_prop(tree.c, "never-defined")
    assert len(journal.batches) == 1


def test_clear_prop_refusals(world: World, journal: Journal, tree: Tree) -> None:
    assert_refused(world, journal, lambda: world.clear_prop(tree.a, "color"), "defines")
    assert_refused(world, journal, lambda: world.clear_prop(99, "color"), "#99")


def test_define_prop(world: World, journal: Journal, tree: Tree) -> None:
    journal.batches.clear()
    world.define_prop(tree.b, "shine", 0.5, WIZARD, "rw")
    b = world.get(tree.b)
    assert b.propdefs["shine"] == PropDef(owner=WIZARD, perms="rw")
    assert b.props["shine"] == 0.5
    assert world.get_prop(tree.d, "shine") == 0.5
    assert journal.batches == [
        [m.DefineProp(tree.b, "shine", PropDef(owner=WIZARD, perms="rw"), 0.5)]
    ]


def test_define_prop_default_perms_are_read(world: World) -> None:
    world.define_prop(LANTERN, "fuel", 3, WIZARD)
    assert world.get(LANTERN).propdefs["fuel"] == PropDef(owner=WIZARD, perms="r")


@pytest.mark.parametrize("name", sorted(BUILTIN_PROPERTIES | {""}))
def test_define_prop_refuses_builtin_and_empty_names(
    world: World, journal: Journal, name: str
) -> None:
    assert_refused(
        world, journal, lambda: world.define_prop(LANTERN, name, 1, WIZARD), "property name"
    )


def test_define_prop_refusals(world: World, journal: Journal, tree: Tree) -> None:
    # Own, inherited, and defined further down the tree.
    assert_refused(
        world, journal, lambda: world.define_prop(tree.a, "color", 1, WIZARD), "already has"
    )
    assert_refused(
        world, journal, lambda: world.define_prop(tree.d, "size", 1, WIZARD), "already has"
    )
    assert_refused(
        world, journal, lambda: world.define_prop(THING, "size", 1, WIZARD), f"#{tree.b}"
    )
    assert_refused(world, journal, lambda: world.define_prop(99, "x", 1, WIZARD), "#99")


def test_undefine_prop_drops_values_on_descendants(
    world: World, journal: Journal, tree: Tree
) -> None:
    journal.batches.clear()
    world.undefine_prop(tree.a, "color")
    assert "color" not in world.get(tree.a).propdefs
    for oid in (tree.a, tree.b, tree.c, tree.d):
        assert "color" not in world.get(oid).props
        assert not world.has_prop(oid, "color")
    assert world.get(tree.d).props["size"] == 4
    assert journal.batches == [[m.UndefineProp(tree.a, "color")]]


def test_undefine_prop_refusals(world: World, journal: Journal, tree: Tree) -> None:
    assert_refused(world, journal, lambda: world.undefine_prop(tree.b, "color"), "does not")
    assert_refused(world, journal, lambda: world.undefine_prop(tree.b, "zzz"), "does not")
    assert_refused(world, journal, lambda: world.undefine_prop(99, "color"), "#99")


# -------------------------------------------------------------------------- verbs


def test_set_verbs_and_add_verb(world: World, journal: Journal) -> None:
    first = VerbDef("rub", WIZARD, "rxd", "this", "none", "none", "py:x.rub")
    second = VerbDef("sh*ine", WIZARD, "rxd", "this", "none", "none", "py:x.shine")
    world.set_verbs(LANTERN, [first])
    world.add_verb(LANTERN, second)
    assert world.get(LANTERN).verbs == [first, second]
    world.set_verbs(LANTERN, [])
    assert world.get(LANTERN).verbs == []
    assert journal.batches == [
        [m.SetVerbs(LANTERN, [first])],
        [m.SetVerbs(LANTERN, [first, second])],
        [m.SetVerbs(LANTERN, [])],
    ]
    assert_refused(world, journal, lambda: world.set_verbs(99, [first]), "#99")
    assert_refused(world, journal, lambda: world.add_verb(99, first), "#99")


# ------------------------------------------------------------------- transactions


def test_records_reach_observers_only_on_commit_as_one_batch(
    world: World, journal: Journal
) -> None:
    seen_inside: list[int] = []
    with world.transaction():
        assert world.in_transaction
        oid = world.create(THING, WIZARD, "cup")
        world.move(oid, FIRST_ROOM)
        with world.transaction():  # nested: joins the outer one
            world.rename(oid, "mug")
            world.set_prop(oid, "description", "A mug.")
        seen_inside.append(len(journal.batches))
    assert not world.in_transaction
    assert seen_inside == [0]
    assert len(journal.batches) == 1
    assert [type(r) for r in journal.batches[0]] == [m.Create, m.Move, m.SetField, m.SetProp]


def test_each_mutation_outside_a_transaction_is_its_own_batch(
    world: World, journal: Journal
) -> None:
    world.rename(LANTERN, "lamp")
    world.move(LANTERN, GARDEN)
    assert [len(b) for b in journal.batches] == [1, 1]


def test_empty_transaction_tells_nobody(world: World, journal: Journal) -> None:
    with world.transaction():
        world.move(LANTERN, FIRST_ROOM)  # already there: no record
    assert journal.batches == []


def test_every_observer_gets_the_batch_and_removed_ones_do_not(world: World) -> None:
    one, two = Journal(), Journal()
    world.add_observer(one)
    world.add_observer(two)
    world.rename(LANTERN, "lamp")
    world.remove_observer(one)
    world.rename(LANTERN, "lantern")
    assert len(one.batches) == 1 and len(two.batches) == 2


def test_exception_rolls_back_everything(world: World, journal: Journal, tree: Tree) -> None:
    alice = make_player(world, "Alice")
    journal.batches.clear()
    digest, indexes = world.digest(), index_state(world)

    with pytest.raises(RuntimeError, match="boom"), world.transaction():
        new = world.create(THING, WIZARD, "new thing", location=tree.box)
        world.move(tree.pebble, new)
        world.set_prop(tree.c, "color", "black")
        world.define_prop(tree.a, "weight", 1, WIZARD)
        world.set_parent(tree.c, THING)
        world.rename(alice, "Bob")
        world.set_flags(LANTERN, Flag.PLAYER)
        world.recycle(tree.b)
        world.recycle(alice)
        bob = make_player(world, "Alice")  # the freed name, taken by another player
        world.undefine_prop(tree.a, "color")
        world.set_verbs(FIRST_ROOM, [])
        assert bob != alice
        raise RuntimeError("boom")

    assert world.digest() == digest
    assert index_state(world) == indexes
    assert world.player_by_name("alice") == alice
    assert world.player_by_name("bob") is None
    assert world.player_by_name("brass lantern") is None
    assert sorted(world.children(tree.b)) == [tree.c]
    assert journal.batches == []
    assert not world.in_transaction
    assert_indexes_consistent(world)
    # The world still works, and ids handed out in the undone transaction are handed out again.
    assert world.create(THING, WIZARD, "after") == tree.pebble + 2


def test_rollback_after_create_move_set_prop_recycle(world: World, journal: Journal) -> None:
    digest, indexes = world.digest(), index_state(world)
    lantern_before = clone(world.get(LANTERN))
    with pytest.raises(ValueError), world.transaction():
        bag = world.create(THING, WIZARD, "bag", location=FIRST_ROOM)
        world.move(LANTERN, bag)
        world.set_prop(LANTERN, "description", "changed")
        world.set_prop(bag, "description", "a bag")
        world.recycle(bag)
        assert world.get(LANTERN).location == NOTHING
        raise ValueError
    assert world.digest() == digest
    assert index_state(world) == indexes
    assert world.get(LANTERN) == lantern_before
    assert world.get(FIRST_ROOM).contents == [WIZARD, LANTERN]
    assert not world.valid(15) and world.next_id == 15
    assert journal.batches == []


def test_rollback_of_swapped_player_names(world: World) -> None:
    alice, bob = make_player(world, "Alice"), make_player(world, "Bob")
    indexes = index_state(world)
    with pytest.raises(KeyError), world.transaction():
        world.rename(bob, "tmp")
        world.rename(alice, "Bob")
        world.rename(bob, "Alice")
        raise KeyError
    assert index_state(world) == indexes
    assert world.player_by_name("alice") == alice and world.player_by_name("bob") == bob
    assert world.player_by_name("tmp") is None


def test_refusal_inside_a_transaction_keeps_the_earlier_changes(
    world: World, journal: Journal
) -> None:
    with world.transaction():
        world.rename(LANTERN, "lamp")
        with pytest.raises(WorldError):
            world.move(LANTERN, 99)
    assert world.get(LANTERN).name == "lamp"
    assert journal.batches == [[m.SetField(LANTERN, "name", "lamp")]]


def test_exception_in_nested_transaction_rolls_back_the_outer_one(
    world: World, journal: Journal
) -> None:
    digest = world.digest()
    with pytest.raises(LookupError), world.transaction():
        world.rename(LANTERN, "lamp")
        with world.transaction():
            world.move(LANTERN, GARDEN)
            raise LookupError
    assert world.digest() == digest
    assert journal.batches == []


# ------------------------------------------------------------------- change hooks


def test_change_hook_runs_once_per_object_per_transaction_before_the_change(
    world: World,
) -> None:
    calls: list[tuple[int, str | None, int | None]] = []

    def hook(oid: int) -> None:
        obj = world.objects.get(oid)
        calls.append((oid, obj.name if obj else None, obj.location if obj else None))

    world.add_change_hook(hook)
    with world.transaction():
        world.rename(LANTERN, "lamp")
        world.rename(LANTERN, "light")
        world.move(LANTERN, GARDEN)
        world.set_prop(LANTERN, "description", "x")
    assert calls == [
        (LANTERN, "brass lantern", FIRST_ROOM),  # seen as it was before the change
        (FIRST_ROOM, "The First Room", NOTHING),
        (GARDEN, "The Garden", NOTHING),
    ]
    calls.clear()
    world.rename(LANTERN, "again")  # a new transaction: called again
    assert calls == [(LANTERN, "light", GARDEN)]
    calls.clear()
    new = world.create(THING, WIZARD, "new", location=GARDEN)
    assert calls == [(new, None, None), (GARDEN, "The Garden", NOTHING)]
    world.remove_change_hook(hook)
    calls.clear()
    world.rename(LANTERN, "gone")
    assert calls == []


def test_change_hook_sees_every_object_a_recycle_touches(world: World, tree: Tree) -> None:
    called: list[int] = []
    world.add_change_hook(called.append)
    world.recycle(tree.box)
    assert sorted(called) == sorted([tree.box, FIRST_ROOM, tree.pebble])
    called.clear()
    world.recycle(tree.b)
    assert sorted(called) == sorted([tree.b, tree.c, tree.d])


def test_change_hook_not_called_for_refused_or_empty_changes(world: World) -> None:
    called: list[int] = []
    world.add_change_hook(called.append)
    with pytest.raises(WorldError):
        world.move(LANTERN, LANTERN)
    world.move(LANTERN, FIRST_ROOM)
    assert called == []


# ------------------------------------------------------------------------ digest


def test_digest_is_stable_and_sensitive(world: World) -> None:
    other = build_core_world()
    assert world.digest() == other.digest()
    assert len(world.digest()) == 64
    other.set_prop(LANTERN, "description", "different")
    assert world.digest() != other.digest()
    third = build_core_world()
    third.next_id = 16
    assert world.digest() != third.digest()


def test_digest_ignores_dict_insertion_order(world: World) -> None:
    other = build_core_world()
    world.define_prop(LANTERN, "alpha", {"x": 1, "y": 2}, WIZARD)
    world.define_prop(LANTERN, "beta", 2, WIZARD)
    other.define_prop(LANTERN, "beta", 2, WIZARD)
    other.define_prop(LANTERN, "alpha", {"y": 2, "x": 1}, WIZARD)
    assert list(world.get(LANTERN).props) != list(other.get(LANTERN).props)
    assert world.digest() == other.digest()


def test_digest_sees_contents_order(world: World) -> None:
    other = build_core_world()
    other.objects[FIRST_ROOM].contents.reverse()
    assert world.digest() != other.digest()


# ------------------------------------------------------------------- permissions


@dataclass
class PermWorld:
    world: World
    owner: int  # owns the object
    prop_owner: int  # owns the properties, defined on the class
    stranger: int
    builder: int
    cls: int
    obj: int


@pytest.fixture
def pw(world: World) -> PermWorld:
    owner = make_player(world, "Alice")
    prop_owner = make_player(world, "Bob")
    stranger = make_player(world, "Carol")
    builder = world.create(world.sys("builder"), NOTHING, "Dan", flags=Flag.PLAYER | Flag.BUILDER)
    cls = world.create(THING, prop_owner, "class")
    for name, mode in [("secret", ""), ("open", "w"), ("mine", "c"), ("shown", "r")]:
        world.define_prop(cls, name, 0, prop_owner, mode)
    obj = world.create(cls, owner, "object")
    return PermWorld(world, owner, prop_owner, stranger, builder, cls, obj)


def test_role_checks(pw: PermWorld) -> None:
    w = pw.world
    assert perms.is_wizard(w, WIZARD) and not perms.is_wizard(w, pw.owner)
    assert perms.is_builder(w, WIZARD) and perms.is_builder(w, pw.builder)
    assert not perms.is_builder(w, pw.owner)
    assert not perms.is_wizard(w, 99) and not perms.is_builder(w, 99)
    assert perms.controls(w, pw.owner, pw.obj) and perms.controls(w, WIZARD, pw.obj)
    assert not perms.controls(w, pw.stranger, pw.obj)
    assert not perms.controls(w, pw.owner, 99)


@pytest.mark.parametrize(
    ("name", "who", "expected"),
    [
        # "": only the property's owner (and wizards).
        ("secret", "prop_owner", True),
        ("secret", "owner", False),
        ("secret", "stranger", False),
        # "w": anyone.
        ("open", "prop_owner", True),
        ("open", "owner", True),
        ("open", "stranger", True),
        # "c": on a descendant the value belongs to the descendant's owner.
        ("mine", "owner", True),
        ("mine", "prop_owner", False),
        ("mine", "stranger", False),
        # "r" says nothing about writing.
        ("shown", "prop_owner", True),
        ("shown", "owner", False),
    ],
)
def test_can_write_inherited_prop(pw: PermWorld, name: str, who: str, expected: bool) -> None:
    assert perms.can_write_prop(pw.world, getattr(pw, who), pw.obj, name) is expected
    assert perms.can_write_prop(pw.world, WIZARD, pw.obj, name)


def test_can_write_c_prop_on_its_definer_is_the_property_owner(pw: PermWorld) -> None:
    assert perms.can_write_prop(pw.world, pw.prop_owner, pw.cls, "mine")
    assert not perms.can_write_prop(pw.world, pw.owner, pw.cls, "mine")


def test_no_one_writes_or_reads_an_undefined_prop(pw: PermWorld) -> None:
    assert not perms.can_write_prop(pw.world, WIZARD, pw.obj, "nope")
    assert not perms.can_read_prop(pw.world, WIZARD, pw.obj, "nope")


@pytest.mark.parametrize(
    ("name", "who", "expected"),
    [
        ("shown", "stranger", True),
        ("secret", "stranger", False),
        ("secret", "owner", False),
        ("secret", "prop_owner", True),
        ("secret", "wizard", True),
    ],
)
def test_can_read_prop(pw: PermWorld, name: str, who: str, expected: bool) -> None:
    whom = WIZARD if who == "wizard" else getattr(pw, who)
    assert perms.can_read_prop(pw.world, whom, pw.obj, name) is expected


def test_owner_of_object_can_read_its_c_prop(pw: PermWorld) -> None:
    # MOO: with "c", the owner of the property on a descendant is the descendant's owner,
    # and a property's owner may read it. Players' own ssh_keys ("c", not "r") are the case.
    assert perms.can_read_prop(pw.world, pw.owner, pw.obj, "mine")
    assert not perms.can_read_prop(pw.world, pw.stranger, pw.obj, "mine")
    assert perms.can_read_prop(pw.world, pw.owner, pw.owner, "ssh_keys")


def test_require_checks_raise_with_the_command_in_the_message(pw: PermWorld) -> None:
    w = pw.world
    with pytest.raises(PermissionDenied, match="@shutdown is for wizards only"):
        perms.require_wizard(w, pw.builder, "@shutdown")
    with pytest.raises(PermissionDenied, match="@dig is for builders only"):
        perms.require_builder(w, pw.owner, "@dig")
    with pytest.raises(PermissionDenied, match=r"You don't own object \(#\d+\), so you can't zap"):
        perms.require_control(w, pw.stranger, pw.obj, "zap it")
    with pytest.raises(PermissionDenied, match=r"You may not change secret on object \(#\d+\)"):
        perms.require_write_prop(w, pw.owner, pw.obj, "secret")
    perms.require_wizard(w, WIZARD, "@shutdown")
    perms.require_builder(w, pw.builder, "@dig")
    perms.require_builder(w, WIZARD, "@dig")
    perms.require_control(w, pw.owner, pw.obj, "zap it")
    perms.require_write_prop(w, pw.owner, pw.obj, "mine")


# -------------------------------------------------------------------------- loader


def test_core_world_objects(world: World) -> None:
    assert sorted(world.objects) == list(range(15))
    assert world.next_id == 15
    assert world.get(0).name == "The System Object"
    expected = {
        "root": 1,
        "room": 3,
        "player": 4,
        "thing": 5,
        "exit": 6,
        "wizard": 7,
        "builder": 8,
        "help": 9,
        "first_room": 10,
    }
    for name, oid in expected.items():
        assert world.sys(f"${name}") == oid, name
    wizard = world.get(WIZARD)
    assert wizard.flags == Flag.PLAYER | Flag.PROGRAMMER | Flag.WIZARD | Flag.BUILDER
    assert wizard.location == FIRST_ROOM
    assert world.get(FIRST_ROOM).contents == [WIZARD, LANTERN]
    assert world.get(12).aliases == ["n", "garden", "door"]
    assert world.get_prop(FIRST_ROOM, "exits") == [ObjRef(12)]
    assert world.get_prop(12, "dest") == ObjRef(GARDEN)
    assert world.get(4).propdefs["password"] == PropDef(owner=WIZARD, perms="")
    assert world.get_prop(WIZARD, "home") == ObjRef(FIRST_ROOM)
    assert_indexes_consistent(world)


def test_core_world_help_topics(world: World) -> None:
    topics = world.get_prop(world.sys("help"), "topics")
    raw = yaml.safe_load((DEFAULT_CORE_DIR / "help.yaml").read_text(encoding="utf-8"))
    assert topics == {str(k): str(v) for k, v in raw.items()}
    assert "summary" in topics


def test_every_verb_binding_is_present(world: World) -> None:
    load_verb_modules()
    found = bindings()
    assert len(found) >= 29
    for binding in found:
        oid = resolve_target(world, binding.target)
        records = [v for v in world.get(oid).verbs if v.impl == binding.impl]
        assert len(records) == 1, binding
        record = records[0]
        assert record.names == binding.names
        assert (record.dobj, record.iobj, record.perms) == (
            binding.dobj,
            binding.iobj,
            binding.perms,
        )
        assert record.owner == WIZARD
        assert callable(resolve(record.impl))
    give = next(v for v in world.get(THING).verbs if v.names == "give hand")
    assert give.prep == "at/to"


def test_sync_verbs_on_a_complete_world_adds_nothing(world: World, journal: Journal) -> None:
    digest = world.digest()
    assert sync_verbs(world) == 0
    assert world.digest() == digest
    assert journal.batches == []


def test_sync_verbs_restores_a_missing_verb(world: World, journal: Journal) -> None:
    verbs = world.get(ROOM).verbs
    look = next(v for v in verbs if v.names == "l*ook")
    world.set_verbs(ROOM, [v for v in verbs if v is not look])
    journal.batches.clear()
    assert sync_verbs(world) == 1
    assert look in world.get(ROOM).verbs
    assert sorted(world.get(ROOM).verbs, key=lambda v: v.impl) == sorted(
        verbs, key=lambda v: v.impl
    )
    assert len(journal.batches) == 1


def test_resolve_target() -> None:
    world = build_core_world()
    assert resolve_target(world, "$room") == ROOM
    assert resolve_target(world, "#12") == 12
    with pytest.raises(WorldError, match="must be"):
        resolve_target(world, "room")


def _core_copy(tmp_path: Path) -> Path:
    core = tmp_path / "core"
    shutil.copytree(DEFAULT_CORE_DIR, core)
    return core


def test_build_core_world_from_a_copy_is_the_same_world(tmp_path: Path) -> None:
    assert build_core_world(_core_copy(tmp_path)).digest() == build_core_world().digest()


def test_build_core_world_refuses_an_unknown_flag(tmp_path: Path) -> None:
    core = _core_copy(tmp_path)
    path = core / "objects.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("flags: [read]", "flags: [read, shiny]", 1), encoding="utf-8")
    with pytest.raises(WorldError, match="unknown flag 'shiny'"):
        build_core_world(core)


def test_build_core_world_without_help_file(tmp_path: Path) -> None:
    core = _core_copy(tmp_path)
    (core / "help.yaml").unlink()
    world = build_core_world(core)
    assert world.get_prop(world.sys("help"), "topics") == {}

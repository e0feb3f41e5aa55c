"""Each object's own property owner and permissions (LambdaMOO's per-object property slots),
and renaming a property through ``set_property_info``.

``set_property_info`` on an object that inherits a property changes it on that object only.
It once changed the definition on the definer instead, for every object: a player could
take over ``$player.ssh_keys`` (a ``c`` property, so theirs on themself) and with it read and
write every player's SSH keys."""

from __future__ import annotations

import pytest

from moo.world.model import Flag, PropDef
from moo.world.values import Err, ObjRef
from tests.unit.lang.test_task_helpers import THING, WIZARD, TaskWorld, make

PLAYER_CLASS = 4


@pytest.fixture
def tw() -> TaskWorld:
    """Pleb may evaluate code here (a programmer, not a wizard, owning nothing but itself)."""
    made = make()
    made.world.set_flags(made.pleb, made.world.objects[made.pleb].flags | Flag.PROGRAMMER)
    return made


def o(oid: int) -> ObjRef:
    return ObjRef(oid)


def test_a_player_changing_their_own_c_property_changes_only_theirs(tw: TaskWorld) -> None:
    definition = tw.world.objects[PLAYER_CLASS].propdefs["ssh_keys"]
    assert definition == PropDef(WIZARD, "c")
    assert tw.bi(tw.pleb, "set_property_info", o(tw.pleb), "ssh_keys", [o(tw.pleb), "rw"]) == 0
    assert tw.world.objects[PLAYER_CLASS].propdefs["ssh_keys"] == definition
    assert tw.bi(tw.pleb, "property_info", o(tw.pleb), "ssh_keys") == [o(tw.pleb), "rw"]
    # Everyone else's keys are as closed as before.
    assert tw.bi(tw.pleb, "property_info", o(tw.prog), "ssh_keys") == Err.E_PERM
    assert tw.eval(tw.pleb, f"return #{tw.prog}.ssh_keys;").value == Err.E_PERM
    assert tw.bi(WIZARD, "property_info", o(tw.prog), "ssh_keys") == [o(tw.prog), "c"]
    # And Pleb may not give their slot to someone else.
    given = [o(WIZARD), ""]
    assert tw.bi(tw.pleb, "set_property_info", o(tw.pleb), "ssh_keys", given) == Err.E_PERM


def test_a_slot_is_inherited_by_children_below_the_definer(tw: TaskWorld) -> None:
    world = tw.world
    world.define_prop(THING, "tint", "red", WIZARD, "r")
    assert tw.bi(WIZARD, "set_property_info", o(tw.box), "tint", [o(tw.prog), "rw"]) == 0
    inner = world.create(tw.box, tw.pleb, "inner")
    assert tw.bi(WIZARD, "property_info", o(inner), "tint") == [o(tw.prog), "rw"]
    assert tw.eval(tw.pleb, f'#{inner}.tint = "blue"; return #{inner}.tint;').value == "blue"
    assert tw.bi(WIZARD, "property_info", o(THING), "tint") == [o(WIZARD), "r"]
    other = world.create(THING, tw.pleb, "other")
    assert tw.eval(tw.pleb, f'#{other}.tint = "blue";').value == Err.E_PERM
    # With c, a slot given to an ancestor gives its permissions, not its owner.
    world.define_prop(THING, "shade", 1, WIZARD, "c")
    assert tw.bi(WIZARD, "set_property_info", o(tw.box), "shade", [o(tw.prog), "rc"]) == 0
    assert tw.bi(WIZARD, "property_info", o(inner), "shade") == [o(tw.pleb), "rc"]
    assert tw.bi(WIZARD, "property_info", o(tw.box), "shade") == [o(tw.prog), "rc"]


def test_a_slot_goes_with_its_property(tw: TaskWorld) -> None:
    world = tw.world
    world.define_prop(THING, "tint", "red", WIZARD, "r")
    world.set_prop_info(tw.box, "tint", PropDef(tw.prog, "rw"))
    world.undefine_prop(THING, "tint")
    assert "tint" not in world.objects[tw.box].propinfo
    world.define_prop(THING, "tint", "red", WIZARD, "r")
    assert tw.bi(WIZARD, "property_info", o(tw.box), "tint") == [o(WIZARD), "r"]


def test_set_property_info_renames_a_property_on_its_definer(tw: TaskWorld) -> None:
    world = tw.world
    world.define_prop(tw.box, "colour", "red", tw.prog, "r")
    inner = world.create(tw.box, tw.prog, "inner")
    world.set_prop(inner, "colour", "blue")
    info = [o(tw.prog), "rw", "color"]
    assert tw.bi(tw.pleb, "set_property_info", o(tw.box), "colour", info) == Err.E_PERM
    assert tw.bi(tw.prog, "set_property_info", o(inner), "colour", info) == Err.E_INVARG
    assert tw.bi(tw.prog, "set_property_info", o(tw.box), "colour", info) == 0
    assert tw.eval(tw.prog, f"return {{#{tw.box}.color, #{inner}.color}};").value == [
        "red",
        "blue",
    ]
    assert tw.eval(tw.prog, f"return #{inner}.colour;").value == Err.E_PROPNF
    assert tw.bi(tw.prog, "property_info", o(tw.box), "color") == [o(tw.prog), "rw"]
    # A name the object, an ancestor or a descendant has is refused; a new case is not.
    world.define_prop(inner, "size", 1, tw.prog)
    for taken in ("description", "SIZE", "name"):
        info = [o(tw.prog), "r", taken]
        assert tw.bi(tw.prog, "set_property_info", o(tw.box), "color", info) == Err.E_INVARG
    assert tw.bi(tw.prog, "set_property_info", o(tw.box), "color", [o(tw.prog), "r", "Color"]) == 0
    assert list(world.objects[tw.box].propdefs) == ["Color"]

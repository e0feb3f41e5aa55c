"""``obj.name`` and ``obj.name = v`` through ``Task.get_prop`` / ``set_prop``: built-in
properties, inheritance and every permission rule of LambdaMOO's."""

from __future__ import annotations

from typing import Any

import pytest

from moo.lang.task import Task
from moo.world.model import Flag
from moo.world.values import NOTHING, Err, ObjRef
from tests.unit.lang.test_task_helpers import ROOM, WIZARD, TaskWorld, make


@pytest.fixture
def tw() -> TaskWorld:
    return make()


def get(tw: TaskWorld, progr: int, oid: int, name: Any) -> Any:
    return tw.run(progr, lambda t: t.get_prop(ObjRef(oid), name)).value


def put(tw: TaskWorld, progr: int, oid: Any, name: Any, value: Any) -> Any:
    target = oid if isinstance(oid, ObjRef) else ObjRef(oid)
    return tw.run(progr, lambda t: t.set_prop(target, name, value)).value


def test_builtin_properties_read_by_anyone(tw: TaskWorld) -> None:
    assert get(tw, tw.pleb, tw.box, "name") == "box"
    assert get(tw, tw.pleb, tw.box, "owner") == ObjRef(tw.prog)
    assert get(tw, tw.pleb, tw.box, "location") == ObjRef(ROOM)
    assert ObjRef(tw.box) in get(tw, tw.pleb, ROOM, "contents")
    assert get(tw, tw.pleb, tw.prog, "programmer") == 1
    assert get(tw, tw.pleb, tw.prog, "wizard") == 0
    assert get(tw, tw.pleb, WIZARD, "wizard") == 1
    assert get(tw, tw.pleb, 5, "f") == 1
    assert get(tw, tw.pleb, tw.box, "r") == 0
    assert get(tw, tw.pleb, tw.box, "NAME") == "box"


def test_errors_for_bad_targets(tw: TaskWorld) -> None:
    assert get(tw, tw.prog, 9999, "name") == Err.E_INVIND
    assert tw.run(tw.prog, lambda t: t.get_prop(5, "name")).value == Err.E_TYPE
    assert tw.run(tw.prog, lambda t: t.get_prop(ObjRef(5), 5)).value == Err.E_TYPE
    assert get(tw, tw.prog, tw.box, "nonesuch") == Err.E_PROPNF
    assert put(tw, tw.prog, 9999, "name", "x") == Err.E_INVIND
    assert put(tw, tw.prog, tw.box, "nonesuch", 1) == Err.E_PROPNF
    assert get(tw, tw.prog, tw.box, "parent") == Err.E_PROPNF  # LambdaMOO has no .parent
    assert get(tw, tw.prog, tw.prog, "player") == Err.E_PROPNF  # nor .player: is_player()


def test_dollar_player_is_the_system_objects_property(tw: TaskWorld) -> None:
    """``$player`` is ``#0.player``, a property like any (the player class), never the
    player flag of #0: every LambdaCore verb that says ``isa(x, $player)`` needs it."""
    player_class = tw.world.sys("player")
    assert player_class != NOTHING
    assert get(tw, tw.pleb, 0, "player") == ObjRef(player_class)
    assert tw.eval(tw.prog, "$player").value == ObjRef(player_class)


def test_name_owner_or_wizard_and_players_names_wizards_only(tw: TaskWorld) -> None:
    assert put(tw, tw.pleb, tw.box, "name", "crate") == Err.E_PERM
    assert put(tw, tw.prog, tw.box, "name", 3) == Err.E_TYPE
    put(tw, tw.prog, tw.box, "name", "crate")
    assert tw.world.objects[tw.box].name == "crate"
    assert put(tw, tw.prog, tw.prog, "name", "Progger") == Err.E_PERM
    put(tw, WIZARD, tw.prog, "name", "Progger")
    assert tw.world.objects[tw.prog].name == "Progger"


def test_owner_programmer_wizard_player_flags_are_wizard_only(tw: TaskWorld) -> None:
    for name, value in (("owner", ObjRef(tw.pleb)), ("programmer", 1), ("wizard", 1)):
        assert put(tw, tw.prog, tw.box, name, value) == Err.E_PERM
    assert put(tw, tw.prog, tw.prog, "wizard", 1) == Err.E_PERM
    put(tw, WIZARD, tw.box, "owner", ObjRef(tw.pleb))
    assert tw.world.objects[tw.box].owner == tw.pleb
    put(tw, WIZARD, tw.pleb, "programmer", 1)
    assert tw.world.objects[tw.pleb].has_flag(Flag.PROGRAMMER)


def test_rwf_flags_owner_or_wizard(tw: TaskWorld) -> None:
    assert put(tw, tw.pleb, tw.box, "r", 1) == Err.E_PERM
    put(tw, tw.prog, tw.box, "r", 1)
    put(tw, tw.prog, tw.box, "f", 1)
    assert tw.world.objects[tw.box].has_flag(Flag.READ)
    assert tw.world.objects[tw.box].has_flag(Flag.FERTILE)
    put(tw, WIZARD, tw.box, "r", 0)
    assert not tw.world.objects[tw.box].has_flag(Flag.READ)


def test_location_and_contents_are_never_assigned(tw: TaskWorld) -> None:
    assert put(tw, WIZARD, tw.box, "location", ObjRef(WIZARD)) == Err.E_PERM
    assert put(tw, WIZARD, tw.box, "contents", []) == Err.E_PERM


def test_property_read_and_write_bits(tw: TaskWorld) -> None:
    tw.world.define_prop(tw.box, "secret", "s", tw.prog, perms="")
    tw.world.define_prop(tw.box, "open", "o", tw.prog, perms="rw")
    assert get(tw, tw.pleb, tw.box, "secret") == Err.E_PERM
    assert get(tw, tw.prog, tw.box, "secret") == "s"  # the property's owner
    assert get(tw, WIZARD, tw.box, "secret") == "s"  # a wizard
    assert get(tw, tw.pleb, tw.box, "open") == "o"
    assert put(tw, tw.pleb, tw.box, "secret", 1) == Err.E_PERM
    put(tw, tw.pleb, tw.box, "open", "changed")
    assert tw.world.get_prop(tw.box, "open") == "changed"
    put(tw, WIZARD, tw.box, "secret", "wiz")
    assert tw.world.get_prop(tw.box, "secret") == "wiz"


def test_inherited_values_and_the_c_bit(tw: TaskWorld) -> None:
    tw.world.set_flags(tw.box, int(Flag.FERTILE))
    tw.world.define_prop(tw.box, "colour", "red", tw.prog, perms="r")
    tw.world.define_prop(tw.box, "shared", "x", tw.prog, perms="rc")
    kid = tw.world.create(tw.box, tw.pleb, "kid")
    assert get(tw, tw.pleb, kid, "colour") == "red"  # inherited value
    assert get(tw, tw.pleb, kid, "Colour") == "red"  # names ignore case
    # without c the property stays its definer-owner's on the child: the child's owner may not
    assert put(tw, tw.pleb, kid, "colour", "blue") == Err.E_PERM
    put(tw, tw.prog, kid, "colour", "blue")
    assert tw.world.get_prop(kid, "colour") == "blue"
    assert tw.world.get_prop(tw.box, "colour") == "red"
    # with c the child's owner owns it there, and the definer's owner does not
    put(tw, tw.pleb, kid, "shared", "mine")
    assert tw.world.get_prop(kid, "shared") == "mine"
    assert put(tw, tw.prog, kid, "shared", "theirs") == Err.E_PERM


def test_system_property_reads_as_hash_zero(tw: TaskWorld) -> None:
    def body(t: Task) -> Any:
        return t.get_prop(ObjRef(0), "room")

    assert tw.run(tw.pleb, body).value == ObjRef(3)


def test_server_options_protect_builtin_properties(tw: TaskWorld) -> None:
    options = tw.world.create(1, WIZARD, "server options")
    tw.world.define_prop(0, "server_options", ObjRef(options), WIZARD)
    tw.world.define_prop(options, "protect_name", 1, WIZARD)
    assert put(tw, tw.prog, tw.box, "name", "crate") == Err.E_PERM
    put(tw, WIZARD, tw.box, "name", "crate")
    assert tw.world.objects[tw.box].name == "crate"
    put(tw, tw.prog, tw.box, "r", 1)  # not protected
    assert tw.world.objects[tw.box].has_flag(Flag.READ)

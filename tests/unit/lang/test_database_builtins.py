"""The last of LambdaMOO 1.8.1's builtins: ``dump_database db_disk_size reset_max_object
renumber disassemble force_input flush_input output_delimiters``, with their permission
rules, on a real core world."""

from __future__ import annotations

import pytest

from moo.commands.context import ConnectedPlayer
from moo.lang.builtins import BUILTINS
from moo.world.model import MOO_IMPL, VerbDef
from moo.world.values import Err, ObjRef
from tests.unit.lang.test_task_helpers import ROOM, THING, WIZARD, TaskWorld, make


@pytest.fixture
def tw() -> TaskWorld:
    return make()


def o(oid: int) -> ObjRef:
    return ObjRef(oid)


def test_every_builtin_of_lambdamoo_1_8_1_is_there() -> None:
    for name in ("dump_database", "db_disk_size", "reset_max_object", "renumber"):
        assert name in BUILTINS
    assert {"disassemble", "force_input", "flush_input", "output_delimiters"} <= set(BUILTINS)


def test_dump_database_is_for_wizards_and_asks_for_a_checkpoint(tw: TaskWorld) -> None:
    assert tw.bi(tw.prog, "dump_database") == Err.E_PERM
    assert tw.services.checkpoints == []
    assert tw.bi(WIZARD, "dump_database") == 0
    assert tw.services.checkpoints == [WIZARD]


def test_db_disk_size_is_the_newest_checkpoints_size_or_e_quota(tw: TaskWorld) -> None:
    assert tw.bi(tw.pleb, "db_disk_size") == Err.E_QUOTA  # nothing written yet
    tw.services.disk_size = 123_456
    assert tw.bi(tw.pleb, "db_disk_size") == 123_456


def test_reset_max_object_lowers_it_to_the_highest_object(tw: TaskWorld) -> None:
    first = tw.world.create(THING, WIZARD, "a")
    second = tw.world.create(THING, WIZARD, "b")
    tw.world.recycle(second)
    tw.world.recycle(first)
    assert tw.bi(tw.pleb, "max_object") == o(second)
    assert tw.bi(tw.prog, "reset_max_object") == Err.E_PERM
    assert tw.bi(WIZARD, "reset_max_object") == 0
    assert tw.bi(tw.pleb, "max_object") == o(max(tw.world.objects))
    assert tw.bi(WIZARD, "create", o(THING)) == o(first)  # the number is given again


def test_renumber_moves_an_object_and_every_reference_to_it(tw: TaskWorld) -> None:
    world = tw.world
    hole = world.create(THING, WIZARD, "hole")
    bag = world.create(THING, tw.prog, "bag", location=ROOM)
    inside = world.create(bag, tw.prog, "inside", location=bag)
    world.add_verb(bag, VerbDef("peek", bag, "rxd", "this", "none", "none", MOO_IMPL, "return 1;"))
    world.define_prop(bag, "size", 3, bag)
    world.set_owner(inside, bag)
    world.recycle(hole)
    assert tw.bi(tw.prog, "renumber", o(bag)) == Err.E_PERM
    assert tw.bi(WIZARD, "renumber", o(9999)) == Err.E_INVARG
    assert tw.bi(WIZARD, "renumber", 3) == Err.E_TYPE
    hole = lowest_free(tw, bag)
    new = tw.bi(WIZARD, "renumber", o(bag))
    assert new == o(hole)
    assert bag not in world.objects
    moved = world.objects[hole]
    assert (moved.name, moved.owner, moved.location) == ("bag", tw.prog, ROOM)
    assert hole in world.objects[ROOM].contents and bag not in world.objects[ROOM].contents
    assert world.objects[inside].location == hole and world.objects[inside].parent == hole
    assert world.children(hole) == [inside] and world.children(bag) == []
    assert world.objects[inside].owner == hole
    assert moved.verbs[0].owner == hole and moved.propdefs["size"].owner == hole
    assert tw.eval(WIZARD, f"return #{hole}:peek();").value == 1
    # no free number below it: it keeps its own
    assert tw.bi(WIZARD, "renumber", o(0)) == o(0)


def lowest_free(tw: TaskWorld, below: int) -> int:
    return next(n for n in range(below) if n not in tw.world.objects)


def test_renumber_of_a_player_keeps_their_name(tw: TaskWorld) -> None:
    tw.world.recycle(tw.prog)  # a number below Pleb's comes free
    expected = lowest_free(tw, tw.pleb)
    new = tw.bi(WIZARD, "renumber", o(tw.pleb))
    assert tw.world.player_by_name("Pleb") == new.id == expected


def test_an_undone_transaction_undoes_a_renumber(tw: TaskWorld) -> None:
    tw.world.recycle(tw.prog)
    before = tw.world.digest()
    with pytest.raises(RuntimeError), tw.world.transaction():
        assert tw.world.renumber(tw.box) < tw.box
        raise RuntimeError("a server bug")
    assert tw.world.digest() == before and tw.box in tw.world.objects
    assert tw.box in tw.world.objects[ROOM].contents


def test_disassemble_lists_the_compiled_code_to_those_who_may_read_it(tw: TaskWorld) -> None:
    verb = VerbDef("sum", tw.prog, "xd", "this", "none", "this", MOO_IMPL, "return 1 + 2;")
    tw.world.add_verb(tw.box, verb)
    lines = tw.bi(tw.prog, "disassemble", o(tw.box), "sum")
    assert lines[0] == "def run(task, frame, _args=None, _site=None):"
    assert all(line.__class__ is str for line in lines)
    assert tw.bi(tw.pleb, "disassemble", o(tw.box), "sum") == Err.E_PERM  # no r bit
    assert tw.bi(tw.prog, "disassemble", o(tw.box), "nope") == Err.E_VERBNF


def test_force_input_is_for_the_player_or_a_wizard(tw: TaskWorld) -> None:
    tw.services.connected[tw.pleb] = ConnectedPlayer(tw.pleb, 1.0, 0.0, "telnet")
    assert tw.bi(tw.pleb, "force_input", o(tw.pleb), "look") == 0
    assert tw.bi(WIZARD, "force_input", o(tw.pleb), "say hi", 1) == 0
    assert tw.services.forced == [(tw.pleb, "look", False), (tw.pleb, "say hi", True)]
    assert tw.bi(tw.prog, "force_input", o(tw.pleb), "look") == Err.E_PERM
    assert tw.bi(tw.pleb, "force_input", o(tw.pleb), 3) == Err.E_TYPE
    assert tw.bi(WIZARD, "force_input", o(tw.prog), "look") == Err.E_INVARG  # not connected


def test_flush_input_and_output_delimiters_reach_the_session(tw: TaskWorld) -> None:
    tw.services.connected[tw.pleb] = ConnectedPlayer(tw.pleb, 1.0, 0.0, "telnet")
    assert tw.bi(tw.pleb, "flush_input", o(tw.pleb), 1) == 0
    assert tw.bi(tw.prog, "flush_input", o(tw.pleb)) == Err.E_PERM
    assert tw.services.flushed == [(tw.pleb, True)]
    assert tw.bi(tw.pleb, "output_delimiters", o(tw.pleb)) == ["", ""]
    assert tw.bi(tw.prog, "output_delimiters", o(tw.prog)) == Err.E_INVARG


def test_the_default_flush_command_comes_from_server_options(tw: TaskWorld) -> None:
    from moo.lang.options import default_flush_command

    assert default_flush_command(tw.world) == ".flush"  # no $server_options
    options = tw.world.create(THING, WIZARD, "server options")
    tw.world.define_prop(0, "server_options", o(options), WIZARD)
    assert default_flush_command(tw.world) == ".flush"  # no default_flush_command on it
    tw.world.define_prop(options, "default_flush_command", "!flush", WIZARD)
    assert default_flush_command(tw.world) == "!flush"
    tw.world.set_prop(options, "default_flush_command", 0)  # not a string: none
    assert default_flush_command(tw.world) == ""

"""The world builtins (objects, properties, verbs, players, tasks) and their permission
rules, called from tasks on a real core world."""

from __future__ import annotations

import logging

import pytest

from moo.commands.context import ConnectedPlayer
from moo.lang.entries import run_builtin
from moo.world.model import MOO_IMPL, Flag
from moo.world.values import NOTHING, Err, ObjRef
from tests.unit.lang.test_task_helpers import ROOM, THING, WIZARD, TaskWorld, make


@pytest.fixture
def tw() -> TaskWorld:
    return make()


def o(oid: int) -> ObjRef:
    return ObjRef(oid)


# ------------------------------------------------------------------------ objects


def test_valid_parent_children_max_object(tw: TaskWorld) -> None:
    assert tw.bi(tw.pleb, "valid", o(tw.box)) == 1
    assert tw.bi(tw.pleb, "valid", o(9999)) == 0
    assert tw.bi(tw.pleb, "valid", 3) == Err.E_TYPE
    assert tw.bi(tw.pleb, "parent", o(tw.box)) == o(THING)
    assert tw.bi(tw.pleb, "parent", o(9999)) == Err.E_INVARG
    assert o(tw.box) in tw.bi(tw.pleb, "children", o(THING))
    assert tw.bi(tw.pleb, "max_object") == o(tw.world.next_id - 1)


def test_create_needs_a_fertile_parent_or_control(tw: TaskWorld) -> None:
    assert tw.bi(tw.pleb, "create", o(tw.box)) == Err.E_PERM  # not fertile, not Pleb's
    made = tw.bi(tw.prog, "create", o(tw.box))  # Prog owns it
    assert tw.world.objects[made.id].owner == tw.prog
    assert tw.world.objects[made.id].parent == tw.box
    assert tw.bi(tw.pleb, "create", o(THING)).id > made.id  # $thing is fertile
    assert tw.bi(tw.pleb, "create", o(NOTHING)).id > made.id
    assert tw.bi(tw.pleb, "create", o(9999)) == Err.E_INVARG
    assert tw.bi(tw.pleb, "create", o(THING), o(tw.prog)) == Err.E_PERM  # for someone else
    assert tw.world.objects[tw.bi(WIZARD, "create", o(THING), o(tw.prog)).id].owner == tw.prog


def test_create_calls_initialize_and_keeps_the_quota(tw: TaskWorld) -> None:
    tw.verb(THING, "initialize", lambda t, f: t.set_prop(f.this, "name", "fresh"))
    tw.world.define_prop(tw.pleb, "ownership_quota", 1, WIZARD)
    made = tw.bi(tw.pleb, "create", o(THING))
    assert tw.world.objects[made.id].name == "fresh"
    assert tw.world.get_prop(tw.pleb, "ownership_quota") == 0
    assert tw.bi(tw.pleb, "create", o(THING)) == Err.E_QUOTA
    assert tw.bi(tw.pleb, "recycle", made) == 0
    assert tw.world.get_prop(tw.pleb, "ownership_quota") == 1


def test_recycle_needs_control_and_calls_recycle(tw: TaskWorld) -> None:
    called: list[int] = []
    tw.verb(THING, "recycle", lambda t, f: called.append(f.this.id))
    assert tw.bi(tw.pleb, "recycle", o(tw.box)) == Err.E_PERM
    assert tw.bi(tw.prog, "recycle", o(tw.box)) == 0
    assert called == [tw.box] and tw.box not in tw.world.objects
    assert tw.bi(tw.prog, "recycle", o(tw.box)) == Err.E_INVARG


def test_chparent(tw: TaskWorld) -> None:
    other = tw.world.create(NOTHING, tw.pleb, "other")
    assert tw.bi(tw.pleb, "chparent", o(tw.box), o(NOTHING)) == Err.E_PERM  # not Pleb's
    assert tw.bi(tw.prog, "chparent", o(tw.box), o(other)) == Err.E_PERM  # not fertile
    assert tw.bi(tw.prog, "chparent", o(tw.box), o(9999)) == Err.E_INVARG
    assert tw.bi(tw.prog, "chparent", o(tw.box), o(3)) == 0
    assert tw.world.objects[tw.box].parent == 3
    kid = tw.world.create(tw.box, tw.prog, "kid")
    assert tw.bi(tw.prog, "chparent", o(tw.box), o(kid)) == Err.E_RECMOVE


def test_move_asks_accept_and_calls_enter_and_exit(tw: TaskWorld) -> None:
    calls: list[str] = []
    bag = tw.world.create(THING, tw.prog, "bag")
    tw.verb(bag, "accept", lambda t, f: 0)
    assert tw.bi(tw.prog, "move", o(tw.box), o(bag)) == Err.E_NACC
    assert tw.bi(WIZARD, "move", o(tw.box), o(bag)) == 0  # a wizard's move is not refused
    tw.world.set_verbs(bag, [])
    tw.verb(bag, "accept", lambda t, f: 1)
    tw.verb(bag, "exitfunc", lambda t, f: calls.append(f"exit {f.args[0]}"))
    tw.verb(ROOM, "enterfunc", lambda t, f: calls.append(f"enter {f.args[0]}"))
    nowhere = tw.world.create(NOTHING, tw.prog, "nowhere")
    assert tw.bi(tw.prog, "move", o(tw.box), o(nowhere)) == Err.E_NACC  # no accept verb
    # Rooms accept through the core world's $room:accept (a MOO verb returning 1).
    assert tw.bi(tw.pleb, "move", o(tw.box), o(ROOM)) == Err.E_PERM
    assert tw.bi(tw.prog, "move", o(tw.box), o(ROOM)) == 0
    assert tw.world.objects[tw.box].location == ROOM
    assert calls == [f"exit #{tw.box}", f"enter #{tw.box}"]
    assert tw.bi(tw.prog, "move", o(bag), o(bag)) == Err.E_RECMOVE
    assert tw.bi(tw.prog, "move", o(tw.box), o(9999)) == Err.E_INVARG
    assert tw.bi(tw.prog, "move", o(tw.box), o(NOTHING)) == 0


# --------------------------------------------------------------------- properties


def test_properties_and_property_info(tw: TaskWorld) -> None:
    tw.world.define_prop(tw.box, "secret", 1, tw.prog, perms="")
    assert tw.bi(tw.pleb, "properties", o(tw.box)) == Err.E_PERM  # box has no r flag
    assert tw.bi(tw.prog, "properties", o(tw.box)) == ["secret"]
    assert tw.bi(tw.pleb, "properties", o(THING)) == []  # $thing is readable
    assert tw.bi(tw.pleb, "property_info", o(tw.box), "secret") == Err.E_PERM
    assert tw.bi(tw.prog, "property_info", o(tw.box), "secret") == [o(tw.prog), ""]
    assert tw.bi(tw.prog, "property_info", o(tw.box), "nope") == Err.E_PROPNF
    assert tw.bi(tw.prog, "property_info", o(tw.box), "description") == [o(tw.prog), "rc"]


def test_add_and_delete_property(tw: TaskWorld) -> None:
    info = [o(tw.prog), "rw"]
    assert tw.bi(tw.pleb, "add_property", o(tw.box), "p", 1, [o(tw.pleb), "r"]) == Err.E_PERM
    assert tw.bi(tw.prog, "add_property", o(tw.box), "p", 1, [o(tw.pleb), "r"]) == Err.E_PERM
    assert tw.bi(tw.prog, "add_property", o(tw.box), "p", 1, [o(tw.prog), "rz"]) == Err.E_INVARG
    assert tw.bi(tw.prog, "add_property", o(tw.box), "p", 1, info) == 0
    assert tw.world.get_prop(tw.box, "p") == 1
    assert tw.bi(tw.prog, "add_property", o(tw.box), "P", 1, info) == Err.E_INVARG
    assert tw.bi(tw.prog, "add_property", o(tw.box), "name", 1, info) == Err.E_INVARG
    assert tw.bi(tw.prog, "add_property", o(tw.box), "description", 1, info) == Err.E_INVARG
    assert tw.bi(tw.pleb, "delete_property", o(tw.box), "p") == Err.E_PERM
    assert tw.bi(tw.prog, "delete_property", o(tw.box), "description") == Err.E_PROPNF
    assert tw.bi(tw.prog, "delete_property", o(tw.box), "p") == 0
    assert not tw.world.has_prop(tw.box, "p")


def test_set_property_info(tw: TaskWorld) -> None:
    tw.world.define_prop(tw.box, "p", 1, tw.prog, perms="r")
    assert tw.bi(tw.pleb, "set_property_info", o(tw.box), "p", [o(tw.pleb), "rw"]) == Err.E_PERM
    assert tw.bi(tw.prog, "set_property_info", o(tw.box), "p", [o(tw.pleb), "rw"]) == Err.E_PERM
    assert tw.bi(tw.prog, "set_property_info", o(tw.box), "p", [o(tw.prog), "rw"]) == 0
    assert tw.world.objects[tw.box].propdefs["p"].perms == "rw"
    assert tw.bi(WIZARD, "set_property_info", o(tw.box), "p", [o(tw.pleb), "r"]) == 0
    assert tw.world.objects[tw.box].propdefs["p"].owner == tw.pleb
    assert tw.world.get_prop(tw.box, "p") == 1


def test_clear_property(tw: TaskWorld) -> None:
    tw.world.set_prop(tw.box, "description", "mine")
    assert tw.bi(tw.prog, "is_clear_property", o(tw.box), "description") == 0
    assert tw.bi(tw.pleb, "clear_property", o(tw.box), "description") == Err.E_PERM
    assert tw.bi(tw.prog, "clear_property", o(tw.box), "description") == 0
    assert tw.bi(tw.prog, "is_clear_property", o(tw.box), "description") == 1
    assert tw.bi(WIZARD, "clear_property", o(1), "description") == Err.E_INVARG  # the definer


# ------------------------------------------------------------------------- verbs


def test_add_verb_and_its_info(tw: TaskWorld) -> None:
    args = ["this", "none", "this"]
    assert tw.bi(tw.pleb, "add_verb", o(tw.box), [o(tw.pleb), "rx", "v"], args) == Err.E_PERM
    assert tw.bi(tw.prog, "add_verb", o(tw.box), [o(tw.pleb), "rx", "v"], args) == Err.E_PERM
    assert tw.bi(tw.prog, "add_verb", o(tw.box), [o(tw.prog), "rq", "v"], args) == Err.E_INVARG
    bad_args = ["this", "sideways", "this"]
    assert tw.bi(tw.prog, "add_verb", o(tw.box), [o(tw.prog), "rx", "v"], bad_args) == Err.E_INVARG
    assert tw.bi(tw.prog, "add_verb", o(tw.box), [o(tw.prog), "xr", "v ve*rb"], args) == 0
    verb = tw.world.objects[tw.box].verbs[-1]
    assert (verb.names, verb.perms, verb.impl, verb.program) == ("v ve*rb", "rx", MOO_IMPL, "")
    assert tw.bi(tw.pleb, "verbs", o(tw.box)) == Err.E_PERM
    assert tw.bi(tw.prog, "verbs", o(tw.box)) == ["v ve*rb"]
    assert tw.bi(tw.pleb, "verb_info", o(tw.box), "verb") == [o(tw.prog), "rx", "v ve*rb"]
    assert tw.bi(tw.pleb, "verb_info", o(tw.box), 1) == [o(tw.prog), "rx", "v ve*rb"]
    assert tw.bi(tw.pleb, "verb_info", o(tw.box), 2) == Err.E_VERBNF  # past the last: LambdaMOO's
    assert tw.bi(tw.pleb, "verb_info", o(tw.box), 0) == Err.E_INVARG
    assert tw.bi(tw.pleb, "verb_info", o(tw.box), "nope") == Err.E_VERBNF
    assert tw.bi(tw.pleb, "verb_args", o(tw.box), "v") == args
    set_args = ["any", "with", "none"]
    assert tw.bi(tw.prog, "set_verb_args", o(tw.box), "v", set_args) == 0
    assert tw.bi(tw.prog, "verb_args", o(tw.box), "v") == ["any", "with/using", "none"]


def test_verb_read_and_write_bits(tw: TaskWorld) -> None:
    args = ["this", "none", "this"]
    tw.bi(tw.prog, "add_verb", o(tw.box), [o(tw.prog), "x", "hidden"], args)
    assert tw.bi(tw.pleb, "verb_info", o(tw.box), "hidden") == Err.E_PERM
    assert tw.bi(tw.pleb, "verb_code", o(tw.box), "hidden") == Err.E_PERM
    assert tw.bi(tw.prog, "verb_code", o(tw.box), "hidden") == []
    assert tw.bi(tw.pleb, "set_verb_info", o(tw.box), 1, [o(tw.pleb), "rx", "h"]) == Err.E_PERM
    assert tw.bi(tw.prog, "set_verb_info", o(tw.box), 1, [o(tw.pleb), "rx", "h"]) == Err.E_PERM
    assert tw.bi(tw.prog, "set_verb_info", o(tw.box), 1, [o(tw.prog), "rxw", "h"]) == 0
    assert tw.world.objects[tw.box].verbs[0].perms == "rwx"
    assert tw.bi(WIZARD, "set_verb_info", o(tw.box), "h", [o(tw.pleb), "rx", "h"]) == 0
    assert tw.world.objects[tw.box].verbs[0].owner == tw.pleb


def test_set_verb_code_needs_a_programmer_and_reports_errors(tw: TaskWorld) -> None:
    args = ["this", "none", "this"]
    tw.world.set_flags(tw.box, tw.world.objects[tw.box].flags | Flag.WRITE)
    tw.bi(tw.pleb, "add_verb", o(tw.box), [o(tw.pleb), "rx", "mine"], args)
    assert tw.bi(tw.pleb, "set_verb_code", o(tw.box), "mine", ["return 1;"]) == Err.E_PERM
    assert tw.bi(tw.prog, "set_verb_code", o(tw.box), "mine", ["return 1;"]) == Err.E_PERM
    assert tw.bi(WIZARD, "set_verb_code", o(tw.box), "mine", ["return 1 +;"]) == [
        "Line 1:  syntax error"
    ]
    assert tw.bi(WIZARD, "set_verb_code", o(tw.box), "mine", "return 1;") == Err.E_TYPE
    assert tw.bi(WIZARD, "set_verb_code", o(tw.box), "mine", ["return  1;"]) == []
    assert tw.world.objects[tw.box].verbs[0].program == "return  1;"
    assert tw.bi(WIZARD, "verb_code", o(tw.box), "mine") == ["return 1;"]


def test_delete_verb(tw: TaskWorld) -> None:
    args = ["this", "none", "this"]
    tw.bi(tw.prog, "add_verb", o(tw.box), [o(tw.prog), "rx", "a"], args)
    tw.bi(tw.prog, "add_verb", o(tw.box), [o(tw.prog), "rx", "b"], args)
    assert tw.bi(tw.pleb, "delete_verb", o(tw.box), "a") == Err.E_PERM
    assert tw.bi(tw.prog, "delete_verb", o(tw.box), "zz") == Err.E_VERBNF
    assert tw.bi(tw.prog, "delete_verb", o(tw.box), "a") == 0
    assert [v.names for v in tw.world.objects[tw.box].verbs] == ["b"]


# ----------------------------------------------------------------------- players


def test_players_and_player_flags(tw: TaskWorld) -> None:
    assert o(tw.pleb) in tw.bi(tw.pleb, "players")
    assert tw.bi(tw.pleb, "is_player", o(tw.box)) == 0
    assert tw.bi(tw.pleb, "is_player", o(tw.pleb)) == 1
    assert tw.bi(tw.prog, "set_player_flag", o(tw.pleb), 0) == Err.E_PERM
    assert tw.bi(WIZARD, "set_player_flag", o(tw.pleb), 0) == 0
    assert not tw.world.objects[tw.pleb].is_player
    assert tw.services.booted == [tw.pleb]


def test_notify_is_held_and_needs_self_or_wizard(tw: TaskWorld) -> None:
    assert tw.bi(tw.prog, "notify", o(tw.pleb), "hi") == Err.E_PERM
    assert tw.bi(tw.pleb, "notify", o(tw.pleb), 3) == Err.E_TYPE
    assert tw.bi(tw.pleb, "notify", o(tw.pleb), "to myself") == 1
    assert tw.bi(WIZARD, "notify", o(tw.pleb), "from a wizard") == 1
    assert tw.services.to(tw.pleb) == ["to myself", "from a wizard"]


def test_connections(tw: TaskWorld) -> None:
    tw.services.connected[tw.pleb] = ConnectedPlayer(tw.pleb, 61.5, 2.2, "telnet")
    assert tw.bi(tw.prog, "connected_players") == [o(tw.pleb)]
    assert tw.bi(tw.prog, "idle_seconds", o(tw.pleb)) == 2
    assert tw.bi(tw.prog, "connected_seconds", o(tw.pleb)) == 61
    assert tw.bi(tw.prog, "idle_seconds", o(tw.prog)) == Err.E_INVARG
    assert tw.bi(tw.prog, "connection_name", o(tw.pleb)) == Err.E_PERM
    assert tw.bi(tw.pleb, "connection_name", o(tw.pleb)) == "telnet connection"
    assert tw.bi(tw.prog, "boot_player", o(tw.pleb)) == Err.E_PERM
    assert tw.bi(tw.pleb, "boot_player", o(tw.pleb)) == 0
    assert tw.services.booted == [tw.pleb]


# ------------------------------------------------------------------------- tasks


def test_task_builtins(tw: TaskWorld) -> None:
    assert isinstance(tw.bi(tw.prog, "task_id"), int)
    assert 0 < tw.bi(tw.prog, "ticks_left") <= 30_000
    assert tw.bi(tw.prog, "seconds_left") in (4, 5)
    assert tw.bi(tw.prog, "caller_perms") == o(NOTHING)
    assert tw.bi(tw.prog, "callers") == []
    assert tw.bi(tw.prog, "set_task_perms", o(WIZARD)) == Err.E_PERM
    assert tw.bi(WIZARD, "set_task_perms", o(tw.prog)) == 0
    assert tw.bi(tw.prog, "call_function", "valid", o(tw.box)) == 1
    assert tw.bi(tw.prog, "call_function", "nonesuch") == Err.E_INVARG
    assert tw.bi(tw.prog, "call_function", "valid") == Err.E_ARGS
    assert tw.bi(tw.prog, "function_info", "valid") == ["valid", 1, 1, [-1]]
    assert tw.bi(tw.prog, "function_info", "nonesuch") == Err.E_INVARG


def test_caller_perms_and_callers_inside_a_verb(tw: TaskWorld) -> None:
    from moo.lang.builtins import BUILTINS

    def verb(task: object, frame: object) -> object:
        return [BUILTINS["caller_perms"].function(task), BUILTINS["callers"].function(task, 1)]

    tw.verb(tw.box, "inspect", verb, owner=WIZARD)
    perms, callers = tw.run(tw.prog, lambda t: t.call_verb(o(tw.box), "inspect", [])).value
    assert perms == o(tw.prog)
    assert callers == [[o(NOTHING), "", o(tw.prog), o(NOTHING), o(tw.prog), 0]]


def test_server_log_is_for_wizards(tw: TaskWorld, caplog: pytest.LogCaptureFixture) -> None:
    assert tw.bi(tw.prog, "server_log", "hello") == Err.E_PERM
    with caplog.at_level(logging.INFO, logger="moo.server_log"):
        assert tw.bi(WIZARD, "server_log", "hello") == 0
    assert "> hello" in caplog.text


def test_run_builtin_is_how_commands_reuse_the_rules(tw: TaskWorld) -> None:
    info, args = [o(tw.pleb), "rxd", "v"], ["this", "none", "this"]
    refused = run_builtin(tw.scheduler, tw.pleb, "add_verb", [o(tw.box), info, args])
    assert (refused.status, refused.value) == ("error", Err.E_PERM)
    done = run_builtin(tw.scheduler, tw.prog, "verbs", [o(tw.box)])
    assert (done.status, done.value) == ("done", [])
    with pytest.raises(ValueError, match="does not take"):
        run_builtin(tw.scheduler, tw.prog, "verbs", [])


def test_the_rest_of_the_server_builtins(tw: TaskWorld) -> None:
    tw.services.connected[tw.pleb] = ConnectedPlayer(tw.pleb, 1.0, 0.0, "ssh")
    assert tw.bi(tw.pleb, "buffered_output_length", o(tw.pleb)) == 0
    assert tw.bi(tw.prog, "flush_input", o(tw.pleb)) == Err.E_PERM
    assert tw.bi(tw.pleb, "output_delimiters", o(tw.pleb)) == ["", ""]
    assert tw.bi(tw.pleb, "connection_options", o(tw.pleb)) == [["hold-input", 0]]
    assert tw.bi(tw.pleb, "connection_option", o(tw.pleb), "binary") == Err.E_INVARG
    assert tw.bi(tw.pleb, "set_connection_option", o(tw.pleb), "binary", 1) == Err.E_INVARG
    assert tw.bi(tw.pleb, "set_connection_option", o(tw.pleb), "hold-input", "yes") == 0
    assert tw.bi(tw.pleb, "connection_option", o(tw.pleb), "hold-input") == 1
    assert tw.bi(tw.prog, "set_connection_option", o(tw.pleb), "hold-input", 0) == Err.E_PERM
    assert tw.bi(tw.prog, "connection_options", o(tw.prog)) == Err.E_INVARG  # not connected
    assert tw.bi(tw.pleb, "listeners") == []
    assert tw.bi(WIZARD, "open_network_connection", "localhost", 25) == Err.E_PERM
    assert tw.bi(tw.prog, "object_bytes", o(tw.box)) == Err.E_PERM
    assert tw.bi(WIZARD, "object_bytes", o(tw.box)) > 10
    assert isinstance(tw.bi(tw.prog, "server_version"), str)
    assert tw.bi(tw.prog, "memory_usage") == []
    assert tw.bi(tw.prog, "shutdown", "bye") == Err.E_PERM
    assert tw.bi(WIZARD, "shutdown", "bye") == 0
    assert tw.services.shutdowns == [("bye", WIZARD)]
    assert tw.bi(tw.prog, "verb_cache_stats") == Err.E_PERM
    assert tw.bi(tw.prog, "queue_info") == []


async def test_task_stack_and_queue_info_of_a_suspended_task(tw: TaskWorld) -> None:
    from moo.lang.builtins import BUILTINS

    suspended = tw.run(tw.prog, lambda t: BUILTINS["suspend"].function(t))
    assert tw.bi(tw.prog, "queue_info") == [o(tw.prog)]
    assert tw.bi(tw.prog, "queue_info", o(tw.prog)) == 1
    stack = tw.bi(tw.prog, "task_stack", suspended.task_id, 1)
    assert stack == [[o(NOTHING), "", o(tw.prog), o(NOTHING), o(tw.prog), 0]]
    assert tw.bi(tw.pleb, "task_stack", suspended.task_id) == Err.E_PERM
    assert tw.bi(tw.prog, "task_stack", 777) == Err.E_INVARG
    tw.bi(tw.prog, "kill_task", suspended.task_id)

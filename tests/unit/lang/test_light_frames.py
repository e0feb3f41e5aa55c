"""A verb called directly from a call site pushes a ``Light`` entry and no ``Frame``
(``verb_calls.call_entry``): of three for a verb that reads no built-in variable but
``this`` and ``args``, of four (with the task's context) for any other; the ``Frame`` is
made when something asks for it. Most tests run the same verbs on one object as written
(entries of three), on another with ``player;`` in front of each (entries of four), and
the two must answer the same, object numbers aside. Each call is made three times: a call
site's first call goes through ``Task.call_verb``, which compiles the callee and pushes a
``Frame``; later ones push a ``Light`` (``call_verb`` calls the verb as its site will,
then the site itself does)."""

from __future__ import annotations

import pytest

from moo.lang.entries import run_eval
from moo.lang.task_api import Limits
from moo.world.values import ObjRef
from tests.unit.lang.test_task_helpers import ROOM, THING, WIZARD, TaskWorld, make
from tests.unit.lang.test_task_scheduling import until


@pytest.fixture
def tw() -> TaskWorld:
    return make(Limits(max_depth=20))


def program(tw: TaskWorld, oid: int, name: str, code: str, owner: int) -> None:
    added = tw.bi(
        WIZARD, "add_verb", ObjRef(oid), [ObjRef(owner), "rxd", name], ["this", "none", "this"]
    )
    assert added == 0
    assert tw.bi(WIZARD, "set_verb_code", ObjRef(oid), name, code.split("\n")) == []


def both(tw: TaskWorld, verbs: dict[str, tuple[str, int]], call: str) -> list[str]:
    """``verbs`` (name -> code, owner) on a light object and an eager one; ``call`` (with
    OBJ) evaluated three times on each by the wizard: the light answer, checked equal to the
    eager one and to the first ones."""
    light = tw.world.create(THING, tw.prog, "light", location=ROOM)
    eager = tw.world.create(THING, tw.prog, "eager", location=ROOM)
    for name, (code, owner) in verbs.items():
        program(tw, light, name, code, owner)
        program(tw, eager, name, "player; " + code, owner)
    answers = []
    for oid in (light, light, light, eager, eager, eager):
        lines = run_eval(tw.scheduler, WIZARD, call.replace("OBJ", f"#{oid}")).lines()
        answers.append([line.replace(f"#{oid}", "OBJ") for line in lines])
    assert all(answer == answers[0] for answer in answers)
    return answers[2]


def test_callers_and_caller_perms_see_light_frames(tw: TaskWorld) -> None:
    verbs = {
        "outer": ("return this:middle(1, 2);", tw.prog),
        "middle": ("return {@this:inner(args), callers()};", WIZARD),
        "inner": ("return {caller_perms(), callers(1), args};", tw.prog),
    }
    [answer] = both(tw, verbs, "OBJ:outer()")
    assert answer == (
        f'=> {{#{WIZARD}, {{{{OBJ, "middle", #{WIZARD}, OBJ, #{WIZARD}, 1}}, '
        f'{{OBJ, "outer", #{tw.prog}, OBJ, #{WIZARD}, 1}}, '
        f'{{#-1, "", #{WIZARD}, #-1, #{WIZARD}, 1}}}}, {{{{1, 2}}}}, '
        f'{{{{OBJ, "outer", #{tw.prog}, OBJ, #{WIZARD}}}, '
        f'{{#-1, "", #{WIZARD}, #-1, #{WIZARD}}}}}}}'
    )


def test_set_task_perms_in_a_light_frame_stays_with_it(tw: TaskWorld) -> None:
    verbs = {
        "outer": ("return {this:middle(), caller_perms()};", WIZARD),
        "middle": (
            "set_task_perms(args ? args[1] | #3); return {this:inner(), callers()};",
            WIZARD,
        ),
        "inner": ("return caller_perms();", WIZARD),
    }
    [answer] = both(tw, verbs, "OBJ:outer()")
    # inner's caller (middle) now runs with #3's permissions, and callers() says so
    assert answer.startswith('=> {{#3, {{OBJ, "outer", #2, OBJ, #2}')


def test_a_light_frame_checks_permissions_as_its_owner(tw: TaskWorld) -> None:
    tw.world.define_prop(tw.box, "secret", "hidden", WIZARD, perms="")
    verbs = {
        "mine": (f"return `#{tw.box}.secret ! ANY';", tw.prog),
        "wizards": (f"return #{tw.box}.secret;", WIZARD),
        "both": ("return {this:mine(), this:wizards()};", tw.prog),
    }
    assert both(tw, verbs, "OBJ:both()") == ['=> {E_PERM, "hidden"}']


def test_a_traceback_through_light_frames_names_their_lines(tw: TaskWorld) -> None:
    verbs = {
        "outer": ("x = 1;\nreturn this:inner(x);", tw.prog),
        "inner": ("y = args[1];\ny = y + 1;\nreturn y / 0;", WIZARD),
    }
    assert both(tw, verbs, "OBJ:outer()") == [
        "OBJ:inner, line 3:  Division by zero",
        "... called from OBJ:outer, line 2",
        "... called from #-1:Input to EVAL, line 1",
        "(End of traceback)",
    ]


def test_recursion_through_light_frames_ends_in_e_maxrec(tw: TaskWorld) -> None:
    verbs = {"down": ("return `this:down() ! E_MAXREC => length(callers())';", tw.prog)}
    assert both(tw, verbs, "OBJ:down()") == ["=> 19"]


def test_a_light_frame_that_passes_and_is_passed_to(tw: TaskWorld) -> None:
    parent = tw.world.create(THING, tw.prog, "parent", location=ROOM)
    program(tw, parent, "greet", 'return {"parent", this, callers()[1][1..3]};', tw.prog)
    verbs = {"greet": ('return {"child", @pass(@args)};', tw.prog)}
    light = tw.world.create(parent, tw.prog, "light", location=ROOM)
    program(tw, light, "greet", verbs["greet"][0], tw.prog)
    program(tw, light, "start", "return this:greet();", tw.prog)
    for _ in range(3):
        lines = run_eval(tw.scheduler, WIZARD, f"#{light}:start()").lines()
        assert lines == [f'=> {{"child", "parent", #{light}, {{#{light}, "greet", #{tw.prog}}}}}']


async def test_a_task_suspended_in_light_frames_is_saved_as_with_frames(tw: TaskWorld) -> None:
    saved = []
    for prefix in ("", "player; "):
        oid = tw.world.create(THING, tw.prog, "box", location=ROOM)
        other = tw.world.create(THING, tw.prog, "other", location=ROOM)
        tw.world.define_prop(oid, "n", 0, WIZARD)
        inner = "if (args[1])\n  suspend(0);\nendif\nreturn args[1];"
        program(tw, other, "inner", prefix + inner, WIZARD)
        program(tw, oid, "outer", f"{prefix}return #{other}:inner(this.n) + 100;", tw.prog)
        run = f"#{oid}.name = tostr(#{oid}:outer());"
        for _ in range(2):  # the same text each time: its sites then call directly
            assert run_eval(tw.scheduler, WIZARD, run).status == "done"
        assert tw.world.objects[oid].name == "100"
        assert run_eval(tw.scheduler, WIZARD, f"#{oid}.n = 7;").status == "done"
        outcome = run_eval(tw.scheduler, WIZARD, run)
        assert outcome.status == "suspended"
        record = tw.world.tasks[outcome.task_id]
        names = {oid: "OBJ", other: "OTHER"}
        saved.append(
            [
                (
                    names[f.this],
                    names.get(f.caller, f.caller),
                    f.verb,
                    f.args,
                    f.programmer,
                    f.line,
                    f.player,
                )
                for f in record.frames[1:]
            ]
        )
        await until(lambda oid=oid: tw.world.objects[oid].name == "107")
    assert (
        saved[0]
        == saved[1]
        == [
            ("OBJ", -1, "outer", [], tw.prog, 1, WIZARD),
            ("OTHER", "OBJ", "inner", [7], WIZARD, 2, WIZARD),
        ]
    )


def test_mixed_entries_find_their_caller_and_context(tw: TaskWorld) -> None:
    """Entries of four above one of three (``task.frame`` makes it a ``Frame`` first),
    above one of four, and one of three above one of four; each verb on its own object."""
    a, b, c, d = (tw.world.create(THING, tw.prog, n, location=ROOM) for n in "abcd")
    program(tw, a, "a", f"return #{b}:b(1);", tw.prog)  # three
    program(tw, b, "b", f"return {{caller, player, verb, @#{c}:c(@args, 2)}};", WIZARD)
    program(tw, c, "c", f"return {{caller, verb, argstr, #{d}:d(@args)}};", tw.prog)
    program(tw, d, "d", "return {args, caller_perms(), callers()};", WIZARD)  # three
    answers = [run_eval(tw.scheduler, WIZARD, f"#{a}:a()").lines() for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]
    frames = [
        f'{{#{c}, "c", #{tw.prog}, #{c}, #{WIZARD}}}',
        f'{{#{b}, "b", #{WIZARD}, #{b}, #{WIZARD}}}',
        f'{{#{a}, "a", #{tw.prog}, #{a}, #{WIZARD}}}',
        f'{{#-1, "", #{WIZARD}, #-1, #{WIZARD}}}',
    ]
    d_answer = f"{{{{1, 2}}, #{tw.prog}, {{{', '.join(frames)}}}}}"
    assert answers[2] == [f'=> {{#{a}, #{WIZARD}, "b", #{b}, "c", "", {d_answer}}}']


def test_a_site_whose_receiver_changes_gives_each_callee_its_own_entry(tw: TaskWorld) -> None:
    """A site that misses (another receiver each time) calls through ``call_verb``, which
    keeps the new callee there and calls it as the site would."""
    a, b = (tw.world.create(THING, tw.prog, n, location=ROOM) for n in "ab")
    program(tw, a, "f", "return {this, caller_perms(), callers()[1][3], args};", tw.prog)
    program(tw, b, "f", "return {this, caller_perms(), callers()[1][3], args, player};", WIZARD)
    program(tw, a, "each", "return {@args[1]:f(1), @args[2]:f(2)};", tw.prog)
    src = f"r = {{}}; for o in ({{#{a}, #{b}, #{a}}}) r = {{@r, #{a}:each(o, #{b})}}; endfor"
    row_a = f"#{a}, #{tw.prog}, #{tw.prog}, {{1}}"
    row_b = f"#{b}, #{tw.prog}, #{tw.prog}, {{2}}, #{WIZARD}"
    b_first = f"#{b}, #{tw.prog}, #{tw.prog}, {{1}}, #{WIZARD}"
    expected = f"=> {{{{{row_a}, {row_b}}}, {{{b_first}, {row_b}}}, {{{row_a}, {row_b}}}}}"
    for _ in range(3):
        assert run_eval(tw.scheduler, WIZARD, src + " return r;").lines() == [expected]

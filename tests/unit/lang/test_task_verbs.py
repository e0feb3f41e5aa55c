"""Verb calls from code, ``pass``, tracebacks, tick and seconds limits, what an error keeps,
and the dispatcher running a MOO verb for a typed command."""

from __future__ import annotations

import time
from typing import Any

import pytest

from moo.commands.dispatch import Dispatcher
from moo.lang.errors import MooRaise
from moo.lang.task import Task
from moo.lang.task_api import Frame, Limits
from moo.world.model import VerbDef
from moo.world.values import Err, ObjRef
from tests.unit.lang.test_task_helpers import ROOM, WIZARD, TaskWorld, make


@pytest.fixture
def tw() -> TaskWorld:
    return make()


def call(tw: TaskWorld, progr: int, oid: Any, name: Any, *args: Any) -> Any:
    target = oid if not isinstance(oid, int) else ObjRef(oid)
    return tw.run(progr, lambda t: t.call_verb(target, name, list(args)))


def test_a_call_gets_a_new_frame(tw: TaskWorld) -> None:
    seen: list[Frame] = []

    def verb(task: Any, frame: Frame) -> Any:
        seen.append(frame)
        return frame.args[0] * 2

    tw.verb(tw.box, "double twice", verb, owner=tw.prog)
    outcome = call(tw, tw.pleb, tw.box, "twice", 21)
    assert (outcome.status, outcome.value) == ("done", 42)
    frame = seen[0]
    assert frame.this == ObjRef(tw.box)
    assert frame.caller == ObjRef(-1)  # the calling frame's this
    assert frame.player == ObjRef(tw.pleb)
    assert frame.programmer == tw.prog  # the verb's owner, not the caller's
    assert frame.verb == "twice"
    assert frame.definer == tw.box


def test_verbs_are_inherited_and_found_by_wildcards(tw: TaskWorld) -> None:
    tw.verb(5, "sm*ile", lambda t, f: f.this)
    assert call(tw, tw.pleb, tw.box, "smi").value == ObjRef(tw.box)


def test_the_x_bit_is_needed_to_call_from_code(tw: TaskWorld) -> None:
    tw.verb(tw.box, "hidden", lambda t, f: 1, perms="rd")
    assert call(tw, tw.prog, tw.box, "hidden").value == Err.E_VERBNF
    # a callable verb further up is found instead of the non-x one
    tw.verb(5, "hidden", lambda t, f: "parent's")
    assert call(tw, tw.prog, tw.box, "hidden").value == "parent's"


def test_call_errors(tw: TaskWorld) -> None:
    assert call(tw, tw.prog, tw.box, "nonesuch").value == Err.E_VERBNF
    assert call(tw, tw.prog, 9999, "look").value == Err.E_INVIND
    assert call(tw, tw.prog, ObjRef(tw.box), 3).value == Err.E_TYPE
    assert tw.run(tw.prog, lambda t: t.call_verb("box", "x", [])).value == Err.E_TYPE


def test_python_verbs_are_not_callable_from_code(tw: TaskWorld) -> None:
    tw.world.add_verb(tw.box, VerbDef("pyverb", WIZARD, "rxd", "this", "none", "this", "py:x.y"))
    assert call(tw, tw.prog, tw.box, "pyverb").value == Err.E_PERM


def test_recursion_ends_in_e_maxrec(tw: TaskWorld) -> None:
    def recurse(task: Any, frame: Frame) -> Any:
        return task.call_verb(frame.this, "recurse", [])

    tw.verb(tw.box, "recurse", recurse)
    outcome = call(tw, tw.prog, tw.box, "recurse")
    assert outcome.value == Err.E_MAXREC
    assert len(outcome.traceback) == 51  # 50 frames (the eval's and 49 calls) and the end line


def test_pass_calls_the_definers_parent(tw: TaskWorld) -> None:
    tw.verb(5, "greet", lambda t, f: ["thing", f.this, f.args, f.definer])
    tw.verb(tw.box, "greet", lambda t, f: ["box", t.pass_verb(["passed"])])
    value = call(tw, tw.prog, tw.box, "greet").value
    assert value == ["box", ["thing", ObjRef(tw.box), ["passed"], 5]]
    # pass on an object whose definer has no such verb above it
    tw.verb(tw.box, "lonely", lambda t, f: t.pass_verb([]))
    assert call(tw, tw.prog, tw.box, "lonely").value == Err.E_VERBNF


def test_traceback_text_is_lambdamoos(tw: TaskWorld) -> None:
    def inner(task: Any, frame: Frame) -> Any:
        frame.line = 3
        raise MooRaise(Err.E_DIV)

    def outer(task: Any, frame: Frame) -> Any:
        frame.line = 2
        return task.call_verb(ObjRef(tw.box), "inner", [])

    tw.verb(5, "inner", inner)
    tw.verb(tw.box, "outer", outer)
    outcome = call(tw, tw.prog, tw.box, "outer")
    assert outcome.status == "error"
    assert outcome.traceback == [
        f"#5:inner (this == #{tw.box}), line 3:  Division by zero",
        f"... called from #{tw.box}:outer, line 2",
        "... called from #-1:Input to EVAL, line 0",
        "(End of traceback)",
    ]


def test_uncaught_error_is_told_to_the_player_and_changes_stay(tw: TaskWorld) -> None:
    def body(task: Task) -> Any:
        task.set_prop(ObjRef(tw.box), "name", "renamed")
        raise MooRaise(Err.E_INVARG, "custom message")

    batches = len(tw.batches)
    outcome = tw.run(tw.prog, body, tell=True)
    assert outcome.status == "error"
    assert tw.world.objects[tw.box].name == "renamed"  # LambdaMOO does not roll back
    assert len(tw.batches) == batches + 1  # and the change was journaled
    assert tw.services.to(tw.prog) == [
        "#-1:Input to EVAL, line 0:  custom message",
        "(End of traceback)",
    ]


def test_a_python_exception_undoes_the_task(tw: TaskWorld) -> None:
    def body(task: Task) -> Any:
        task.set_prop(ObjRef(tw.box), "name", "renamed")
        raise RuntimeError("a server bug")

    outcome = tw.run(tw.prog, body)
    assert outcome.status == "failed"
    assert tw.world.objects[tw.box].name == "box"
    assert tw.services.to(tw.prog) == [outcome.lines()[0]]


def spin(task: Task) -> Any:
    while True:
        task.ticks -= 1
        if task.ticks <= 0:
            task.out_of_ticks()


def test_ticks_run_out_with_lambdamoos_message() -> None:
    tw = make(Limits(ticks=5000))
    outcome = tw.run(tw.prog, spin, tell=True)
    assert (outcome.status, outcome.value) == ("aborted", "ticks")
    assert tw.services.to(tw.prog) == [
        "#-1:Input to EVAL, line 0:  Task ran out of ticks",
        "(End of traceback)",
    ]


def test_seconds_run_out() -> None:
    tw = make(Limits(ticks=10**12, seconds=0.05))
    started = time.monotonic()
    outcome = tw.run(tw.prog, spin)
    assert (outcome.status, outcome.value) == ("aborted", "seconds")
    assert time.monotonic() - started < 1.0


def test_ticks_left_counts_down_and_calls_cost_a_tick(tw: TaskWorld) -> None:
    tw.verb(tw.box, "noop", lambda t, f: t.ticks_left)

    def body(task: Task) -> Any:
        before = task.ticks_left
        inside = task.call_verb(ObjRef(tw.box), "noop", [])
        return [before, inside]

    before, inside = tw.run(tw.prog, body).value
    assert before == 30_000
    assert inside == before - 1


def test_dispatcher_runs_moo_verbs_for_commands(tw: TaskWorld) -> None:
    seen: list[Frame] = []

    def verb(task: Any, frame: Frame) -> Any:
        seen.append(frame)
        task.notify(frame.player.id, f"You poke {task.get_prop(frame.dobj, 'name')}.")
        return 0

    tw.verb(tw.box, "poke", verb, args="this none none")
    dispatcher = Dispatcher(tw.world, tw.services, tw.scheduler)  # type: ignore[arg-type]
    dispatcher._scheduler = tw.scheduler
    dispatcher.run(tw.prog, "poke box")
    assert tw.services.to(tw.prog) == ["You poke box."]
    frame = seen[0]
    assert (frame.verb, frame.argstr, frame.args, frame.dobjstr) == ("poke", "box", ["box"], "box")
    assert frame.dobj == ObjRef(tw.box) and frame.caller == ObjRef(tw.prog)
    assert frame.this == ObjRef(tw.box) and frame.programmer == WIZARD


def test_command_verb_traceback_goes_to_the_player(tw: TaskWorld) -> None:
    def verb(task: Any, frame: Frame) -> Any:
        frame.line = 1
        raise MooRaise(Err.E_TYPE)

    tw.verb(ROOM, "kaboom", verb, args="none none none")
    dispatcher = Dispatcher(tw.world, tw.services, tw.scheduler)  # type: ignore[arg-type]
    dispatcher._scheduler = tw.scheduler
    dispatcher.run(tw.pleb, "kaboom")
    assert tw.services.to(tw.pleb) == [
        f"#{ROOM}:kaboom, line 1:  Type mismatch",
        "(End of traceback)",
    ]


def test_call_verb_converts_the_same_errors_as_compiled_programs() -> None:
    from moo.lang import ops, task

    assert task.CONVERTED == ops.CONVERTED

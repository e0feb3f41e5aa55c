"""Real MOO programs through the compiler on a real world: ``;`` evaluation, verbs written
with ``add_verb`` / ``set_verb_code`` and called, ``pass``, tracebacks with MOO line numbers,
limits, ``fork`` and ``suspend`` from MOO code."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from moo.commands.dispatch import Dispatcher
from moo.errors import PermissionDenied
from moo.lang.entries import run_eval
from moo.lang.task_api import Limits
from moo.world.values import Err, ObjRef
from tests.unit.lang.test_task_helpers import WIZARD, TaskWorld, make


@pytest.fixture
def tw() -> TaskWorld:
    return make()


def ev(tw: TaskWorld, source: str, who: int | None = None) -> list[str]:
    return run_eval(tw.scheduler, tw.prog if who is None else who, source).lines()


def program(tw: TaskWorld, oid: int, names: str, code: str, *, who: int = WIZARD) -> None:
    """add_verb + set_verb_code from MOO code, as ``@verb`` and ``@program`` will."""
    lines = code.strip("\n").split("\n")
    added = tw.bi(
        who, "add_verb", ObjRef(oid), [ObjRef(who), "rxd", names], ["this", "none", "this"]
    )
    assert added == 0
    assert tw.bi(who, "set_verb_code", ObjRef(oid), names.split()[0], lines) == []


def test_eval_expressions_and_statements(tw: TaskWorld) -> None:
    assert ev(tw, "1 + 2") == ["=> 3"]
    assert ev(tw, "{1, 2, 3}[2..$]") == ["=> {2, 3}"]
    assert ev(tw, "`1/0 ! ANY'") == ["=> E_DIV"]
    assert ev(tw, "x = 5; return x * 2;") == ["=> 10"]
    assert ev(tw, "$room") == ["=> #3"]
    assert ev(tw, "player") == [f"=> #{tw.prog}"]
    assert ev(tw, "1 +") == ["Line 1:  syntax error"]


def test_eval_traceback(tw: TaskWorld) -> None:
    assert ev(tw, "x = 1;\ny = x / 0;") == [
        "#-1:Input to EVAL, line 2:  Division by zero",
        "(End of traceback)",
    ]


def test_only_programmers_eval(tw: TaskWorld) -> None:
    with pytest.raises(PermissionDenied):
        run_eval(tw.scheduler, tw.pleb, "1")
    assert tw.bi(tw.pleb, "eval", "return 1;") == Err.E_PERM
    assert tw.bi(tw.prog, "eval", "return 1 + 1;") == [1, 2]
    assert tw.bi(tw.prog, "eval", "return 1 +;") == [0, ["Line 1:  syntax error"]]


def test_verbs_written_and_called_with_line_numbers(tw: TaskWorld) -> None:
    program(
        tw, 5, "half", 'if (args[1] == 0)\n  raise(E_INVARG, "zero");\nendif\nreturn args[1] / 2;'
    )
    program(tw, tw.box, "quarter", "x = this:half(args[1]);\nreturn this:half(x);")
    assert ev(tw, f"#{tw.box}:quarter(8)") == ["=> 2"]
    assert ev(tw, f"#{tw.box}:quarter(0)") == [
        f"#5:half (this == #{tw.box}), line 2:  zero",
        f"... called from #{tw.box}:quarter, line 1",
        "... called from #-1:Input to EVAL, line 1",
        "(End of traceback)",
    ]
    assert tw.bi(WIZARD, "verb_code", ObjRef(5), "half") == [
        "if (args[1] == 0)",
        '  raise(E_INVARG, "zero");',
        "endif",
        "return args[1] / 2;",
    ]


def test_pass_and_caller_and_callers(tw: TaskWorld) -> None:
    program(tw, 5, "describe", 'return "a thing";')
    program(tw, tw.box, "describe", 'return "a box, " + pass();')
    program(tw, tw.box, "who", "return {caller, caller_perms(), length(callers())};")
    assert ev(tw, f"#{tw.box}:describe()") == ['=> "a box, a thing"']
    assert ev(tw, f"#{tw.box}:who()") == [f"=> {{#-1, #{tw.prog}, 1}}"]


def test_recursion_and_ticks(tw: TaskWorld) -> None:
    program(tw, tw.box, "down", "return this:down();")
    lines = ev(tw, f"#{tw.box}:down()")
    assert lines[0] == f"#{tw.box}:down, line 1:  Too many verb calls"
    assert ev(tw, "while (1) endwhile")[0] == "#-1:Input to EVAL, line 1:  Task ran out of ticks"
    program(tw, tw.box, "fact", "n = args[1];\nreturn n <= 1 ? 1 | n * this:fact(n - 1);")
    assert ev(tw, f"#{tw.box}:fact(10)") == ["=> 3628800"]


def test_changes_before_an_error_stay(tw: TaskWorld) -> None:
    assert ev(tw, f'#{tw.box}.name = "kept"; 1/0;')[0].endswith("Division by zero")
    assert tw.world.objects[tw.box].name == "kept"


def test_seconds_limit_from_moo_code() -> None:
    tw = make(Limits(ticks=10**9, seconds=0.1))
    assert ev(tw, "while (1) endwhile")[0].endswith("Task ran out of seconds")


def test_a_command_runs_a_programmed_verb(tw: TaskWorld) -> None:
    tw.bi(
        WIZARD,
        "add_verb",
        ObjRef(tw.box),
        [ObjRef(WIZARD), "rxd", "shake"],
        ["this", "none", "none"],
    )
    code = ['notify(player, "You shake " + dobj.name + " (" + argstr + ").");']
    assert tw.bi(WIZARD, "set_verb_code", ObjRef(tw.box), "shake", code) == []
    dispatcher = Dispatcher(tw.world, tw.services, tw.scheduler)  # type: ignore[arg-type]
    dispatcher._scheduler = tw.scheduler
    dispatcher.run(tw.pleb, "shake box")
    assert tw.services.to(tw.pleb) == ["You shake box (box)."]


async def test_fork_and_suspend_from_moo_code(tw: TaskWorld) -> None:
    source = (
        f'fork (0)\n  #{tw.box}.name = "forked";\nendfork\n'
        f'#{tw.box}.name = "parent";\nsuspend(0);\nreturn #{tw.box}.name;'
    )
    outcome = run_eval(tw.scheduler, tw.prog, source)
    assert outcome.status == "suspended"
    assert tw.world.objects[tw.box].name == "parent"
    for _ in range(100):
        if tw.world.objects[tw.box].name == "forked":
            break
        await asyncio.sleep(0.01)
    assert tw.world.objects[tw.box].name == "forked"


async def test_forked_traceback_names_the_fork_line(tw: TaskWorld) -> None:
    run_eval(tw.scheduler, tw.prog, "x = 1;\nfork (0)\n  y = 1;\n  z = x / 0;\nendfork")
    for _ in range(100):
        if tw.services.to(tw.prog):
            break
        await asyncio.sleep(0.01)
    assert tw.services.to(tw.prog) == [
        "#-1:Input to EVAL, line 4:  Division by zero",
        "(End of traceback)",
    ]


def test_set_task_perms(tw: TaskWorld) -> None:
    denied = run_eval(tw.scheduler, tw.prog, f"set_task_perms(#{WIZARD})")
    assert denied.value == Err.E_PERM
    assert run_eval(tw.scheduler, tw.prog, f"set_task_perms(#{tw.prog}); return 1;").value == 1
    wiz = run_eval(tw.scheduler, WIZARD, f"set_task_perms(#{tw.pleb}); return caller_perms();")
    assert wiz.value == ObjRef(-1)
    gave_up = run_eval(tw.scheduler, WIZARD, f"set_task_perms(#{tw.pleb}); #{tw.box}.owner = #2;")
    assert gave_up.value == Err.E_PERM  # the wizard's task now has Pleb's permissions


async def test_a_suspended_eval_prints_its_value_when_it_ends(tw: TaskWorld) -> None:
    outcome = run_eval(tw.scheduler, tw.prog, "suspend(0); return 5;")
    assert outcome.status == "suspended" and outcome.lines() == []
    for _ in range(100):
        if tw.services.to(tw.prog):
            break
        await asyncio.sleep(0.01)
    assert tw.services.to(tw.prog) == ["=> 5"]


def test_a_bug_inside_a_commands_transaction_fails_that_command(tw: TaskWorld) -> None:
    def body(task: Any) -> Any:
        task.set_prop(ObjRef(tw.box), "name", "changed")
        raise KeyError("a bug")

    with pytest.raises(KeyError), tw.world.transaction():
        tw.run(tw.prog, body)
    assert tw.world.objects[tw.box].name == "box"  # the enclosing transaction was undone


def test_traceback_through_a_builtin(tw: TaskWorld) -> None:
    program(tw, tw.box, "accept", "return 1 / 0;")
    assert ev(tw, f"move(#{tw.pleb}, #{tw.box})", who=WIZARD) == [
        f"#{tw.box}:accept, line 1:  Division by zero",
        "... called from built-in function move()",
        "... called from #-1:Input to EVAL, line 1",
        "(End of traceback)",
    ]


def test_callers_with_lines_gives_each_running_frames_line(tw: TaskWorld) -> None:
    program(tw, tw.box, "inner", "x = 1;\nreturn callers(1);")
    program(tw, tw.box, "outer", 'y = 2;\nz = {"pad"};\nreturn this:inner();')
    rows = tw.bi(WIZARD, "eval", f"\nreturn #{tw.box}:outer();")
    assert rows[0] == 1
    # outer, the eval()'d code, and the frame of the builtin call that ran eval()
    assert [row[1] for row in rows[1]] == ["outer", "", ""]
    assert [row[5] for row in rows[1]] == [3, 2, 0]  # outer on line 3, the eval()'d on 2


def test_huge_server_options_give_budgets_that_fit_an_int(tw: TaskWorld) -> None:
    options = tw.world.create(1, WIZARD, "server options")
    tw.world.define_prop(0, "server_options", ObjRef(options), WIZARD)
    tw.world.define_prop(options, "fg_ticks", 1e300, WIZARD)
    tw.world.define_prop(options, "fg_seconds", float("inf"), WIZARD)
    assert ev(tw, "ticks_left()") == [f"=> {2**31 - 1}"]
    assert ev(tw, "seconds_left() > 1000") == ["=> 1"]

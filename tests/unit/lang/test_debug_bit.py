"""LambdaMOO's ``d`` (debug) bit (moo/lang/quiet.py): a verb without it does not raise. Each
failing operation gives its error as the value of the expression that failed, a failing
statement does nothing, and an error raised by a verb it calls still goes on up the
stack. 20 of LambdaCore's verbs have no ``d``, among them ``$room:say`` and
``$command_utils:do_huh``."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import pytest

from moo.world.model import MOO_IMPL, VerbDef
from moo.world.values import Err, ObjRef
from tests.unit.lang.test_suspended_tasks import name_of, server_with
from tests.unit.lang.test_task_helpers import WIZARD, TaskWorld, make
from tests.unit.lang.test_task_scheduling import until


@pytest.fixture
def tw() -> TaskWorld:
    return make()


def verb(tw: TaskWorld, name: str, code: str, perms: str = "rx") -> None:
    record = VerbDef(name, WIZARD, perms, "this", "none", "this", MOO_IMPL, code)
    tw.world.add_verb(tw.box, record)


def call(tw: TaskWorld, name: str) -> tuple[str, object]:
    outcome = tw.eval(WIZARD, f"return #{tw.box}:{name}();")
    return outcome.status, outcome.value if outcome.status == "done" else outcome.lines()


def test_a_failing_expression_is_its_error(tw: TaskWorld) -> None:
    verb(
        tw,
        "probe",
        "x = 1 / 0; y = {1}[5]; z = #-1.name; w = #0:no_such_verb(); v = raise(E_PERM); "
        'u = "a" + 1; return {x, y, z, w, v, u, length(5) + 1};',
    )
    assert call(tw, "probe") == (
        "done",
        [Err.E_DIV, Err.E_RANGE, Err.E_INVIND, Err.E_VERBNF, Err.E_PERM, Err.E_TYPE, Err.E_TYPE],
    )


def test_with_d_the_same_code_raises(tw: TaskWorld) -> None:
    verb(tw, "probe", "x = 1 / 0; return x;", perms="rxd")
    status, lines = call(tw, "probe")
    assert status == "error"
    assert isinstance(lines, list) and "Division by zero" in lines[0]


def test_a_variable_not_assigned_yet_reads_as_e_varnf(tw: TaskWorld) -> None:
    verb(tw, "probe", "if (0) late = 1; endif return {late, never};")
    assert call(tw, "probe") == ("done", [Err.E_VARNF, Err.E_VARNF])


def test_a_failing_statement_does_nothing_and_the_verb_goes_on(tw: TaskWorld) -> None:
    verb(
        tw,
        "probe",
        'a = 0; {a, b} = {1}; for x in (5) a = 9; endfor for i in [1.."x"] a = 8; endfor '
        '#-1.name = "x"; if (1 < "a") a = 7; endif return {a, "went on"};',
    )
    assert call(tw, "probe") == ("done", [0, "went on"])


def test_a_failed_update_of_a_variable_is_stored_in_it(tw: TaskWorld) -> None:
    """As LambdaMOO's INDEXSET (or ADD, or a splice) then PUT: the error is the new value."""
    verb(
        tw,
        "probe",
        'l = {1}; l[3] = 2; m = 5; m[1] = 2; k = 5; k = {@k, 1}; s = 1 / 0; s = s + "x"; '
        "r = {1, 2}; r[2..1] = 7; return {l, m, k, s, r};",
    )
    expected = [Err.E_RANGE, Err.E_TYPE, Err.E_TYPE, Err.E_TYPE, Err.E_TYPE]
    assert call(tw, "probe") == ("done", expected)


def test_updating_a_variable_never_assigned_stores_the_updates_error(tw: TaskWorld) -> None:
    """It reads as E_VARNF, which no splice, ``+`` or index store takes: E_TYPE, as in
    LambdaMOO (these took the in-place fast paths, whose NameError escaped)."""
    verb(tw, "probe", 'l = {@l, 1}; s = s + "x"; q[1] = 2; return {l, s, q};')
    assert call(tw, "probe") == ("done", [Err.E_TYPE, Err.E_TYPE, Err.E_TYPE])


def test_a_program_nested_too_deeply_is_a_compile_error_not_a_crash(tw: TaskWorld) -> None:
    deep = "for i in ({1}) " * 25 + "x = 1; " + "endfor " * 25
    box = ObjRef(tw.box)
    verb(tw, "deep", "return 0;")
    errors = tw.bi(WIZARD, "set_verb_code", box, "deep", [deep])
    assert errors == ["Program too large: its statements nest too deeply to compile"]
    verb(tw, "deepd", "return 0;", perms="rxd")
    assert tw.bi(WIZARD, "set_verb_code", box, "deepd", [deep]) == errors  # with d as well


def test_an_error_from_a_verb_it_calls_goes_on_up(tw: TaskWorld) -> None:
    verb(tw, "inner", "return 1 / 0;", perms="rxd")
    verb(tw, "outer", f'x = #{tw.box}:inner(); return "not reached";')
    status, lines = call(tw, "outer")
    assert status == "error"  # as in LambdaMOO: the d bit decides only the verb's own errors
    assert isinstance(lines, list) and "Division by zero" in lines[0]
    assert any("outer" in line for line in lines)  # the !d verb is in the traceback


def test_a_try_in_it_never_sees_its_own_errors(tw: TaskWorld) -> None:
    verb(
        tw,
        "probe",
        f'try x = 1 / 0; except (E_DIV) return "caught"; endtry '
        f"try #{tw.box}:inner(); except e (E_DIV) return {{x, e[1]}}; endtry",
    )
    verb(tw, "inner", "return 1 / 0;", perms="rxd")
    assert call(tw, "probe") == ("done", [Err.E_DIV, Err.E_DIV])


def test_a_runaway_still_stops(tw: TaskWorld) -> None:
    verb(tw, "probe", "while (1) endwhile")
    status, _ = call(tw, "probe")
    assert status == "aborted"


def test_the_bit_is_read_when_the_verb_runs(tw: TaskWorld) -> None:
    verb(tw, "probe", "return 1 / 0;", perms="rxd")
    assert call(tw, "probe")[0] == "error"
    box = ObjRef(tw.box)
    assert tw.bi(WIZARD, "set_verb_info", box, "probe", [ObjRef(WIZARD), "rx", "probe"]) == 0
    assert call(tw, "probe") == ("done", Err.E_DIV)
    assert tw.bi(WIZARD, "set_verb_info", box, "probe", [ObjRef(WIZARD), "rxd", "probe"]) == 0
    assert call(tw, "probe")[0] == "error"


def test_assignments_inside_expressions_still_assign(tw: TaskWorld) -> None:
    verb(
        tw,
        "probe",
        's = "aXbXc"; n = 0; while (i = index(s, "X")) s = s[i + 1..$]; n = n + 1; endwhile '
        "x = (y = 3) + 1; `z = 1 / 0 ! ANY'; return {n, s, i, x, y, z};",
    )
    # z is E_DIV: the division gave its error as its value, so nothing was left to catch
    assert call(tw, "probe") == ("done", [2, "c", 0, 4, 3, Err.E_DIV])


async def test_a_saved_fork_keeps_the_bit_after_a_restart(tmp_path: Path) -> None:
    """Its program is compiled again from the saved record, as its verb's bit says. (A
    suspended task of such a verb waits inside a ``quiet`` closure, where a saved frame
    cannot be resumed: it stays in memory only, as one in a catch expression does.)"""
    server, tw = server_with({})
    code = "fork (3600) this.name = tostr(1 / 0); endfork"
    tw.world.add_verb(
        tw.box, VerbDef("forks", WIZARD, "rx", "this", "none", "this", MOO_IMPL, code)
    )
    server.eval(f"#{tw.box}:forks();")
    [fork_id] = server.world.tasks
    record = server.world.tasks[fork_id]
    server.world.queue_task(msgspec.structs.replace(record, start=time.time() - 1))
    server = await server.restart(tmp_path)
    await until(lambda: name_of(server, tw.box) != "box")
    assert name_of(server, tw.box) == "Division by zero"  # it ran without d

"""Loops whose bodies neither spend nor read ticks pay them in chunks (``ops.TickedRange``,
``analysis.tick_free``): the same ticks at the same iterations as a tick an iteration,
however the loop is left, and the same bound on a runaway."""

from __future__ import annotations

import pytest

from moo.lang.builtins import BUILTINS
from moo.lang.codegen import python_source
from moo.lang.parser import parse
from moo.lang.task_api import Limits
from moo.world.model import MOO_IMPL, VerbDef
from moo.world.values import Err, ObjRef
from tests.unit.lang.test_task_helpers import WIZARD, TaskWorld, make


def run(tw: TaskWorld, source: str) -> object:
    outcome = tw.eval(WIZARD, source)
    assert outcome.status in ("done", "error", "aborted"), outcome
    return outcome.value if outcome.status != "aborted" else ("aborted", outcome.value)


def spent(tw: TaskWorld, body: str) -> object:
    """Ticks ``body`` spends, by ``ticks_left()`` before and after it."""
    return run(tw, f"t = ticks_left(); {body} return t - ticks_left();")


def test_the_fast_paths_are_taken() -> None:
    chunked = python_source(parse("for i in [1..5] x = i; endfor", BUILTINS.__contains__), BUILTINS)
    assert "_TickedRange" in chunked
    counted = python_source(parse("while (1) x = 1; endwhile", BUILTINS.__contains__), BUILTINS)
    assert "_more_ticks" in counted
    spending = python_source(
        parse("for i in [1..5] x = ticks_left(); endfor", BUILTINS.__contains__), BUILTINS
    )
    assert "_TickedRange" not in spending and "task.ticks -= 1" in spending


@pytest.mark.parametrize(
    "body",
    [
        "for i in [1..1234] endfor",
        "for i in [1..1234] if (i == 700) break; endif endfor",
        "for i in [1..1234] if (i % 2) continue; endif x = i; endfor",
        "for i in [1..1234] i = 5; endfor",
        "try for i in [1..1234] if (i == 300) x = 1 / 0; endif endfor except (E_DIV) endtry",
        "for i in [5..1] endfor",
        "for o in [#1..#800] if (o == #555) break; endif endfor",
        "for x in [1..3] for i in [1..600] endfor endfor",
        "while (1) for i in [1..600] if (i == 599) break; endif endfor break; endwhile",
        "for x in ({1, 2, 3}) for i in [1..600] if (i == 10) continue; endif endfor endfor",
        "i = 0; while (i < 1234) i = i + 1; endwhile",
        "for x in ({1, 2, 3, 4}) if (x == 3) break; endif endfor",
    ],
)
def test_the_same_ticks_as_a_tick_an_iteration(body: str) -> None:
    tw = make(Limits(ticks=100_000))
    slow = body.replace("endfor", "ticks_left(); endfor")  # ticks_left: no fast path
    assert spent(tw, body) == spent(tw, slow)


def test_a_verb_left_by_return_inside_a_chunk_is_refunded() -> None:
    tw = make(Limits(ticks=100_000))
    source = "for i in [1..1000] if (i == 250) return i; endif endfor"
    tw.world.add_verb(tw.box, VerbDef("f", WIZARD, "rxd", "this", "none", "this", MOO_IMPL, source))
    assert spent(tw, f"#{tw.box}:f();") == 251  # the call and 250 iterations


@pytest.mark.parametrize("ticks", [499, 500, 501, 999, 1000, 1001, 1500])
@pytest.mark.parametrize("count", [497, 498, 499, 500, 501, 998, 999, 1000, 1001, 1499, 1500])
def test_a_runaway_ends_at_the_same_iteration(ticks: int, count: int) -> None:
    tw = make(Limits(ticks=ticks))
    fast = run(tw, f"for i in [1..{count}] x = i; endfor return ticks_left();")
    slow = run(tw, f"for i in [1..{count}] x = i; ticks_left(); endfor return ticks_left();")
    assert fast == slow


def test_object_ranges_and_errors() -> None:
    tw = make()
    assert run(tw, "l = {}; for o in [#1..#3] l = {@l, o}; endfor return l;") == [
        ObjRef(1),
        ObjRef(2),
        ObjRef(3),
    ]
    assert run(tw, "for i in [1..#3] endfor") == Err.E_TYPE
    assert run(tw, "for i in [1..3] endfor return i;") == 3
    assert run(tw, "i = 7; for i in [3..1] endfor return i;") == 7

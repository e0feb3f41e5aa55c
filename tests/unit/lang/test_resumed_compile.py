"""The resumable compile mode on its own: a program compiled to go on at a saved position
(``resumed.py``), its locating half (``positions.py``), and the fast mode's loop state."""

from __future__ import annotations

from typing import Any

import pytest

from moo.lang import tree as t
from moo.lang.builtins import BUILTINS
from moo.lang.codegen import python_source
from moo.lang.compiler import compile_program
from moo.lang.positions import locate, numbered, root_block
from moo.lang.resumed import NotResumable, ResumeSpec, compile_resumed, substitute
from moo.lang.task import Task
from moo.world.values import Err
from tests.unit.lang.test_task_helpers import WIZARD, make

PROGRAM = """total = 0;
for i in [1..4]
  if (i % 2)
    total = total + 1;
  else
    total = total + this:ten();
  endif
endfor
for w in ({})
  total = total + suspend(0);
endfor
return total;"""


def run_resumed(source: str, spec: ResumeSpec) -> Any:
    tw = make()
    program = compile_resumed(source, spec)

    def body(task: Task) -> Any:
        return program.run(task, task.frame)

    outcome = tw.run(WIZARD, body)
    assert outcome.status in ("done", "error"), outcome.lines()
    return outcome.value


def test_locate_finds_the_one_waiting_call_on_a_line() -> None:
    tree = compile_program(PROGRAM).tree
    path, call = locate(tree, 6) or ([], None)
    assert path == [[1, 0], [0, 1], [0, -1]]
    assert isinstance(call, t.VerbCall)
    path, call = locate(tree, 10) or ([], None)
    assert path == [[2, 0], [0, -1]] and isinstance(call, t.Call) and call.name == "suspend"
    assert locate(tree, 4) is None  # no call that can wait there
    assert locate(compile_program("x = {suspend(), suspend()};").tree, 1) is None
    two = compile_program("this:a(); this:b(); suspend();").tree
    assert locate(two, 1) is None  # which one?
    assert locate(two, 1, "suspend") == ([[2, -1]], two[2].expr)  # type: ignore[union-attr]
    assert locate(two, 1, "verb", "B") == ([[1, -1]], two[1].expr)  # type: ignore[union-attr]
    assert locate(compile_program("this:(x)(); this:b();").tree, 1, "verb", "b") is None
    head = compile_program("while (this:f()) endwhile").tree
    assert locate(head, 1) == ([[0, -2]], head[0].cond)  # type: ignore[union-attr]
    forked = compile_program("fork (this:d()) this:x(); endfork this:y();").tree
    assert locate(forked, 1) is None  # the delay's call waits here too: which one is it?
    assert locate(compile_program("fork (0) this:x(); endfork this:y();").tree, 1) is not None


def test_numbering_counts_forks_and_loops_in_source_order() -> None:
    tree = compile_program("fork (0) while (1) endwhile endfork for x in ({}) endfor").tree
    forks, loops = numbered(tree)
    assert sorted(forks.values()) == [0] and sorted(loops.values()) == [0, 1]
    assert root_block(tree, 0) == tree[0].body  # type: ignore[union-attr]
    with pytest.raises(LookupError):
        root_block(tree, 1)


def test_fast_for_loops_that_call_keep_their_position_in_locals() -> None:
    text = python_source(compile_program(PROGRAM).tree, BUILTINS)
    assert (
        "_fs0 = 1" in text and "_fe0 = 4" in text and "for _fi0 in _for_range(_fs0, _fe0)" in text
    )
    assert "for _fi1, v_w in _enumerate(_fl1):" in text
    for quiet in ("for x in ({1}) y = x; endfor", "for x in ({1}) notify(player, x); endfor"):
        text = python_source(compile_program(quiet).tree, BUILTINS)
        assert "_enumerate" not in text  # nothing in it can wait: it stays as it was


def test_resuming_in_a_range_loop_inside_an_if_arm() -> None:
    # waited in this:ten() at i == 2 (total was 1): 10 comes back, then i = 3, 4 and the
    # list loop (whose suspends give 0 now: it runs in the fast code)
    spec = ResumeSpec(
        root=-1,
        path=[[1, 0], [0, 1], [0, -1]],
        variables={"total": 1, "i": 2},
        loops={0: [2, 4]},
        result=t.Literal(10),
    )
    program = compile_resumed(PROGRAM, spec)
    assert program.filename.endswith(" resumed>")
    # i == 4 calls this:ten() again: ``this`` is #-1 here
    assert run_resumed(PROGRAM, spec) == Err.E_INVIND
    spec.variables["i"], spec.loops[0] = 4, [4, 4]
    assert run_resumed(PROGRAM, spec) == 11  # total 1 + 10, and the loops end


def test_resuming_in_a_list_loop_keeps_the_index_and_the_changed_variable() -> None:
    source = (
        'out = {};\nfor w in ({"a", "b", "c"})\n  w = w + "!";\n'
        '  out = {@out, w == "b!" ? suspend(0) | "-", w};\nendfor\nreturn out;'
    )
    spec = ResumeSpec(
        root=-1,
        path=[[1, 0], [1, -1]],
        variables={"out": ["x", "a!"], "w": "b!"},
        loops={0: [["a", "b", "c"], 1, "b!"]},
        result=t.Literal("R"),
    )
    assert run_resumed(source, spec) == ["x", "a!", "R", "b!", "-", "c!"]


def test_an_error_delivered_to_the_waiting_call_is_caught_where_it_waited() -> None:
    source = 'try\n  x = this:f();\nexcept e (E_DIV)\n  return {"caught", e[1]};\nendtry'
    raised = t.Call("raise", (t.Literal(Err.E_DIV), t.Literal("no"), t.Literal(0)))
    spec = ResumeSpec(-1, [[0, 0], [0, -1]], {}, {}, raised)
    assert run_resumed(source, spec) == ["caught", Err.E_DIV]


def test_a_position_that_no_longer_fits_is_not_resumable() -> None:
    spec = ResumeSpec(-1, [[5, -1]], {}, {}, t.Literal(0))
    with pytest.raises(NotResumable, match="not in the program"):
        compile_resumed("return 1;", spec)
    spec = ResumeSpec(-1, [[0, -1]], {}, {}, t.Literal(0))
    with pytest.raises(NotResumable, match="changed"):
        compile_resumed("return 1;", spec)
    spec = ResumeSpec(-1, [[0, 0], [0, -1]], {}, {}, t.Literal(0))
    with pytest.raises(NotResumable, match="saved state is missing"):
        compile_resumed("for x in ({1}) suspend(0); endfor", spec)


def test_substitute_replaces_by_identity_and_keeps_the_rest() -> None:
    tree = compile_program("x = {this:f(), 1};").tree
    call = tree[0].expr.value.items[0]  # type: ignore[union-attr]
    replaced = substitute(tree[0], call, t.Literal(7))
    assert replaced == compile_program("x = {7, 1};").tree[0]
    assert substitute(tree[0], object(), t.Literal(7)) is tree[0]

"""Escape attempts stay MOO errors: compiled code reaches only the helpers codegen passes in."""

from __future__ import annotations

from typing import Any

import pytest

from moo.lang.builtins import BUILTINS
from moo.lang.codegen import python_source
from moo.lang.compiler import compile_program
from moo.lang.errors import MooSyntaxError, TaskAbort
from moo.lang.parser import parse
from moo.lang.task_api import Limits
from moo.world.values import Err, ObjRef
from tests.unit.lang.memory_task import MemoryTask, evaluate


@pytest.mark.parametrize(
    "name",
    [
        "__import__",
        "__builtins__",
        "__class__",
        "__globals__",
        "_add",
        "task",
        "frame",
        "run",
        "_t1",
        "v_x",
        "_bf_length",
        "_UNSET",
        "_k1",
        "exec",
        "eval_",
    ],
)
def test_variables_named_like_python_internals_are_just_variables(name: str) -> None:
    assert evaluate(f"return {name};") == ("raised", Err.E_VARNF)
    assert evaluate(f"{name} = 5; return {name} + 1;") == 6
    assert evaluate(f"{name} = {{1}}; {name}[1] = 2; return {name};") == [2]


@pytest.mark.parametrize(
    "name", ["__class__", "__globals__", "__dict__", "__init__", "get_prop", "objects"]
)
def test_property_and_verb_names_are_strings(name: str) -> None:
    task = MemoryTask()
    task.add_object(1)
    for source in (
        f"return #1.{name};",
        f'return #1.("{name}");',
        f"#1.{name} = 1;",
        f"return $x.{name};",
    ):
        with pytest.raises(Exception) as caught:
            task.run(source)
        assert caught.type.__name__ == "MooRaise"
        assert caught.value.code in (Err.E_PROPNF, Err.E_INVIND)  # type: ignore[attr-defined]
    for source in (f"return #1:{name}();", f'return #1:("{name}")();'):
        with pytest.raises(Exception) as caught:
            task.run(source)
        assert caught.value.code is Err.E_VERBNF  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('true')",
        "'); import os; ('",
        '\\"); import os; (\\"',
        "\\n import os",
        "{__builtins__}",
        "\\x00\\u0000",
        "' + str(1) + '",
    ],
)
def test_strings_with_python_code_are_data(text: str) -> None:
    assert evaluate(f'return "{text}";') == text.replace("\\\\", "\x00").replace("\\", "").replace(
        "\x00", "\\"
    )
    assert evaluate(f'return #0.("{text}");') == ("raised", Err.E_PROPNF)


def test_generated_python_names_are_mangled() -> None:
    source = python_source(
        parse('__class__ = 1; x = __class__ + #1.__dict__; return "__import__";'), BUILTINS
    )
    assert "v___class__" in source
    assert " __class__ " not in source
    assert "task.get_prop(_k" in source or "task.get_prop(" in source
    assert "'__dict__'" in source


def test_code_runs_without_python_builtins() -> None:
    program = compile_program("return 1;")
    globals_ = program._run.__globals__
    assert globals_["__builtins__"] == {}
    assert all(k.startswith("_") or k == "run" for k in globals_)


def test_huge_literals_stay_values() -> None:
    assert (
        evaluate("return 99999999999999999999;") == ((99999999999999999999 + 2**31) % 2**32) - 2**31
    )
    assert evaluate("return 1e308 * 10.0;") == ("raised", Err.E_FLOAT)
    big = "x" * 100_000
    assert evaluate(f'return length("{big}");') == 100_000
    items = ", ".join(["1"] * 5000)
    assert evaluate(f"return length({{{items}}});") == 5000


@pytest.mark.parametrize(
    "source",
    [
        "return " + "(" * 1000 + "1" + ")" * 1000 + ";",
        "return " + "-" * 1000 + "1;",
        "return " + "!" * 1000 + "1;",
        "return " + "{" * 1000 + "}" * 1000 + ";",
        "return " + "x[" * 1000 + "1" + "]" * 1000 + ";",
        "return " + "`" * 1000 + "1" + " ! ANY'" * 1000 + ";",
        "if (1) " * 1000 + "endif " * 1000,
        "while (1) " * 1000 + "endwhile " * 1000,
        "return " + " + ".join(["1"] * 5000) + ";",
        "return " + "a.b" + ".c" * 5000 + ";",
        "x = " + "y = " * 1000 + "1;",
    ],
)
def test_deep_nesting_is_a_syntax_error(source: str) -> None:
    with pytest.raises(MooSyntaxError):
        compile_program(source)


def test_recursion_is_e_maxrec_not_a_python_error() -> None:
    task = MemoryTask(Limits(max_depth=10_000, ticks=10**9))
    task.add_object(1)
    task.add_verb(1, "r", "return this:r();")
    with pytest.raises(Exception) as caught:
        task.run("return #1:r();")
    assert caught.type.__name__ == "MooRaise"
    assert caught.value.code is Err.E_MAXREC  # type: ignore[attr-defined]
    assert task.run("return `#1:r() ! E_MAXREC => 5';") == 5


def test_runaway_loops_and_growth_are_stopped() -> None:
    task = MemoryTask(Limits(ticks=10_000))
    with pytest.raises(TaskAbort):
        task.run("while (1) x = 1; endwhile")
    limits = Limits(max_string_length=1000, max_list_length=1000)
    assert evaluate('s = "ab"; while (1) s = s + s; endwhile', limits=limits) == (
        "raised",
        Err.E_QUOTA,
    )
    assert evaluate("l = {1}; while (1) l = {@l, @l}; endwhile", limits=limits) == (
        "raised",
        Err.E_QUOTA,
    )
    assert evaluate("l = {1}; while (1) l = {1, @l}; endwhile", limits=limits) == (
        "raised",
        Err.E_QUOTA,
    )


def test_values_of_python_types_never_leak() -> None:
    results: list[Any] = [
        evaluate("return 1 < 2;"),
        evaluate("return !0;"),
        evaluate("return 1 == 1;"),
        evaluate("return 2 in {2};"),
        evaluate("x = 1 && 2 < 3; return x;"),
    ]
    for value in results:
        assert type(value) is int
    assert evaluate('return {#1 == #1, "a" == "A"};') == [1, 1]
    assert type(evaluate("for o in [#1..#1] return o; endfor")) is ObjRef

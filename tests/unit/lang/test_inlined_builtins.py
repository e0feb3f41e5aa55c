"""``length``, ``tostr``, ``index`` and ``rindex`` are inlined by the compiler for the
argument types it can answer (``_Gen.inline_builtin``); every value must match the builtin
called through ``call_function`` (which the compiler never inlines)."""

from __future__ import annotations

import pytest

from moo.lang.task_api import Limits
from moo.world.values import Err
from tests.unit.lang.test_task_helpers import WIZARD, TaskWorld, make

VALUES = ['"Hello World"', '"wOr"', '""', '"o"', "5", "-3", "2.5", "#3", "E_PERM", "{1, 2}", "{}"]


@pytest.fixture(scope="module")
def tw() -> TaskWorld:
    return make()


def both(tw: TaskWorld, call: str, name: str, args: list[str]) -> tuple[object, object]:
    inline = tw.eval(WIZARD, f"return `{call} ! ANY';")
    arguments = ", ".join([f'"{name}"', *args])
    dynamic = tw.eval(WIZARD, f"return `call_function({arguments}) ! ANY';")
    return inline.value, dynamic.value


@pytest.mark.parametrize("value", VALUES)
def test_length(tw: TaskWorld, value: str) -> None:
    a, b = both(tw, f"length({value})", "length", [value])
    assert a == b


@pytest.mark.parametrize("second", VALUES)
@pytest.mark.parametrize("first", VALUES)
@pytest.mark.parametrize("name", ["index", "rindex"])
def test_index_and_rindex(tw: TaskWorld, name: str, first: str, second: str) -> None:
    a, b = both(tw, f"{name}({first}, {second})", name, [first, second])
    assert a == b
    # through variables too (the inlined code guards their types at run time)
    outcome = tw.eval(WIZARD, f"a = {first}; b = {second}; return `{name}(a, b) ! ANY';")
    assert outcome.value == a


@pytest.mark.parametrize("second", VALUES)
@pytest.mark.parametrize("first", VALUES)
def test_tostr(tw: TaskWorld, first: str, second: str) -> None:
    a, b = both(tw, f"tostr({first}, {second})", "tostr", [first, second])
    assert a == b


def test_tostr_keeps_the_string_limit() -> None:
    small = make(Limits(max_string_length=10))
    a, b = both(small, 'tostr("12345", 678901)', "tostr", ['"12345"', "678901"])
    assert a == b
    assert a == Err.E_QUOTA


def test_arguments_are_evaluated_in_order_before_any_is_judged(tw: TaskWorld) -> None:
    outcome = tw.eval(WIZARD, 'x = 0; r = `index(5, x = "a") ! ANY\'; return {r, x};')
    assert outcome.value[1] == "a"
    outcome = tw.eval(WIZARD, "x = 0; r = `length((x = 3) + 0) ! ANY'; return {r, x};")
    assert outcome.value[1] == 3

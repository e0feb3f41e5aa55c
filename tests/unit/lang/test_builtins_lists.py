"""Conformance: length, setadd, setremove, listappend, listinsert, listdelete, listset,
is_member (LambdaMOO 1.8.1 ``list.c``)."""

from __future__ import annotations

from typing import Any

import pytest

from moo.lang.task_api import Limits
from moo.world.values import Err
from tests.unit.lang.builtin_task import BuiltinTask, check, o, run

E = Err

CASES: list[tuple[str, tuple[Any, ...], Any]] = [
    # length
    ("length", ([],), 0),
    ("length", ([1, 2, 3],), 3),
    ("length", ([[1, 2], 3],), 2),
    ("length", ("",), 0),
    ("length", ("foobar",), 6),
    ("length", (5,), E.E_TYPE),
    ("length", (1.5,), E.E_TYPE),
    ("length", (o(1),), E.E_TYPE),
    ("length", (E.E_PERM,), E.E_TYPE),
    # setadd: case-insensitive membership, appends at the end
    ("setadd", ([1, 2, 3], 3), [1, 2, 3]),
    ("setadd", ([1, 2, 3], 4), [1, 2, 3, 4]),
    ("setadd", ([], "a"), ["a"]),
    ("setadd", (["foo"], "FOO"), ["foo"]),
    ("setadd", ([1], 1.0), [1, 1.0]),
    ("setadd", ([[1, "a"]], [1, "A"]), [[1, "a"]]),
    ("setadd", ([o(1)], o(1)), [o(1)]),
    ("setadd", ([1, 1], 2), [1, 1, 2]),
    ("setadd", ("abc", 1), E.E_TYPE),
    ("setadd", (1, 1), E.E_TYPE),
    # setremove: the first equal element only
    ("setremove", ([1, 2, 3], 2), [1, 3]),
    ("setremove", ([1, 2, 3], 4), [1, 2, 3]),
    ("setremove", ([1, 2, 1], 1), [2, 1]),
    (
        "setremove",
        (["Foo", "bar"], "foo"),
        ["bar"],
    ),
    ("setremove", ([], 1), []),
    ("setremove", ([1.0], 1), [1.0]),
    ("setremove", ("abc", "a"), E.E_TYPE),
    # listappend
    ("listappend", ([1, 2, 3], 4), [1, 2, 3, 4]),
    ("listappend", ([], 4), [4]),
    ("listappend", ([1, 2, 3], 4, 1), [1, 4, 2, 3]),
    ("listappend", ([1, 2, 3], 4, 0), [4, 1, 2, 3]),
    ("listappend", ([1, 2, 3], 4, 3), [1, 2, 3, 4]),
    ("listappend", ([1, 2, 3], 4, 10), [1, 2, 3, 4]),  # clamped, never E_RANGE
    ("listappend", ([1, 2, 3], 4, -5), [4, 1, 2, 3]),
    ("listappend", ([1, 2], [3]), [1, 2, [3]]),
    ("listappend", ("abc", 4), E.E_TYPE),
    ("listappend", ([1], 4, "2"), E.E_TYPE),
    ("listappend", ([1], 4, 1.0), E.E_TYPE),
    # listinsert
    ("listinsert", ([1, 2, 3], 4), [4, 1, 2, 3]),
    ("listinsert", ([1, 2, 3], 4, 2), [1, 4, 2, 3]),
    ("listinsert", ([1, 2, 3], 4, 1), [4, 1, 2, 3]),
    ("listinsert", ([1, 2, 3], 4, 3), [1, 2, 4, 3]),
    ("listinsert", ([1, 2, 3], 4, 4), [1, 2, 3, 4]),
    ("listinsert", ([1, 2, 3], 4, 99), [1, 2, 3, 4]),
    ("listinsert", ([1, 2, 3], 4, 0), [4, 1, 2, 3]),
    ("listinsert", ([1, 2, 3], 4, -1), [4, 1, 2, 3]),
    ("listinsert", ([], "x"), ["x"]),
    ("listinsert", ([], "x", 5), ["x"]),
    ("listinsert", ("abc", 4), E.E_TYPE),
    ("listinsert", ([1], 4, o(1)), E.E_TYPE),
    # listdelete
    ("listdelete", ([1, 2, 3], 2), [1, 3]),
    ("listdelete", ([1, 2, 3], 1), [2, 3]),
    ("listdelete", ([1, 2, 3], 3), [1, 2]),
    ("listdelete", ([1], 1), []),
    ("listdelete", ([1, 2, 3], 0), E.E_RANGE),
    ("listdelete", ([1, 2, 3], 4), E.E_RANGE),
    ("listdelete", ([1, 2, 3], -1), E.E_RANGE),
    ("listdelete", ([], 1), E.E_RANGE),
    ("listdelete", ("abc", 1), E.E_TYPE),
    ("listdelete", ([1], "1"), E.E_TYPE),
    ("listdelete", ([], "1"), E.E_TYPE),  # the type check comes before the range
    # listset
    ("listset", ([1, 2, 3], "x", 2), [1, "x", 3]),
    ("listset", ([1, 2, 3], "x", 1), ["x", 2, 3]),
    ("listset", ([1, 2, 3], "x", 3), [1, 2, "x"]),
    ("listset", ([1, 2, 3], [4], 3), [1, 2, [4]]),
    ("listset", ([1, 2, 3], "x", 0), E.E_RANGE),
    ("listset", ([1, 2, 3], "x", 4), E.E_RANGE),
    ("listset", ([], "x", 1), E.E_RANGE),
    ("listset", ("abc", "x", 1), E.E_TYPE),
    ("listset", ([1], "x", 1.0), E.E_TYPE),
    # is_member: case-sensitive, answers the index
    ("is_member", (3, [3, 10, 11]), 1),
    ("is_member", (11, [3, 10, 11]), 3),
    ("is_member", (12, [3, 10, 11]), 0),
    ("is_member", ("a", ["A", "a"]), 2),
    ("is_member", ("a", ["A"]), 0),
    ("is_member", (1, [1.0]), 0),
    ("is_member", ([1, "x"], [[1, "X"], [1, "x"]]), 2),
    ("is_member", (o(2), [o(1), o(2)]), 2),
    ("is_member", (E.E_PERM, [E.E_PERM]), 1),
    ("is_member", (1, []), 0),
    ("is_member", (1, "1"), E.E_TYPE),
    ("is_member", (1, 1), E.E_TYPE),
]


@pytest.mark.parametrize(("name", "args", "expected"), CASES)
def test_list_builtin(name: str, args: tuple[Any, ...], expected: Any) -> None:
    check(name, args, expected)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("setadd", ([1, 2], 3)),
        ("setremove", ([1, 2], 1)),
        ("listappend", ([1, 2], 3)),
        ("listinsert", ([1, 2], 3, 1)),
        ("listdelete", ([1, 2], 1)),
        ("listset", ([1, 2], 3, 1)),
    ],
)
def test_arguments_are_never_changed(name: str, args: tuple[Any, ...]) -> None:
    original = args[0]
    before = list(original)
    result = run(name, *args)
    assert original == before
    assert result is not original


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("setadd", ([1, 2, 3], 4)),
        ("listappend", ([1, 2, 3], 4)),
        ("listinsert", ([1, 2, 3], 4)),
        ("listappend", ([1, 2, 3], 4, 1)),
    ],
)
def test_growing_past_the_list_limit_is_quota(name: str, args: tuple[Any, ...]) -> None:
    task = BuiltinTask(Limits(max_list_length=3))
    check(name, args, E.E_QUOTA, task=task)
    roomy = BuiltinTask(Limits(max_list_length=4))
    assert len(run(name, *args, task=roomy)) == 4


def test_setadd_of_a_member_is_not_quota() -> None:
    task = BuiltinTask(Limits(max_list_length=3))
    check("setadd", ([1, 2, 3], 2), [1, 2, 3], task=task)

"""Conformance: min, max, abs, random, floatstr and the float functions (LambdaMOO 1.8.1
``numbers.c``; the error for each C ``errno`` as glibc sets it)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from moo.world.values import Err
from tests.unit.lang.builtin_task import check, o, run

E = Err

CASES: list[tuple[str, tuple[Any, ...], Any]] = [
    # min / max: one numeric type throughout
    ("min", (1,), 1),
    ("min", (3, 1, 2), 1),
    ("min", (-3, 1, 2), -3),
    ("min", (2.5, 1.5), 1.5),
    ("min", (1, 2.0), E.E_TYPE),
    ("min", (1.0, 2), E.E_TYPE),
    ("min", ("a", "b"), E.E_TYPE),
    ("min", ("a",), E.E_TYPE),
    ("min", (1, "a"), E.E_TYPE),
    ("min", (1, 0, "a"), E.E_TYPE),
    ("min", (o(1), o(2)), E.E_TYPE),
    ("max", (1,), 1),
    ("max", (3, 1, 2), 3),
    ("max", (-3, -1, -2), -1),
    ("max", (2.5, 1.5, 3.5), 3.5),
    ("max", (1, 2.0), E.E_TYPE),
    ("max", ([1],), E.E_TYPE),
    ("max", (E.E_PERM,), E.E_TYPE),
    # abs
    ("abs", (-17,), 17),
    ("abs", (17,), 17),
    ("abs", (0,), 0),
    ("abs", (-2147483648,), -2147483648),  # as 1.8's C abs: the 32-bit int has no +2^31
    ("abs", (-2147483647,), 2147483647),
    ("abs", (-2.5,), 2.5),
    ("abs", (2.5,), 2.5),
    ("abs", ("1",), E.E_TYPE),
    ("abs", (o(-1),), E.E_TYPE),
    # random's argument
    ("random", (0,), E.E_INVARG),
    ("random", (-5,), E.E_INVARG),
    ("random", (1,), 1),
    ("random", (1.0,), E.E_TYPE),
    ("random", ("5",), E.E_TYPE),
    # floatstr
    ("floatstr", (1.0 / 3.0, 3), "0.333"),
    ("floatstr", (1.0 / 3.0, 0), "0"),
    ("floatstr", (2.5, 0), "2"),  # C's round-half-even on the exact binary value
    ("floatstr", (3.5, 0), "4"),
    ("floatstr", (-1.25, 1), "-1.2"),
    ("floatstr", (12345.678, 3, 1), "1.235e+04"),
    ("floatstr", (12345.678, 2, 0), "12345.68"),
    ("floatstr", (0.0, 2, 1), "0.00e+00"),
    ("floatstr", (1e22, 2), "10000000000000000000000.00"),
    ("floatstr", (1.0 / 3.0, 19), "0.3333333333333333148"),
    ("floatstr", (1.0 / 3.0, 50), "0.3333333333333333148"),  # at most DBL_DIG + 4
    ("floatstr", (1.0, -1), E.E_INVARG),
    ("floatstr", (1, 2), E.E_TYPE),
    ("floatstr", (1.0, 2.0), E.E_TYPE),
    ("floatstr", (1.0, 2, "yes"), "1.00e+00"),
    # the float functions take floats only
    ("sqrt", (4.0,), 2.0),
    ("sqrt", (2.0,), math.sqrt(2.0)),
    ("sqrt", (0.0,), 0.0),
    ("sqrt", (-0.0,), -0.0),
    ("sqrt", (-1.0,), E.E_INVARG),
    ("sqrt", (4,), E.E_TYPE),
    ("sin", (0.0,), 0.0),
    ("sin", (1.0,), math.sin(1.0)),
    ("cos", (0.0,), 1.0),
    ("tan", (0.0,), 0.0),
    ("tan", (1.0,), math.tan(1.0)),
    ("asin", (1.0,), math.pi / 2),
    ("asin", (2.0,), E.E_INVARG),
    ("acos", (1.0,), 0.0),
    ("acos", (-1.5,), E.E_INVARG),
    ("atan", (1.0,), math.pi / 4),
    ("atan", (1.0, 1.0), math.pi / 4),
    ("atan", (1.0, -1.0), 3 * math.pi / 4),
    ("atan", (0.0, 0.0), 0.0),
    ("atan", (1, 1.0), E.E_TYPE),
    ("atan", (1.0, 1), E.E_TYPE),
    ("sinh", (0.0,), 0.0),
    ("sinh", (1000.0,), E.E_FLOAT),
    ("cosh", (0.0,), 1.0),
    ("cosh", (-1000.0,), E.E_FLOAT),
    ("tanh", (1000.0,), 1.0),
    ("exp", (0.0,), 1.0),
    ("exp", (1.0,), math.e),
    ("exp", (1000.0,), E.E_FLOAT),
    ("exp", (-1000.0,), E.E_FLOAT),  # glibc reports the underflow
    ("log", (1.0,), 0.0),
    ("log", (math.e,), 1.0),
    ("log", (0.0,), E.E_FLOAT),  # a pole: ERANGE, not EDOM
    ("log", (-1.0,), E.E_INVARG),
    ("log10", (1000.0,), 3.0),
    ("log10", (0.0,), E.E_FLOAT),
    ("log10", (-10.0,), E.E_INVARG),
    ("ceil", (3.1,), 4.0),
    ("ceil", (-3.9,), -3.0),
    ("ceil", (-0.5,), -0.0),
    ("ceil", (5.0,), 5.0),
    ("floor", (3.9,), 3.0),
    ("floor", (-3.1,), -4.0),
    ("floor", (1e300,), 1e300),
    ("trunc", (3.9,), 3.0),
    ("trunc", (-3.9,), -3.0),
    ("trunc", (-0.5,), -0.0),
    ("ceil", (3,), E.E_TYPE),
    ("floor", ("3.0",), E.E_TYPE),
    ("trunc", ([],), E.E_TYPE),
]


@pytest.mark.parametrize(("name", "args", "expected"), CASES)
def test_number_builtin(name: str, args: tuple[Any, ...], expected: Any) -> None:
    check(name, args, expected)


@pytest.mark.parametrize(
    "name",
    [
        "sqrt",
        "sin",
        "cos",
        "tan",
        "asin",
        "acos",
        "atan",
        "sinh",
        "cosh",
        "tanh",
        "exp",
        "log",
        "log10",
        "ceil",
        "floor",
        "trunc",
    ],
)
@pytest.mark.parametrize("value", [1, "1.0", o(1), E.E_NONE, [1.0]])
def test_float_functions_refuse_other_types(name: str, value: Any) -> None:
    check(name, (value,), E.E_TYPE)


@pytest.mark.parametrize("top", [1, 2, 6, 1000])
def test_random_stays_in_range(top: int) -> None:
    seen = {run("random", top) for _ in range(300)}
    assert seen <= set(range(1, top + 1))
    if top <= 6:
        assert seen == set(range(1, top + 1))


def test_random_without_argument() -> None:
    for _ in range(50):
        value = run("random")
        assert isinstance(value, int) and 1 <= value <= 2**31 - 1

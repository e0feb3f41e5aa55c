"""Conformance: typeof, tostr, toliteral, toint, tonum, toobj, tofloat, equal, value_bytes,
value_hash, against the LambdaMOO 1.8.1 Programmer's Manual and its C source."""

from __future__ import annotations

from typing import Any

import pytest

from moo.lang.task_api import Limits
from moo.world.values import Err
from tests.unit.lang.builtin_task import BuiltinTask, check, o, run

E = Err

TYPEOF = [
    (1, 0),
    (-5, 0),
    (o(3), 1),
    ("x", 2),
    ("", 2),
    (E.E_PERM, 3),
    ([], 4),
    ([1, "a"], 4),
    (1.5, 9),
]


@pytest.mark.parametrize(("value", "code"), TYPEOF)
def test_typeof(value: Any, code: int) -> None:
    check("typeof", (value,), code)


TOSTR: list[tuple[tuple[Any, ...], Any]] = [
    ((), ""),
    ((17,), "17"),
    ((-3,), "-3"),
    ((1.0 / 3.0,), "0.333333333333333"),
    ((1.0,), "1.0"),
    ((-2.0,), "-2.0"),
    ((1e20,), "1e+20"),
    ((1.5e-7,), "1.5e-07"),
    ((123456789012345678.0,), "1.23456789012346e+17"),
    ((0.1,), "0.1"),
    ((o(17),), "#17"),
    ((o(-1),), "#-1"),
    (("foo",), "foo"),
    ((["a", 2],), "{list}"),
    (([],), "{list}"),
    ((E.E_PERM,), "Permission denied"),
    ((E.E_NONE,), "No error"),
    ((E.E_TYPE,), "Type mismatch"),
    ((E.E_DIV,), "Division by zero"),
    ((E.E_PROPNF,), "Property not found"),
    ((E.E_VERBNF,), "Verb not found"),
    ((E.E_VARNF,), "Variable not found"),
    ((E.E_INVIND,), "Invalid indirection"),
    ((E.E_RECMOVE,), "Recursive move"),
    ((E.E_MAXREC,), "Too many verb calls"),
    ((E.E_RANGE,), "Range error"),
    ((E.E_ARGS,), "Incorrect number of arguments"),
    ((E.E_NACC,), "Move refused by destination"),
    ((E.E_INVARG,), "Invalid argument"),
    ((E.E_QUOTA,), "Resource limit exceeded"),
    ((E.E_FLOAT,), "Floating-point arithmetic error"),
    (("3 + 4 = ", 7), "3 + 4 = 7"),
    (("a", 1, o(2), 2.5, ["x"], E.E_ARGS), "a1#22.5{list}Incorrect number of arguments"),
]


@pytest.mark.parametrize(("args", "expected"), TOSTR)
def test_tostr(args: tuple[Any, ...], expected: Any) -> None:
    check("tostr", args, expected)


def test_tostr_quota() -> None:
    task = BuiltinTask(Limits(max_string_length=5))
    check("tostr", ("abc", "de"), "abcde", task=task)
    check("tostr", ("abc", "def"), E.E_QUOTA, task=task)


TOLITERAL: list[tuple[Any, str]] = [
    (43, "43"),
    (-43, "-43"),
    (1.0 / 3.0, "0.333333333333333"),
    (5.0, "5.0"),
    (o(17), "#17"),
    ("foo", '"foo"'),
    ("", '""'),
    ('say "hi"', '"say \\"hi\\""'),
    ("back\\slash", '"back\\\\slash"'),
    ([1, 2], "{1, 2}"),
    ([], "{}"),
    ([1, ["two", [o(3)]], 4.5], '{1, {"two", {#3}}, 4.5}'),
    (E.E_PERM, "E_PERM"),
    (E.E_NONE, "E_NONE"),
    (E.E_FLOAT, "E_FLOAT"),
]


@pytest.mark.parametrize(("value", "expected"), TOLITERAL)
def test_toliteral(value: Any, expected: str) -> None:
    check("toliteral", (value,), expected)


def test_toliteral_quota() -> None:
    task = BuiltinTask(Limits(max_string_length=6))
    check("toliteral", ([1, 2],), "{1, 2}", task=task)
    check("toliteral", ([1, 2, 3],), E.E_QUOTA, task=task)


TOINT: list[tuple[Any, Any]] = [
    (34, 34),
    (-7, -7),
    ("34", 34),
    ("34.7", 34),
    ("-34.7", -34),
    ("  12", 12),
    ("\t12", 12),
    ("12  ", 12),
    ("+5", 5),
    ("-0", 0),
    (" - 34 ", 0),
    ("12abc", 0),
    ("abc", 0),
    ("", 0),
    ("1e3", 1000),
    ("-1.9e1", -19),
    (".5e1", 5),
    ("0x1A", 0),
    ("1.5 x", 0),
    ("12\t", 0),  # only spaces may trail
    ("4294967297", 1),  # a C long stored into a 32-bit int
    ("99999999999999999999", -1),
    ("1e10", -(2**31)),  # (int) of a double that does not fit
    ("inf", -(2**31)),
    (34.7, 34),
    (-34.7, -34),
    (0.9, 0),
    (2147483647.0, 2147483647),
    (-2147483648.0, -2147483648),
    (2147483648.0, E.E_FLOAT),
    (-2147483649.0, E.E_FLOAT),
    (1e300, E.E_FLOAT),
    (o(34), 34),
    (o(-1), -1),
    (E.E_TYPE, 1),
    (E.E_NONE, 0),
    (E.E_FLOAT, 15),
    ([], E.E_TYPE),
    ([1], E.E_TYPE),
]


@pytest.mark.parametrize(("value", "expected"), TOINT)
@pytest.mark.parametrize("name", ["toint", "tonum"])
def test_toint(name: str, value: Any, expected: Any) -> None:
    check(name, (value,), expected)


TOOBJ: list[tuple[Any, Any]] = [
    ("34", o(34)),
    ("#34", o(34)),
    ("  #34  ", o(34)),
    ("# 34", o(34)),  # strtol skips the space after '#'
    ("#-1", o(-1)),
    ("-3", o(-3)),
    ("foo", o(0)),
    ("#foo", o(0)),
    ("34.5", o(0)),  # no floating point for objects
    ("", o(0)),
    (34, o(34)),
    (-1, o(-1)),
    (3.9, o(3)),
    (o(7), o(7)),
    (E.E_PERM, o(3)),
    (2147483648.0, E.E_FLOAT),
    ([1, 2], E.E_TYPE),
]


@pytest.mark.parametrize(("value", "expected"), TOOBJ)
def test_toobj(value: Any, expected: Any) -> None:
    check("toobj", (value,), expected)


TOFLOAT: list[tuple[Any, Any]] = [
    ("34.7", 34.7),
    (34, 34.0),
    (-2, -2.0),
    (2.5, 2.5),
    ("  1e3 ", 1000.0),
    ("-0.5", -0.5),
    (" - 34 ", -34.0),  # '-', then strtod skips the blank
    (".5", 0.5),
    ("5.", 5.0),
    ("0x10", 16.0),
    ("abc", E.E_INVARG),
    ("", E.E_INVARG),
    ("1.5x", E.E_INVARG),
    ("inf", E.E_INVARG),
    ("nan", E.E_INVARG),
    ("1e999", E.E_INVARG),
    (o(3), 3.0),
    (E.E_TYPE, 1.0),
    ([], E.E_TYPE),
]


@pytest.mark.parametrize(("value", "expected"), TOFLOAT)
def test_tofloat(value: Any, expected: Any) -> None:
    check("tofloat", (value,), expected)


EQUAL: list[tuple[Any, Any, int]] = [
    ("foo", "foo", 1),
    ("foo", "Foo", 0),
    ("", "", 1),
    (1, 1, 1),
    (1, 2, 0),
    (1, 1.0, 0),
    (1.0, 1.0, 1),
    (0.0, -0.0, 1),
    (o(1), o(1), 1),
    (o(1), 1, 0),
    (E.E_PERM, E.E_PERM, 1),
    (E.E_PERM, 3, 0),
    ([1, "a"], [1, "a"], 1),
    ([1, "a"], [1, "A"], 0),
    ([[["x"]]], [[["x"]]], 1),
    ([[["x"]]], [[["X"]]], 0),
    ([1], [1, 2], 0),
    ([], [], 1),
    ("1", 1, 0),
]


@pytest.mark.parametrize(("a", "b", "expected"), EQUAL)
def test_equal(a: Any, b: Any, expected: int) -> None:
    check("equal", (a, b), expected)
    check("equal", (b, a), expected)


VALUE_BYTES: list[tuple[Any, int]] = [
    (1, 16),
    (o(1), 16),
    (E.E_PERM, 16),
    (1.5, 24),
    ("", 17),
    ("abc", 20),
    ([], 32),
    ([1, 2], 64),
    (["abc"], 52),
    ([[]], 64),
]


@pytest.mark.parametrize(("value", "expected"), VALUE_BYTES)
def test_value_bytes(value: Any, expected: int) -> None:
    check("value_bytes", (value,), expected)


VALUE_HASH: list[tuple[Any, str]] = [
    ("", "9D4568C009D203AB10E33EA9953A0264"),  # md5('""')
    (1, "C4CA4238A0B923820DCC509A6F75849B"),  # md5("1")
    ([], "99914B932BD37A50B983C5E7C90AE93B"),  # md5("{}")
]


@pytest.mark.parametrize(("value", "expected"), VALUE_HASH)
def test_value_hash(value: Any, expected: str) -> None:
    check("value_hash", (value,), expected)


def test_value_hash_is_the_hash_of_the_literal() -> None:
    value = [1, "Two", o(3), E.E_ARGS, 4.5]
    assert run("value_hash", value) == run("string_hash", run("toliteral", value))
    assert run("value_hash", "abc") != run("value_hash", "ABC")


def doubled(times: int) -> list[Any]:
    """``l = {}; for i in [1..times] l = {l, l}; endfor``: 2**times leaves, little memory."""
    value: list[Any] = []
    for _ in range(times):
        value = [value, value]
    return value


def test_shared_lists_stay_cheap() -> None:
    huge = doubled(40)
    assert run("value_bytes", huge) == 32 * (2**41 - 1)  # every copy counted, as LambdaMOO
    check("equal", (huge, huge), 1)
    check("toliteral", (huge,), E.E_QUOTA)
    check("value_hash", (huge,), E.E_QUOTA)
    check("tostr", (huge,), "{list}")
    assert run("toliteral", doubled(3)) == "{{{{}, {}}, {{}, {}}}, {{{}, {}}, {{}, {}}}}"

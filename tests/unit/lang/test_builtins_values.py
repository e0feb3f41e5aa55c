"""Unit tests of ``moo.lang.values``: type codes, truth, ``==``, ordering, tostr, toliteral,
as LambdaMOO 1.8.1 defines them (``utils.c`` ``is_true``/``equality``, ``execute.c``
``OP_LT``..., ``list.c`` ``list2str``/``print_to_stream``, ``streams.c`` ``%g``)."""

from __future__ import annotations

from typing import Any

import pytest

from moo.lang import values
from moo.lang.errors import MooRaise
from moo.world.values import Err, ObjRef

E = Err


def o(number: int) -> ObjRef:
    return ObjRef(number)


@pytest.mark.parametrize(
    ("value", "code"),
    [(1, 0), (o(1), 1), ("s", 2), (E.E_NONE, 3), ([], 4), (1.0, 9), ({}, 10)],
)
def test_type_code(value: Any, code: int) -> None:
    assert values.type_code(value) == code


def test_type_constants() -> None:
    assert values.TYPE_CONSTANTS == {
        "INT": 0,
        "NUM": 0,
        "OBJ": 1,
        "STR": 2,
        "ERR": 3,
        "LIST": 4,
        "FLOAT": 9,
    }


TRUTH: list[tuple[Any, bool]] = [
    (0, False),
    (1, True),
    (-1, True),
    (0.0, False),
    (-0.0, False),
    (0.1, True),
    ("", False),
    ("0", True),
    (" ", True),
    ([], False),
    ([0], True),
    (o(0), False),
    (o(1), False),
    (o(-1), False),
    (E.E_NONE, False),
    (E.E_PERM, False),
]


@pytest.mark.parametrize(("value", "truth"), TRUTH)
def test_is_true(value: Any, truth: bool) -> None:
    assert values.is_true(value) is truth


EQUAL: list[tuple[Any, Any, bool]] = [
    (1, 1, True),
    (1, 2, False),
    (1, 1.0, False),
    (1.0, 1.0, True),
    (0.0, -0.0, True),
    ("abc", "ABC", True),
    ("abc", "abd", False),
    ("", "", True),
    ("[", "{", False),
    (o(1), o(1), True),
    (o(1), 1, False),
    (E.E_PERM, E.E_PERM, True),
    (E.E_PERM, E.E_TYPE, False),
    (E.E_TYPE, 1, False),
    ([1, "a"], [1, "A"], True),
    ([1, "a"], [1, "a", 2], False),
    ([[1.0]], [[1]], False),
    ([], [], True),
    ({"a": 1}, {"A": 1}, False),
    ({"a": "x"}, {"a": "X"}, True),
    ("1", 1, False),
]


@pytest.mark.parametrize(("a", "b", "expected"), EQUAL)
def test_equal(a: Any, b: Any, expected: bool) -> None:
    assert values.equal(a, b) is expected
    assert values.equal(b, a) is expected


@pytest.mark.parametrize(("a", "b"), [("É", "é"), ("\u212a", "k")])
def test_equal_folds_ascii_only(a: str, b: str) -> None:
    assert values.equal(a, b) is False


COMPARE: list[tuple[Any, Any, int]] = [
    (1, 2, -1),
    (2, 1, 1),
    (2, 2, 0),
    (-5, 3, -1),
    (1.5, 2.5, -1),
    (2.5, 2.5, 0),
    ("abc", "abd", -1),
    ("ABC", "abc", 0),
    ("b", "A", 1),
    ("[", "a", -1),  # compared after folding: "[" < "a"
    ("[", "A", -1),
    ("", "a", -1),
    ("ab", "a", 1),
    (o(1), o(2), -1),
    (o(-1), o(0), -1),
    (E.E_TYPE, E.E_PERM, -1),
    (E.E_PERM, E.E_PERM, 0),
]


@pytest.mark.parametrize(("a", "b", "expected"), COMPARE)
def test_compare(a: Any, b: Any, expected: int) -> None:
    assert values.compare(a, b) == expected
    assert values.compare(b, a) == -expected


@pytest.mark.parametrize(
    ("a", "b"),
    [(1, 1.0), (1.0, 1), ("a", 1), (o(1), 1), ([1], [1]), ([], []), (E.E_PERM, 3), ({}, {})],
)
def test_compare_type_errors(a: Any, b: Any) -> None:
    with pytest.raises(MooRaise) as caught:
        values.compare(a, b)
    assert caught.value.code is E.E_TYPE


FLOATS: list[tuple[float, str]] = [
    (1.0, "1.0"),
    (-1.0, "-1.0"),
    (0.0, "0.0"),
    (-0.0, "-0.0"),
    (0.5, "0.5"),
    (1.0 / 3.0, "0.333333333333333"),
    (2.0 / 3.0, "0.666666666666667"),
    (100.0, "100.0"),
    (123456789012345.0, "123456789012345.0"),
    (1234567890123456.0, "1.23456789012346e+15"),
    (1e15, "1e+15"),
    (1e100, "1e+100"),
    (1.5e-5, "1.5e-05"),
    (0.0001, "0.0001"),
    (3.14159, "3.14159"),
    (0.1 + 0.2, "0.3"),
]


@pytest.mark.parametrize(("number", "text"), FLOATS)
def test_float_text(number: float, text: str) -> None:
    assert values.format_float(number) == text
    assert values.tostr(number) == text
    assert values.toliteral(number) == text


TOSTR: list[tuple[Any, str]] = [
    (0, "0"),
    (-12, "-12"),
    ("plain", "plain"),
    ('with "quotes"', 'with "quotes"'),
    (o(0), "#0"),
    (o(-3), "#-3"),
    (E.E_VERBNF, "Verb not found"),
    ([1, 2], "{list}"),
    ([], "{list}"),
    ({"a": 1}, "[map]"),
]


@pytest.mark.parametrize(("value", "text"), TOSTR)
def test_tostr(value: Any, text: str) -> None:
    assert values.tostr(value) == text


TOLITERAL: list[tuple[Any, str]] = [
    (0, "0"),
    (-12, "-12"),
    ("plain", '"plain"'),
    ('a "b" c', '"a \\"b\\" c"'),
    ("C:\\dir", '"C:\\\\dir"'),
    ("", '""'),
    (o(5), "#5"),
    (E.E_VERBNF, "E_VERBNF"),
    ([], "{}"),
    ([1, "two", o(3), E.E_ARGS, 4.0, [[]]], '{1, "two", #3, E_ARGS, 4.0, {{}}}'),
    ({"a": [1]}, '["a" -> {1}]'),
]


@pytest.mark.parametrize(("value", "text"), TOLITERAL)
def test_toliteral(value: Any, text: str) -> None:
    assert values.toliteral(value) == text


@pytest.mark.parametrize("text", ["", "abc", 'a"b', "a\\b", '\\"', "tab\there"])
def test_quote(text: str) -> None:
    quoted = values.quote(text)
    assert quoted[0] == quoted[-1] == '"'
    body = quoted[1:-1]
    unescaped, i = [], 0
    while i < len(body):
        if body[i] == "\\":
            i += 1
        unescaped.append(body[i])
        i += 1
    assert "".join(unescaped) == text


def test_tostr_of_an_unknown_type_is_type_error() -> None:
    with pytest.raises(MooRaise) as caught:
        values.tostr(object())
    assert caught.value.code is E.E_TYPE

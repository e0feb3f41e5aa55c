"""Conformance: index, rindex, strcmp, strsub, substitute, crypt, string_hash, binary_hash,
encode_binary, decode_binary (LambdaMOO 1.8.1 ``list.c``, ``utils.c``)."""

from __future__ import annotations

from typing import Any

import pytest

from moo.lang.task_api import Limits
from moo.world.values import Err
from tests.unit.lang.builtin_task import BuiltinTask, check, o, run

E = Err
NO_GROUP = [[0, -1]] * 9

CASES: list[tuple[str, tuple[Any, ...], Any]] = [
    # index / rindex, without case unless the flag is true
    ("index", ("foobar", "o"), 2),
    ("index", ("foobar", "x"), 0),
    ("index", ("foobar", "O"), 2),
    ("index", ("foobar", "O", 1), 0),
    ("index", ("foobar", "O", 0), 2),
    ("index", ("foobar", "o", "yes"), 2),
    ("index", ("foobar", "O", ""), 2),  # any type: "" is false
    ("index", ("foobar", "O", [1]), 0),  # a non-empty list is true
    ("index", ("foobar", "O", o(1)), 2),  # objects are false
    ("index", ("foobar", "bar"), 4),
    ("index", ("foobar", "BAR"), 4),
    ("index", ("foobar", ""), 1),
    ("index", ("", ""), 1),
    ("index", ("", "a"), 0),
    ("index", ("ab", "abc"), 0),
    ("index", ("ÉCOLE é", "é"), 7),  # only ASCII letters fold
    ("index", (1, "a"), E.E_TYPE),
    ("index", ("a", 1), E.E_TYPE),
    ("rindex", ("foobar", "o"), 3),
    ("rindex", ("foobar", "O"), 3),
    ("rindex", ("foobar", "O", 1), 0),
    ("rindex", ("foobar", "x"), 0),
    ("rindex", ("foobar", ""), 7),
    ("rindex", ("", ""), 1),
    ("rindex", ("abcabc", "BC"), 5),
    ("rindex", ("ab", "abc"), 0),
    ("rindex", ("aaa", "aa"), 2),
    ("rindex", (o(1), "a"), E.E_TYPE),
    # strcmp: exact, -1 / 0 / 1
    ("strcmp", ("foo", "foo"), 0),
    ("strcmp", ("foo", "Foo"), 1),
    ("strcmp", ("Foo", "foo"), -1),
    ("strcmp", ("a", "b"), -1),
    ("strcmp", ("b", "a"), 1),
    ("strcmp", ("", ""), 0),
    ("strcmp", ("", "a"), -1),
    ("strcmp", ("abc", "ab"), 1),
    ("strcmp", ("foobar", "foo"), 1),
    ("strcmp", ("a", 1), E.E_TYPE),
    ("strcmp", (1, "a"), E.E_TYPE),
    # strsub
    ("strsub", ("%n is a fink.", "%n", "Fred"), "Fred is a fink."),
    ("strsub", ("foobar", "OB", "b"), "fobar"),
    ("strsub", ("foobar", "OB", "b", 1), "foobar"),
    ("strsub", ("foobar", "ob", "b", 1), "fobar"),
    ("strsub", ("aaaa", "aa", "b"), "bb"),
    ("strsub", ("aaa", "aa", "b"), "ba"),
    ("strsub", ("abc", "b", ""), "ac"),
    ("strsub", ("AbAB", "ab", "x"), "xx"),
    ("strsub", ("AbAB", "ab", "x", 1), "AbAB"),
    ("strsub", ("", "a", "b"), ""),
    ("strsub", ("abc", "abcd", "x"), "abc"),
    ("strsub", ("a.b", ".", "%"), "a%b"),
    ("strsub", ("abc", "", "x"), E.E_INVARG),
    ("strsub", ("abc", "", "x", 1), E.E_INVARG),
    ("strsub", (1, "a", "b"), E.E_TYPE),
    ("strsub", ("a", 1, "b"), E.E_TYPE),
    ("strsub", ("a", "a", 1), E.E_TYPE),
]


@pytest.mark.parametrize(("name", "args", "expected"), CASES)
def test_string_builtin(name: str, args: tuple[Any, ...], expected: Any) -> None:
    check(name, args, expected)


def test_strsub_quota() -> None:
    task = BuiltinTask(Limits(max_string_length=10))
    check("strsub", ("aaaaa", "a", "bb"), "bbbbbbbbbb", task=task)
    check("strsub", ("aaaaaa", "a", "bb"), E.E_QUOTA, task=task)
    check("strsub", ("AAAAAA", "a", "bb"), E.E_QUOTA, task=task)


# ---- substitute ----------------------------------------------------------------------------


def test_substitute_manual_example() -> None:
    subs = run("match", "*** Welcome to LambdaMOO!!!", "%(%w*%) to %(%w*%)")
    assert subs[:2] == [5, 24]
    check(
        "substitute",
        ("I thank you for your %1 here in %2.", subs),
        "I thank you for your Welcome here in LambdaMOO.",
    )


GOOD_SUBS = [1, 3, [[1, 1], [2, 3], [0, -1], *[[0, -1]] * 6], "abcd"]

SUBSTITUTE: list[tuple[object, Any, Any]] = [  # a template that is not a string: E_TYPE
    ("%0", GOOD_SUBS, "abc"),
    ("%1-%2", GOOD_SUBS, "a-bc"),
    ("[%3]", GOOD_SUBS, "[]"),
    ("100%%", GOOD_SUBS, "100%"),
    ("", GOOD_SUBS, ""),
    ("plain", GOOD_SUBS, "plain"),
    ("%x", GOOD_SUBS, E.E_INVARG),
    ("trailing %", GOOD_SUBS, E.E_INVARG),
    ("%1", [1, 0, NO_GROUP, "abc"], ""),  # an empty match
    ("%0", [0, -1, NO_GROUP, "abc"], ""),
    ("%1", [1, 3, [[2, 1], *[[0, -1]] * 8], "abc"], ""),  # end = start - 1 is empty
    ("%0", [1, 4, NO_GROUP, "abc"], E.E_INVARG),  # past the subject
    ("%0", [2, 0, NO_GROUP, "abc"], E.E_INVARG),  # end < start - 1
    ("%0", [0, 0, NO_GROUP, "abc"], E.E_INVARG),
    ("%0", [-1, -1, NO_GROUP, "abc"], E.E_INVARG),
    ("%0", [1, 1, NO_GROUP[:8], "abc"], E.E_INVARG),  # eight groups
    ("%0", [1, 1, [*NO_GROUP[:8], [0]], "abc"], E.E_INVARG),
    ("%0", [1, 1, [*NO_GROUP[:8], [0, "x"]], "abc"], E.E_INVARG),
    ("%0", [1, 1, [*NO_GROUP[:8], 5], "abc"], E.E_INVARG),
    ("%0", [1, 1, [*NO_GROUP[:8], [3, 4]], "abc"], E.E_INVARG),
    ("%0", [1, 1, NO_GROUP, 5], E.E_INVARG),
    ("%0", [1, 1, NO_GROUP], E.E_INVARG),
    ("%0", [1.0, 1, NO_GROUP, "abc"], E.E_INVARG),
    ("%0", [], E.E_INVARG),
    ("%0", "abc", E.E_TYPE),
    (1, GOOD_SUBS, E.E_TYPE),
]


@pytest.mark.parametrize(("template", "subs", "expected"), SUBSTITUTE)
def test_substitute(template: Any, subs: Any, expected: Any) -> None:
    check("substitute", (template, subs), expected)


def test_substitute_quota() -> None:
    task = BuiltinTask(Limits(max_string_length=6))
    check("substitute", ("%0%0", GOOD_SUBS), "abcabc", task=task)
    check("substitute", ("%0%0%0", GOOD_SUBS), E.E_QUOTA, task=task)


# ---- crypt and hashes ----------------------------------------------------------------------

CRYPT = [
    # from the C library's crypt(3) (DES), as LambdaMOO calls it
    ("password", "ab", "abJnggxhB/yWI"),
    ("foo", "xy", "xy7k69x/M/s7g"),
    ("", "..", "..X8NBuQ4l6uQ"),
    ("abcdefghij", "zz", "zzcHgwjUppv8U"),
    ("abcdefgh", "zz", "zzcHgwjUppv8U"),  # only 8 characters count
    ("password", "abcdef", "abJnggxhB/yWI"),  # only 2 salt characters count
]


@pytest.mark.parametrize(("password", "salt", "expected"), CRYPT)
def test_crypt_known_vectors(password: str, salt: str, expected: str) -> None:
    check("crypt", (password, salt), expected)


def test_crypt_verifies_with_its_own_result_as_salt() -> None:
    hashed = run("crypt", "secret")
    assert isinstance(hashed, str) and len(hashed) == 13
    assert run("crypt", "secret", hashed) == hashed
    assert run("crypt", "Secret", hashed) != hashed


@pytest.mark.parametrize("salt", ["", "a"])
def test_crypt_short_salt_is_random(salt: str) -> None:
    hashed = run("crypt", "x", salt)
    assert isinstance(hashed, str) and len(hashed) == 13
    assert run("crypt", "x", hashed[:2]) == hashed


@pytest.mark.parametrize("args", [(1,), ("x", 1), (["x"], "ab")])
def test_crypt_types(args: tuple[Any, ...]) -> None:
    check("crypt", args, E.E_TYPE)


HASHES: list[tuple[str, Any, Any]] = [
    ("string_hash", "", "D41D8CD98F00B204E9800998ECF8427E"),
    ("string_hash", "abc", "900150983CD24FB0D6963F7D28E17F72"),
    (
        "string_hash",
        "The quick brown fox jumps over the lazy dog",
        "9E107D9D372BB6826BD81D3542A419D6",
    ),
    ("string_hash", 1, E.E_TYPE),
    ("binary_hash", "", "D41D8CD98F00B204E9800998ECF8427E"),
    ("binary_hash", "~61bc", "900150983CD24FB0D6963F7D28E17F72"),
    ("binary_hash", "~00", "93B885ADFE0DA089CDF634904FD59F71"),
    ("binary_hash", "~zz", E.E_INVARG),
    ("binary_hash", o(1), E.E_TYPE),
]


@pytest.mark.parametrize(("name", "value", "expected"), HASHES)
def test_hashes(name: str, value: Any, expected: Any) -> None:
    check(name, (value,), expected)


# ---- binary strings ------------------------------------------------------------------------

DECODE: list[tuple[tuple[Any, ...], Any]] = [
    (("foo",), ["foo"]),
    (("",), []),
    (("~~foo",), E.E_INVARG),
    (("foo~0D~0A",), ["foo", 13, 10]),
    (("foo~0Abar~0Abaz",), ["foo", 10, "bar", 10, "baz"]),
    (("foo~0Abar~0Abaz", 1), [102, 111, 111, 10, 98, 97, 114, 10, 98, 97, 122]),
    (("foo~0abar", 0), ["foo", 10, "bar"]),
    (("~7e",), ["~"]),
    (("a~09b",), ["a\tb"]),  # a tab stays in the text
    (("a b",), ["a b"]),
    (("~00~ff",), [0, 255]),
    (("~80x",), [128, "x"]),
    (("~",), E.E_INVARG),
    (("~1",), E.E_INVARG),
    (("~1g",), E.E_INVARG),
    (("abc~",), E.E_INVARG),
    (("ab", "yes"), [97, 98]),
    ((1,), E.E_TYPE),
]


@pytest.mark.parametrize(("args", "expected"), DECODE)
def test_decode_binary(args: tuple[Any, ...], expected: Any) -> None:
    check("decode_binary", args, expected)


ENCODE: list[tuple[tuple[Any, ...], Any]] = [
    (("~foo",), "~7efoo"),
    ((["foo", 10], ["bar", 13]), "foo~0abar~0d"),
    ((), ""),
    ((65, 66), "AB"),
    ((0, 255), "~00~ff"),
    (("a\tb",), "a~09b"),
    (("a b",), "a b"),
    (([[[["deep"]]]],), "deep"),
    ((256,), E.E_INVARG),
    ((-1,), E.E_INVARG),
    ((1.0,), E.E_INVARG),
    ((o(1),), E.E_INVARG),
    ((["a", [E.E_PERM]],), E.E_INVARG),
]


@pytest.mark.parametrize(("args", "expected"), ENCODE)
def test_encode_binary(args: tuple[Any, ...], expected: Any) -> None:
    check("encode_binary", args, expected)


@pytest.mark.parametrize("data", [list(range(256)), [126, 126], [9, 32, 10]])
def test_binary_round_trip(data: list[int]) -> None:
    encoded = run("encode_binary", data)
    assert run("decode_binary", encoded, 1) == data


def test_encode_binary_quota() -> None:
    task = BuiltinTask(Limits(max_string_length=5))
    check("encode_binary", ("abcde",), "abcde", task=task)
    check("encode_binary", (0, 1), E.E_QUOTA, task=task)


def test_decode_binary_quota() -> None:
    task = BuiltinTask(Limits(max_list_length=2))
    check("decode_binary", ("ab", 1), [97, 98], task=task)
    check("decode_binary", ("abc", 1), E.E_QUOTA, task=task)
    check("decode_binary", ("a~0ab~0a",), E.E_QUOTA, task=task)


def test_encode_binary_of_a_shared_list() -> None:
    value: list[Any] = []
    for _ in range(40):
        value = [value, value]
    check("encode_binary", (value,), "")
    value = ["ab"]
    for _ in range(40):
        value = [value, value]
    check("encode_binary", (value,), E.E_QUOTA)
    check("encode_binary", ([[1, 2]] * 3,), "~01~02~01~02~01~02")

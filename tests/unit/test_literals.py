"""MOO value literals: parsing every type, malformed input, bare strings, round trips."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import pytest

from moo.errors import VerbError
from moo.world.literals import MAX_DEPTH, format_value, parse_value


@dataclass(frozen=True)
class Ref:
    """A stand-in object reference, unequal to any int so the tests can tell them apart."""

    number: int

    def __int__(self) -> int:
        return self.number


class IntRef(int):
    """An object reference that is an int, as the world's own ObjRef will be."""


def parse(text: str) -> object:
    return parse_value(text, objref=Ref)


def fmt(value: object) -> str:
    return format_value(value, is_objref=lambda v: isinstance(v, Ref | IntRef))


# --- parsing every type ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("123", 123),
        ("-4", -4),
        ("0", 0),
        ("007", 7),
        ("  42  ", 42),
        ("1.5", 1.5),
        ("-2.0e3", -2000.0),
        ("1e9", 1e9),
        ("1E-3", 0.001),
        (".5", 0.5),
        ("2.", 2.0),
        ("1e+16", 1e16),
        ("#12", Ref(12)),
        ("#-1", Ref(-1)),
        ("#0", Ref(0)),
        ('"plain"', "plain"),
        ('"quoted \\"text\\""', 'quoted "text"'),
        ('"back\\\\slash"', "back\\slash"),
        ('""', ""),
        ('"  spaces kept  "', "  spaces kept  "),
        ('"{not a list} #1 [x]"', "{not a list} #1 [x]"),
    ],
)
def test_scalars(text: str, value: object) -> None:
    parsed = parse(text)
    assert parsed == value
    assert type(parsed) is type(value)


def test_int_vs_float_types() -> None:
    assert type(parse("3")) is int
    assert type(parse("3.0")) is float
    parsed = parse("{3, 3.0, 3e0}")
    assert isinstance(parsed, list)
    assert [type(x) for x in parsed] == [int, float, float]


def test_lists() -> None:
    assert parse("{}") == []
    assert parse("{ }") == []
    assert parse('{1, "a", #3, {2}}') == [1, "a", Ref(3), [2]]
    assert parse('{1,"a",#3,{2}}') == [1, "a", Ref(3), [2]]
    assert parse("  {  1 ,\t2  }  ") == [1, 2]
    assert parse("{{}, {{}}}") == [[], [[]]]
    assert parse("{-1.5, #-1}") == [-1.5, Ref(-1)]


def test_maps() -> None:
    assert parse("[]") == {}
    assert parse("[ ]") == {}
    assert parse('[ "k" -> 1, 2 -> "v" ]') == {"k": 1, 2: "v"}
    assert parse('["k"->1,2->"v"]') == {"k": 1, 2: "v"}
    assert parse('[#5 -> {1, 2}, 1.5 -> ["in" -> []]]') == {Ref(5): [1, 2], 1.5: {"in": {}}}


def test_later_map_key_wins() -> None:
    assert parse('["a" -> 1, "a" -> 2]') == {"a": 2}


def test_nesting_up_to_the_limit() -> None:
    deep = "{" * MAX_DEPTH + "}" * MAX_DEPTH
    value = parse(deep)
    for _ in range(MAX_DEPTH - 1):
        assert isinstance(value, list)
        value = value[0]
    assert value == []
    assert parse("[1 -> " * MAX_DEPTH + "2" + "]" * MAX_DEPTH) is not None


# --- bare strings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("red", "red"),
        ("  dark red  ", "dark red"),
        ("", ""),
        ("   ", ""),
        ("12abc", "12abc"),
        ("1 2", "1 2"),
        ("-", "-"),
        ("#", "#"),
        ("#abc", "#abc"),
        ("#12 and more", "#12 and more"),
        ("+5", "+5"),
        ("1.2.3", "1.2.3"),
        ("nan", "nan"),
        ("inf", "inf"),
        ('a {b} [c] "d"', 'a {b} [c] "d"'),
        ("٣", "٣"),  # only ASCII digits make numbers
    ],
)
def test_bare_strings(text: str, value: str) -> None:
    assert parse(text) == value


# --- malformed literals ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("{1", 3, "unclosed list"),
        ("{1, 2", 6, "column 1"),
        ("  {1, {2}", 10, "for the one at column 3"),
        ("[1 -> 2", 8, "unclosed map"),
        ('"abc', 1, "unterminated string"),
        ('  "abc\\"', 3, "unterminated string"),
        ('"abc\\', 1, "unterminated string"),
        ('"a\\nb"', 3, "unknown escape '\\n'"),
        ('{"ok", "\\t"}', 9, "unknown escape"),
        ("{1,}", 4, "expected a value but found '}'"),
        ("{,}", 2, "expected a value"),
        ("{1 2}", 4, "expected ',' or '}' in the list but found '2'"),
        ("{12abc}", 4, "found 'a'"),
        ("{red}", 2, "need quotes"),
        ("{-}", 2, "expected a number"),
        ("{#x}", 2, "object number"),
        ("{1} x", 5, "unexpected text after the value"),
        ('"a" "b"', 5, "unexpected text"),
        ("[1 2]", 4, "expected '->'"),
        ("[1 ->]", 6, "expected a value"),
        ("[1 -> ", 7, "the end of the text"),
        ("[{1} -> 2]", 2, "map key must be a number, string or object number, not a list"),
        ("[[] -> 2]", 2, "not a map"),
        ("[1 -> 2,]", 9, "expected a value"),
        ("[1 -> 2 3 -> 4]", 9, "expected ',' or ']' in the map"),
        ("{1]", 3, "expected ',' or '}'"),
        ("[1 -> 2}", 8, "expected ',' or ']'"),
        ("{" * (MAX_DEPTH + 1) + "}" * (MAX_DEPTH + 1), MAX_DEPTH + 1, "nest at most 50"),
        ("{#" + "9" * 5000 + "}", 2, "too long"),
    ],
)
def test_malformed_literals(text: str, column: int, words: str) -> None:
    with pytest.raises(VerbError) as caught:
        parse(text)
    message = str(caught.value)
    assert message.startswith(f"Bad value at column {column}: ")
    assert words in message


def test_too_long_bare_number_is_an_error_not_a_crash() -> None:
    with pytest.raises(VerbError, match="too long"):
        parse("9" * 5000)


# --- formatting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (12, "12"),
        (-4, "-4"),
        (1.5, "1.5"),
        (1e16, "1e+16"),
        (-0.0, "-0.0"),
        (math.inf, "1e999"),
        (-math.inf, "-1e999"),
        (math.nan, "nan"),
        (True, "1"),
        (False, "0"),
        ("hi", '"hi"'),
        ('say "x" \\ y', '"say \\"x\\" \\\\ y"'),
        (Ref(12), "#12"),
        (Ref(-1), "#-1"),
        (IntRef(7), "#7"),
        ([], "{}"),
        ({}, "[]"),
        ([1, "a", Ref(3), [2]], '{1, "a", #3, {2}}'),
        ((1, 2), "{1, 2}"),
        ({"k": 1, 2: "v", Ref(4): [1.5]}, '["k" -> 1, 2 -> "v", #4 -> {1.5}]'),
    ],
)
def test_format_value(value: object, text: str) -> None:
    assert fmt(value) == text


def test_format_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="NoneType"):
        fmt(None)
    with pytest.raises(TypeError, match="set"):
        fmt([{1}])


def test_format_rejects_an_objref_without_a_number() -> None:
    with pytest.raises(TypeError, match="no number"):
        format_value("x", is_objref=lambda v: True)


def test_infinities_read_back() -> None:
    assert parse(fmt(math.inf)) == math.inf
    assert parse(fmt([-math.inf])) == [-math.inf]


# --- round trips -----------------------------------------------------------------------------

_ALPHABET = 'aZ0 "\\{}[]#,->\n\t\x00é€😀'


def _scalar(rng: random.Random) -> object:
    kind = rng.randrange(5)
    if kind == 0:
        return rng.choice([0, -1, rng.randint(-(2**63), 2**63), rng.randint(-(10**40), 10**40)])
    if kind == 1:
        return rng.choice(
            [
                rng.uniform(-1e6, 1e6),
                rng.random() * 10 ** rng.randint(-300, 300),
                -0.0,
                5e-324,
                1.7976931348623157e308,
                math.inf,
                float(rng.randint(-100, 100)),
            ]
        )
    if kind == 2:
        return "".join(rng.choice(_ALPHABET) for _ in range(rng.randrange(8)))
    if kind == 3:
        return Ref(rng.randint(-5, 10**6))
    return rng.choice(["", "red", "#12", "{}", "1", '"'])


def _value(rng: random.Random, depth: int) -> object:
    if depth >= 5 or rng.random() < 0.5:
        return _scalar(rng)
    if rng.random() < 0.5:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {_scalar(rng): _value(rng, depth + 1) for _ in range(rng.randrange(5))}


@pytest.mark.parametrize("seed", range(20))
def test_round_trip_random_values(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(100):
        value = _value(rng, 0)
        text = fmt(value)
        assert parse(text) == value, text
        assert fmt(parse(text)) == text


def test_round_trip_deepest_nesting() -> None:
    value: object = [1]
    for _ in range(MAX_DEPTH - 1):
        value = {"k": value} if isinstance(value, list) else [value]
    text = fmt(value)
    assert text.count("{") + text.count("[") == MAX_DEPTH
    assert parse(text) == value


def test_round_trip_top_level_strings_that_look_like_other_things() -> None:
    for text in ["", " ", "12", "#3", "{1}", "[]", '"', "\\", "a\\nb", "nan"]:
        assert parse(fmt(text)) == text

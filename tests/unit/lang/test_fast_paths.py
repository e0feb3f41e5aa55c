"""The compiler's fast paths (``fastpaths``, ``fast_statements``, ``analysis.IntTyping``) give
the values and errors of the general paths: updates in place are never seen through another
holder of the value, errors come in MOO's order, the size limits still hold, and variables
known to be ints keep LambdaMOO's 32-bit arithmetic."""

from __future__ import annotations

from typing import Any

import pytest

from moo.lang.analysis import IntTyping
from moo.lang.builtins import BUILTINS
from moo.lang.codegen import python_source
from moo.lang.parser import parse
from moo.lang.task_api import Limits
from moo.world.values import Err
from tests.unit.lang.memory_task import MemoryTask, evaluate
from tests.unit.lang.test_task_helpers import WIZARD, make


def E(code: Err) -> tuple[str, Err]:
    return ("raised", code)


IN_PLACE: list[tuple[str, Any]] = [
    # another variable, a list, the value itself, a loop walking it: all keep the old value
    ("l = {1}; m = l; l = {@l, 2}; return {l, m};", [[1, 2], [1]]),
    ("l = {1}; m = {l}; l = {@l, 2}; return {l, m};", [[1, 2], [[1]]]),
    ("l = {1}; l = {@l, l}; return l;", [1, [1]]),
    ("l = {1}; l = {@l, @l}; return l;", [1, 1]),
    ("l = {1, 2}; for x in (l) l = {@l, x}; endfor return l;", [1, 2, 1, 2]),
    ("l = {1, 2}; m = l; l[1] = 5; return {l, m};", [[5, 2], [1, 2]]),
    ("l = {1, 2}; l[1] = l; return l;", [[1, 2], 2]),
    ("l = {1, 2}; m = {l}; l[2] = 7; return {l, m};", [[1, 7], [[1, 2]]]),
    ("l = {1, 2, 3}; l[$] = 9; l[$ - 1] = 8; return l;", [1, 8, 9]),
    ('s = "a"; t = s; s = s + "b"; return {s, t};', ["ab", "a"]),
    ('s = "a"; t = {s}; s = s + tostr(1); return {s, t};', ["a1", ["a"]]),
    ('s = "a"; for i in [1..3] s = s + tostr(i); endfor return s;', "a123"),
    ("l = {}; for i in [1..5] l = {@l, i, i}; endfor return length(l);", 10),
    ("l = {}; l = {@l}; return l;", []),
    # a closure (catch expression) shares the variable
    ("l = {1}; x = `l[1] ! ANY'; l = {@l, 2}; return {l, x};", [[1, 2], 1]),
    # strings by index go the general way
    ('s = "abc"; s[2] = "X"; return s;', "aXc"),
    # errors, in MOO's order
    ("l = {@l, 1};", E(Err.E_VARNF)),
    ("l = 5; l = {@l, 1};", E(Err.E_TYPE)),
    ("l = 5; l = {@l, 1 / 0};", E(Err.E_TYPE)),
    ("l = {}; l = {@l, 1 / 0};", E(Err.E_DIV)),
    ("l = {}; l = {@l, @5};", E(Err.E_TYPE)),
    ("l[1 / 0] = 1;", E(Err.E_VARNF)),
    ("l = {}; l[1] = 5;", E(Err.E_RANGE)),
    ('l = {1}; l["a"] = 2;', E(Err.E_TYPE)),
    ("l = {1}; l[1] = 1 / 0;", E(Err.E_DIV)),
    ("l = 5; l[1] = 1;", E(Err.E_TYPE)),
    ('s = 1; s = s + "x";', E(Err.E_TYPE)),
    ("s = 1; s = s + tostr(2);", E(Err.E_TYPE)),
    ('s = "a"; s = s + 1;', E(Err.E_TYPE)),
    ('s = s + "x";', E(Err.E_VARNF)),
    ("x = 1; x = x + tostr(1);", E(Err.E_TYPE)),
    ("x = 1.5; x = x + tostr(1);", E(Err.E_TYPE)),
]


@pytest.mark.parametrize(("source", "expected"), IN_PLACE)
def test_updates_in_place(source: str, expected: Any) -> None:
    assert evaluate(source) == expected


def test_a_callee_changing_its_argument_does_not_change_the_callers() -> None:
    task = MemoryTask()
    task.add_object(1)
    task.add_verb(1, "grow", "{a} = args; a = {@a, 3}; a[1] = 9; return a;")
    task.add_verb(1, "text", '{s} = args; s = s + "!"; return s;')
    assert task.run("x = {1, 2}; y = #1:grow(x); return {x, y};") == [[1, 2], [9, 2, 3]]
    assert task.run('x = "hi"; y = #1:text(x); return {x, y};') == ["hi", "hi!"]


def test_a_fork_keeps_its_copy_when_the_list_grows_in_place() -> None:
    task = MemoryTask()
    assert task.run("l = {1}; fork (0) return l; endfork l = {@l, 2}; l[1] = 5; return l;") == [
        5,
        2,
    ]
    (_, body) = task.forks[0]
    assert body(task) == [1]


@pytest.mark.parametrize(
    "source",
    [
        's = ""; while (1) s = s + "xy"; endwhile',
        's = ""; while (1) s = s + tostr(12); endwhile',
        "l = {}; while (1) l = {@l, 1}; endwhile",
        "l = {}; while (1) l = {@l, 1, @{2, 3}}; endwhile",
    ],
)
def test_growing_in_place_stops_at_the_size_limits(source: str) -> None:
    limits = Limits(ticks=100_000, max_string_length=101, max_list_length=50)
    assert evaluate(source, limits=limits) == E(Err.E_QUOTA)


def test_growing_in_place_reaches_the_limit_exactly() -> None:
    limits = Limits(max_string_length=10, max_list_length=10)
    assert evaluate('s = ""; for i in [1..10] s = s + "x"; endfor return s;', limits=limits) == (
        "x" * 10
    )
    assert evaluate("l = {}; for i in [1..10] l = {@l, i}; endfor return l;", limits=limits) == (
        list(range(1, 11))
    )


INTS: list[tuple[str, Any]] = [
    ("x = 2147483647; x = x + 1; return x;", -2147483648),
    ("x = -2147483648; x = x - 1; return x;", 2147483647),
    ("x = 1; for i in [1..4] x = x * 100000; endfor return x;", 1661992960),
    ("x = 65536; return x * x;", 0),
    ("x = -7; y = 2; return {x % y, x / y, 7 % -2, 7 / -2, x % 7, x / 7};", [-1, -3, 1, -3, 0, -1]),
    ("x = 7; y = -2; return {x % y, x / y, x % 2, x / 2};", [1, -3, 1, 3]),
    ("x = -2147483648; y = -1; return {x / y, x % y};", [-2147483648, 0]),
    ("x = 5; y = 0; return x / y;", E(Err.E_DIV)),
    ("x = 5; y = 0; return x % y;", E(Err.E_DIV)),
    ("x = 5; return x % 0;", E(Err.E_DIV)),
    ("x = 1; return x + 1.5;", E(Err.E_TYPE)),
    ('x = 1; y = "a"; return x + y;', E(Err.E_TYPE)),
    ("x = 1; l = {2}; return {x + l[1], l[1] + x, x < l[1], l[1] - x};", [3, 3, 1, 1]),
    ('x = 1; l = {"a"}; return x + l[1];', E(Err.E_TYPE)),
    ("if (0) x = 1; endif return x + 1;", E(Err.E_VARNF)),
    ("if (0) x = 1; endif return x + (1 / 0);", E(Err.E_VARNF)),
    ("if (0) x = 1; endif return x % (1 / 0);", E(Err.E_VARNF)),
    ("x = 0; y = 3; return {x && y, y && x, x || y, y || x, !x};", [0, 0, 3, 3, 1]),
    ('i = 5; return tostr(i, "a", i);', "5a5"),
    ("i = 3; n = 0; while (i) n = n + i; i = i - 1; endwhile return n;", 6),
    (
        "i = 0; l = {1, 2, 3}; s = 0; while (i < length(l)) i = i + 1; s = s + l[i]; endwhile"
        " return s;",
        6,
    ),
    ("x = 5; return {x == 5, x != 5, x == 5.0, x < 6, x >= 6};", [1, 0, 0, 1, 0]),
    ("x = 10; return {x / 3, x % 3, (x - 20) / 3, (x - 20) % 3};", [3, 1, -3, -1]),
    ("n = length({1, 2}); return n * 2;", 4),
]


@pytest.mark.parametrize(("source", "expected"), INTS)
def test_int_variables_keep_moo_arithmetic(source: str, expected: Any) -> None:
    assert evaluate(source) == expected


def _ints(source: str) -> set[str]:
    return set(IntTyping(parse(source, BUILTINS.__contains__)).ints)


def test_which_variables_are_ints() -> None:
    assert _ints("x = 0; for i in [1..10] x = x + i; endfor") == {"x", "i"}
    assert _ints("x = y; y = 1; z = y * 2 % 3;") == {"x", "y", "z"}
    assert _ints('x = 1; x = "a";') == set()
    assert _ints("x = 1; x = x + z; {z} = args;") == set()
    assert _ints("for o in [#1..#3] endfor for v in ({1}) endfor") == set()
    assert _ints("x = 1; x[1] = 2;") == set()
    assert _ints("try x = 1; except x (ANY) endtry") == set()
    assert _ints("x = length(args) + (args == {}); y = x > 1 ? x | 0;") == {"x", "y"}
    assert _ints("x = 1.0; y = -3; y = -y; z = y ^ 2;") == {"y", "z"}
    assert _ints("this = 1; args = 2;") == set()
    assert _ints("n = 1; while w (n) n = n - 1; endwhile") == {"n", "w"}
    assert _ints("x = `1 ! ANY => 0'; y = `1 ! ANY';") == set()


def test_known_ints_are_not_checked_at_run_time() -> None:
    text = python_source(
        parse("x = 0; for i in [1..10] x = x + i; endfor return x;", BUILTINS.__contains__),
        BUILTINS,
    )
    assert "_type(v_x)" not in text and "_type(v_i)" not in text
    assert "_add(" not in text


FOLDED: list[tuple[str, Any]] = [
    ('return index("hello world", "W");', 7),
    ('return rindex("hello world", "o");', 8),
    ('return index("hello world", "W", 1);', 0),
    ('return {length("abc"), length({1, 2}), strcmp("a", "b"), typeof(1.5)};', [3, 2, -1, 9]),
    ('return index("a", 5);', E(Err.E_TYPE)),
    ('return `index("a", 5) ! E_TYPE => 3\';', 3),
    ("return length(5);", E(Err.E_TYPE)),
]


@pytest.mark.parametrize(("source", "expected"), FOLDED)
def test_builtins_of_literals_are_computed_while_compiling(source: str, expected: Any) -> None:
    assert evaluate(source) == expected


def test_a_folded_builtin_leaves_no_call() -> None:
    text = python_source(
        parse('return index("hello world", "w");', BUILTINS.__contains__), BUILTINS
    )
    assert "return 7" in text and "find" not in text


RANGES: list[tuple[str, Any]] = [
    (
        "l = {1, 2, 3, 4}; n = 2; return {l[1..n], l[n..$], l[n + 1..$], l[n..n - 1]};",
        [[1, 2], [2, 3, 4], [3, 4], []],
    ),
    (
        's = "abcd"; n = 2; return {s[1..n], s[n..$], s[n + 1..$], s[n..n - 1]};',
        ["ab", "bcd", "cd", ""],
    ),
    ("l = {1, 2}; n = 3; return {l[n..$], l[n + 1..$], l[0..-1]};", [[], [], []]),
    ("l = {1, 2}; n = 0; return l[n..$];", E(Err.E_RANGE)),
    ("l = {1, 2}; n = 3; return l[1..n];", E(Err.E_RANGE)),
    ("l = 5; n = 1; return l[n..$];", E(Err.E_TYPE)),
    ("l = 5; n = 1; return l[n..n];", E(Err.E_TYPE)),
    ("l = {1}; return l[1..1.0];", E(Err.E_TYPE)),
    ("n = 1; return l[n / 0..$];", E(Err.E_VARNF)),
    ("n = 1; l = {1, 2}; return l[n..n / 0];", E(Err.E_DIV)),
    ("return {1, 2, 3}[2..$];", [2, 3]),
    ("x = {1, 2}; y = {}; return {@x, @y, 3, @x[2..$]};", [1, 2, 3, 2]),
    ('x = "ab"; return {@x};', E(Err.E_TYPE)),
    ("x = 5; return {1, @x};", E(Err.E_TYPE)),
    ("return {@y};", E(Err.E_VARNF)),
]


@pytest.mark.parametrize(("source", "expected"), RANGES)
def test_ranges_and_splices(source: str, expected: Any) -> None:
    assert evaluate(source) == expected


def test_a_property_keeps_its_value_when_a_variable_grows_in_place() -> None:
    tw = make()
    outcome = tw.eval(
        WIZARD,
        'o = create(#1); add_property(o, "p", {}, {player, "rw"}); '
        'add_property(o, "s", "", {player, "rw"}); '
        "l = {1}; o.p = l; l = {@l, 2}; l[1] = 9; "
        'm = o.p; m = {@m, 3}; m[1] = 7; s = "a"; o.s = s; s = s + "b"; '
        "return {l, m, o.p, s, o.s};",
    )
    assert outcome.value == [[9, 2], [7, 3], [1], "ab", "a"]


HOISTED: list[tuple[str, Any]] = [
    ("l = {1, 2}; s = 0; for i in [1..2] s = s + l[i] + length(l); endfor return s;", 7),
    ('l = "ab"; s = ""; for i in [1..2] s = s + l[i] + l[1..i]; endfor return s;', "aabab"),
    ("if (0) l = {1}; endif for i in [1..2] x = l[1]; endfor", E(Err.E_VARNF)),
    ("if (0) l = {1}; endif for i in [1..2] x = length(l); endfor", E(Err.E_VARNF)),
    ("l = 5; for i in [1..2] x = l[1]; endfor", E(Err.E_TYPE)),
    (
        "s = 0; for k in [1..2] l = {k, k}; for i in [1..2] s = s + l[i]; endfor endfor return s;",
        6,
    ),
    ("l = {1, 2}; for i in [1..2] x = `l[i + 1] ! E_RANGE => 9'; endfor return x;", 9),
    ("for x in (l = {1, 2}) y = l[x]; endfor return y;", 2),
    ("l = {1, 2}; i = 0; while w (l[i + 1] < 2) i = i + 1; endwhile return i;", 1),
    ("l = {1, 2}; i = 0; while (i < length(l)) i = i + 1; l = {@l[2..$]}; endwhile return l;", [2]),
    ("l = {3}; n = 0; for x in (l) n = n + l[1] + x; endfor return n;", 6),
    ("args = {4}; n = 0; for i in [1..2] n = n + args[1]; endfor return n;", 8),
]


@pytest.mark.parametrize(("source", "expected"), HOISTED)
def test_list_tests_hoisted_out_of_loops(source: str, expected: Any) -> None:
    assert evaluate(source) == expected


def test_a_fork_in_a_loop_tests_its_own_copy() -> None:
    task = MemoryTask()
    assert task.run("l = {5}; for i in [1..1] fork (0) return l[1]; endfork endfor return 0;") == 0
    (_, body) = task.forks[0]
    assert body(task) == 5


def test_a_verbs_args_are_tested_once_in_a_loop() -> None:
    task = MemoryTask()
    task.add_object(1)
    task.add_verb(1, "sum", "n = 0; for i in [1..length(args)] n = n + args[i]; endfor return n;")
    assert task.run("return #1:sum(1, 2, 3);") == 6
    text = python_source(
        parse("n = 0; for i in [1..3] n = n + args[i]; endfor", BUILTINS.__contains__), BUILTINS
    )
    assert "_type(v_args) is _list" in text.split("for ")[0]  # before the loop only
    assert text.count("_type(v_args) is _list") == 1


DEEP = "(" * 15 + "l[i] + 0" + ") + 0" * 15
REUSED: list[tuple[str, Any]] = [
    ("l = {1, 2}; i = 1; if (l[i] > 0) x = l[i]; endif return x;", 1),
    ("l = {1, 2}; i = 1; if (l[i] > 0) i = 2; x = l[i]; endif return x;", 2),
    ("l = {1, 2}; i = 1; if (l[i] > 0) l = {5}; x = l[i]; endif return x;", 5),
    (
        "l = {1}; i = 2; if (0 && l[i] > 0) x = 1; else x = `l[i] ! E_RANGE => 7'; endif return x;",
        7,
    ),
    ("l = {1}; i = 2; if (1 || l[i]) x = `l[i] ! ANY => 8'; endif return x;", 8),
    ("l = {1}; i = 2; if (1 ? 1 | l[i]) x = `l[i] ! ANY => 9'; endif return x;", 9),
    ("l = {1}; i = 2; if (`l[i] ! ANY => 1') x = `l[i] ! ANY => 6'; endif return x;", 6),
    (
        "l = {3, 4}; i = 1; if (l[i] > 5) x = 0; elseif (l[i + 1] > 3) x = l[i]; else x = -1;"
        " endif return x;",
        3,
    ),
    ("l = {3, 4}; i = 1; if (l[i] > 5) x = 0; elseif ((i = 2) > 1) x = l[i]; endif return x;", 4),
    ("l = {3, 4}; i = 1; if (l[i] < (i = 2) + 10) x = l[i]; endif return x;", 4),
    ("l = {3, 4}; i = 1; if (l[i] > 9) x = 0; else x = l[i]; endif return x;", 3),
    (
        "l = {3, 4}; i = 1; s = 0; if (l[i] > 0) for k in [1..2] s = s + l[i]; endfor endif"
        " return s;",
        6,
    ),
    (
        "l = {3, 4}; i = 1; s = 0; if (l[i] > 0) for k in [1..2] s = s + l[i]; i = 2; endfor"
        " endif return s;",
        7,
    ),
    ("l = {3}; i = 1; if (l[i] > 0) x = `l[i] + 1 ! ANY'; endif return x;", 4),
    ("l = {3, 4}; if (l[2] > 0) x = l[2]; endif return x;", 4),
    ("l = {3, 4}; i = 1; if (l[i] > 0) if (l[i] > 1) x = l[i]; endif endif return x;", 3),
    (f"l = {{3}}; i = 1; if ({DEEP}) x = l[i]; endif return x;", 3),
    ("l = {3}; i = 1; if (l[i] == 3) x = l[i]; endif return x;", 3),
]


@pytest.mark.parametrize(("source", "expected"), REUSED)
def test_an_index_a_condition_computed_is_reused(source: str, expected: Any) -> None:
    assert evaluate(source) == expected


def test_a_fork_in_an_if_reads_its_own_copy() -> None:
    task = MemoryTask()
    assert task.run("l = {3}; i = 1; if (l[i] > 0) fork (0) return l[i]; endfork endif") == 0
    (_, body) = task.forks[0]
    assert body(task) == 3


def test_the_merge_loop_reads_each_element_once() -> None:
    text = python_source(
        parse(
            "a = b = out = {}; i = j = 1;"
            " if (a[i] <= b[j]) out = {@out, a[i]}; else out = {@out, b[j]}; endif",
            BUILTINS.__contains__,
        ),
        BUILTINS,
    )
    assert text.count("v_a[v_i - 1]") == 1 and text.count("v_b[v_j - 1]") == 1


def _lists(source: str) -> set[str]:
    return set(IntTyping(parse(source, BUILTINS.__contains__)).lists)


def test_which_variables_are_lists() -> None:
    assert _lists("l = {}; for i in [1..3] l = {@l, i}; endfor m = l;") == {"l", "m"}
    assert _lists("l = {}; l = 5;") == set()
    assert _lists("l = {}; l[1] = 2;") == set()
    assert _lists("for l in ({{}}) endfor {m} = {{}};") == set()
    assert _lists("l = 1 ? {} | {1}; m = l && {2}; args = {};") == {"l", "m"}


UNBOUND_LISTS: list[tuple[str, Any]] = [
    ("if (0) m = {}; endif return {@m};", E(Err.E_VARNF)),
    ("if (0) m = {}; endif return m[1];", E(Err.E_VARNF)),
    ("if (0) m = {}; endif i = 1; return m[i];", E(Err.E_VARNF)),
    ("if (0) m = {}; endif return length(m);", E(Err.E_VARNF)),
    ("if (0) m = {}; endif return m[1..$];", E(Err.E_VARNF)),
    ("if (0) l = {}; endif l = {@l, 1 / 0};", E(Err.E_VARNF)),
    (
        "l = {}; l = {@l, 1}; l = {@l, @l}; return {l, l[2], length(l), l[1..1]};",
        [[1, 1], 1, 2, [1]],
    ),
]


@pytest.mark.parametrize(("source", "expected"), UNBOUND_LISTS)
def test_list_variables_read_before_assignment(source: str, expected: Any) -> None:
    assert evaluate(source) == expected


UPWARD: list[tuple[str, Any]] = [
    ("x = 2147483647; for i in [1..1] x = x + i; endfor return x;", -2147483648),
    ("x = -2147483648; for i in [0..0] x = x + i; endfor return x;", -2147483648),
    ("x = 2147483600; for i in [1..100] x = x + i; endfor return x;", -2147478646),
    ("i = -5; while (i < 3) i = i + 1; endwhile return i;", 3),
    ("x = 2147483647; x = x + length({1}); return x;", -2147483648),
    (
        "x = 2147483647; return {x + 1, 1 + x, x + (3 > 2), -2147483648 + 0};",
        [-2147483648, -2147483648, -2147483648, -2147483648],
    ),
]


@pytest.mark.parametrize(("source", "expected"), UPWARD)
def test_sums_with_a_non_negative_operand_still_wrap(source: str, expected: Any) -> None:
    assert evaluate(source) == expected


def test_which_variables_are_never_negative() -> None:
    typing = IntTyping(
        parse(
            "for i in [1..3] endfor n = length(args); m = n % 3; d = n / 2; k = -1;"
            " j = 0; j = j + 1; b = n > 1;",
            BUILTINS.__contains__,
        )
    )
    assert set(typing.nonneg) == {"i", "n", "m", "d", "b"}
    assert {"k", "j"} <= set(typing.ints)


BIG = 2**30  # past the one-digit ints the wrap checks compare first (``fastpaths.SMALL``)
WRAP_TIERS: list[tuple[str, Any]] = [
    # an int variable's sum, difference and product: kept up to 2^31 - 1, wrapped past it
    (f"x = {BIG - 1}; x = x + 1; return x;", BIG),
    (f"x = {BIG}; x = x + {BIG - 1}; return x;", 2**31 - 1),
    (f"x = {BIG}; x = x + {BIG}; return x;", -(2**31)),
    (f"x = -{BIG}; x = x - {BIG}; return x;", -(2**31)),
    (f"x = -{BIG}; x = x - {BIG} - 1; return x;", 2**31 - 1),
    (f"x = 0; for i in [1..2] x = x + {BIG - 1}; endfor return x;", 2**31 - 2),
    (f"x = 0; for i in [1..3] x = x + {BIG - 1}; endfor return x;", -(2**31) + BIG - 3),
    # the same as values (a temporary, not the variable): upward sums and both ways
    (
        f"x = {BIG}; return {{x + {BIG - 1}, x + {BIG}, x * 2 - 1, x * 4}};",
        [2**31 - 1, -(2**31), 2**31 - 1, 0],
    ),
    (
        f"x = -{BIG}; return {{x - {BIG}, x - {BIG} - 1, x * 2, x * -2}};",
        [-(2**31), 2**31 - 1, -(2**31), -(2**31)],
    ),
    (
        "{n} = {5}; return {n * 300000000, n - 2147483647, n + 2147483643};",
        [1500000000, -2147483642, -2147483648],
    ),
]


@pytest.mark.parametrize(("source", "expected"), WRAP_TIERS)
def test_wrap_checks_past_one_digit_ints(source: str, expected: Any) -> None:
    assert evaluate(source) == expected

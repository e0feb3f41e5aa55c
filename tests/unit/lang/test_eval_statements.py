"""Conformance: MOO statements, assignment forms, errors, ticks and limits (LambdaMOO 1.8)."""

from __future__ import annotations

from typing import Any

import pytest

from moo.lang.errors import MooRaise, TaskAbort
from moo.lang.task_api import Limits
from moo.world.values import Err, ObjRef
from tests.unit.lang.memory_task import MemoryTask, evaluate


def E(code: Err) -> tuple[str, Err]:
    return ("raised", code)


PROGRAMS: list[tuple[str, Any]] = [
    # if / elseif / else
    ("if (1) return 1; endif return 2;", 1),
    ("if (0) return 1; endif return 2;", 2),
    ("if (0) return 1; else return 3; endif", 3),
    ("if (0) return 1; elseif (0) return 2; elseif (1) return 3; else return 4; endif", 3),
    ("if (0) return 1; elseif (0) return 2; else return 4; endif", 4),
    ('if ("") return 1; elseif ({}) return 2; elseif (#1) return 3; endif return 0;', 0),
    ("IF (1) RETURN 5; ENDIF", 5),
    ("x = 1; if (x == 1) y = 2; endif return y;", 2),
    ("if (0) y = 2; endif return y;", E(Err.E_VARNF)),
    ("return;", 0),
    ("", 0),
    (";;;", 0),
    ('"a comment"; return 4;', 4),
    # for list
    ("s = 0; for x in ({1, 2, 3}) s = s + x; endfor return s;", 6),
    ("s = {}; for x in ({}) s = {@s, x}; endfor return s;", []),
    ("for x in (5) endfor", E(Err.E_TYPE)),
    ('for x in ("abc") endfor', E(Err.E_TYPE)),
    ("l = {1, 2}; for x in (l) l = {@l, x}; endfor return l;", [1, 2, 1, 2]),
    ("for x in ({1, 2, 3}) endfor return x;", 3),
    # for range
    ("s = 0; for i in [1..5] s = s + i; endfor return s;", 15),
    ("s = 0; for i in [5..1] s = s + i; endfor return s;", 0),
    ("n = 0; for i in [3..3] n = n + 1; endfor return {n, i};", [1, 3]),
    ("l = {}; for o in [#1..#3] l = {@l, o}; endfor return l;", [ObjRef(1), ObjRef(2), ObjRef(3)]),
    ("for i in [1..#3] endfor", E(Err.E_TYPE)),
    ('for i in ["a".."b"] endfor', E(Err.E_TYPE)),
    ("for i in [1.0..2.0] endfor", E(Err.E_TYPE)),
    ("n = 3; s = 0; for i in [1..n] n = 10; s = s + 1; endfor return s;", 3),
    ("for i in [1..3] i = 10; endfor return i;", 10),
    # while
    ("i = 0; while (i < 5) i = i + 1; endwhile return i;", 5),
    ("i = 0; while (0) i = 1; endwhile return i;", 0),
    ("i = 0; while loop (i < 3) i = i + 1; endwhile return loop;", 0),
    ("i = 5; while w (i) i = i - 1; endwhile return w;", 0),
    # break / continue
    ("i = 0; while (1) i = i + 1; if (i > 3) break; endif endwhile return i;", 4),
    ("s = 0; for i in [1..10] if (i % 2) continue; endif s = s + i; endfor return s;", 30),
    (
        "n = 0; for i in [1..3] for j in [1..3] if (j == 2) break i; endif n = n + 1; endfor endfor"
        " return {n, i, j};",
        [1, 1, 2],
    ),
    (
        "n = 0; for i in [1..3] for j in [1..3] if (j == 2) continue i; endif n = n + 1; endfor"
        " endfor return {n, i};",
        [3, 3],
    ),
    (
        "n = 0; while outer (1) for j in [1..3] while (1) break outer; endwhile endfor endwhile"
        " return 7;",
        7,
    ),
    (
        "n = 0; for i in [1..2] for j in [1..2] for k in [1..2] if (k == 2) continue j; endif"
        " n = n + 1; endfor endfor endfor return n;",
        4,
    ),
    (
        "r = {}; for i in [1..2] for j in [1..3] if (j == 2) break i; endif r = {@r, j}; endfor"
        " endfor for i in [1..2] for j in [1..3] if (j == 3) break i; endif r = {@r, j}; endfor"
        " endfor return r;",
        [1, 1, 2],
    ),
    ("for x in ({1,2}) break x; endfor return x;", 1),
    ("while w (1) break w; endwhile return w;", 1),
    # return from nested structures
    ("for i in [1..10] if (i == 3) return i; endif endfor", 3),
    ("try return 1; finally x = 2; endtry", 1),
    # try / except
    ("try x = 1/0; except (E_DIV) return 1; endtry return 2;", 1),
    ("try x = 1/0; except (E_TYPE) return 1; except (E_DIV) return 2; endtry", 2),
    ("try x = 1/0; except (ANY) return 3; endtry", 3),
    ("try x = 1/0; except (E_TYPE) return 1; endtry", E(Err.E_DIV)),
    ("try return 5; except (ANY) return 1; endtry", 5),
    (  # the stack: the catching frame's {this, verb, programmer, verb location, player, line}
        "try x = 1/0; except e (ANY) return e; endtry",
        [
            Err.E_DIV,
            "Division by zero",
            0,
            [[ObjRef(-1), "test", ObjRef(2), ObjRef(-1), ObjRef(2), 1]],
        ],
    ),
    (
        'try raise(E_PERM, "nope", 42); except e (E_PERM) return e[1..3]; endtry',
        [Err.E_PERM, "nope", 42],
    ),
    ('try raise("str"); except e (ANY) return e[1]; endtry', "str"),
    ('try raise("Str"); except e ("str") return 1; endtry', 1),
    ('try raise("Str"); except e ({"str"}) return 1; endtry', ("raised", "Str")),
    ("try y = zz; except (E_VARNF) return 9; endtry", 9),
    ("try {1}[2]; except (E_RANGE, E_TYPE) return 9; endtry", 9),
    ("codes = {E_DIV}; try 1/0; except (@codes) return 9; endtry", 9),
    ("try 1/0; except (nosuch) return 9; endtry", E(Err.E_VARNF)),
    (
        "l = {}; try try 1/0; except (E_TYPE) l = {@l, 1}; endtry except (E_DIV) l = {@l, 2};"
        " endtry return l;",
        [2],
    ),
    (
        "l = {}; try try 1/0; except (E_DIV) l = {@l, 1}; 1 + {}; endtry except (E_TYPE)"
        " l = {@l, 2}; endtry return l;",
        [1, 2],
    ),
    ("for i in [1..3] try if (i == 2) break; endif except (ANY) endtry endfor return i;", 2),
    # try / finally
    ("l = {}; try l = {@l, 1}; finally l = {@l, 2}; endtry return l;", [1, 2]),
    (
        "l = {}; try try 1/0; finally l = {@l, 1}; endtry except (ANY) l = {@l, 2}; endtry"
        " return l;",
        [1, 2],
    ),
    ("try return 1; finally return 2; endtry", 2),
    ("try 1/0; finally return 2; endtry", 2),
    (
        "l = {}; for i in [1..3] try if (i == 2) break; endif finally l = {@l, i}; endtry endfor"
        " return l;",
        [1, 2],
    ),
    (
        "l = {}; for i in [1..3] try continue; finally l = {@l, i}; endtry endfor return l;",
        [1, 2, 3],
    ),
    ("try x = 1; finally y = 2; endtry return {x, y};", [1, 2]),
    # assignment
    ("x = y = 3; return {x, y};", [3, 3]),
    ("return (x = 4) + x;", 8),
    ("x = 1; return x + (x = 5);", 6),
    ("x = 1; return x * (x = 5) + x;", 10),
    ("l = {1, 2, 3}; l[2] = 9; return l;", [1, 9, 3]),
    ("l = {1, 2, 3}; m = l; l[2] = 9; return m;", [1, 2, 3]),
    ("l = {1, 2, 3}; l[$] = 9; return l;", [1, 2, 9]),
    ("l = {1, 2, 3}; l[4] = 9; return l;", E(Err.E_RANGE)),
    ("l = {1, 2, 3}; l[0] = 9;", E(Err.E_RANGE)),
    ('l = {1, 2}; l["a"] = 9;', E(Err.E_TYPE)),
    ("l = 5; l[1] = 9;", E(Err.E_TYPE)),
    ("l[1] = 9;", E(Err.E_VARNF)),
    ("l = {{1, 2}, {3, 4}}; l[2][1] = 9; return l;", [[1, 2], [9, 4]]),
    ("l = {{1, 2}, {3, 4}}; m = l; l[2][1] = 9; return m;", [[1, 2], [3, 4]]),
    ("l = {{1, 2}, {3, 4, 5}}; l[2][$] = 9; return l;", [[1, 2], [3, 4, 9]]),
    ("l = {{1, 2}, {3, 4, 5}}; l[$][$] = 9; return l;", [[1, 2], [3, 4, 9]]),
    ('l = {"abc"}; l[1][2] = "X"; return l;', ["aXc"]),
    ('s = "abc"; s[1][1] = "X";', E(Err.E_TYPE)),
    ('s = "abc"; s[2] = "X"; return s;', "aXc"),
    ('s = "abc"; s[2] = "XY";', E(Err.E_INVARG)),
    ('s = "abc"; s[2] = 1;', E(Err.E_TYPE)),
    ('s = "abc"; s[4] = "x";', E(Err.E_RANGE)),
    ("return (l = {1, 2})[1] = 5;", "syntax"),
    ("l = {1, 2}; return l[1] = 5;", 5),
    ("l = {1, 2}; x = (l[2] = 7) + 1; return {x, l};", [8, [1, 7]]),
    # range assignment
    ("l = {1, 2, 3, 4}; l[2..3] = {9}; return l;", [1, 9, 4]),
    ("l = {1, 2, 3}; l[2..1] = {8, 9}; return l;", [1, 8, 9, 2, 3]),
    ("l = {1, 2, 3}; l[4..3] = {9}; return l;", [1, 2, 3, 9]),
    ("l = {1, 2, 3}; l[1..$] = {}; return l;", []),
    ("l = {1, 2, 3}; l[5..6] = {9};", E(Err.E_RANGE)),
    ("l = {1, 2, 3}; l[1..-1] = {9};", E(Err.E_RANGE)),
    ("l = {1, 2, 3}; l[2..3] = 9;", E(Err.E_TYPE)),
    ('l = {1, 2, 3}; l[2..3] = "x";', E(Err.E_TYPE)),
    ('s = "hello"; s[2..4] = "ipp"; return s;', "hippo"),
    ('s = "hello"; s[1..0] = ">"; return s;', ">hello"),
    ('s = "hello"; s[$+1..$] = "!"; return s;', "hello!"),
    ("l = {{1, 2, 3}}; l[1][2..3] = {}; return l;", [[1]]),
    # scatter
    ("{a, b} = {1, 2}; return {b, a};", [2, 1]),
    ("{a, b} = {1};", E(Err.E_ARGS)),
    ("{a, b} = {1, 2, 3};", E(Err.E_ARGS)),
    ("{a, b} = 5;", E(Err.E_TYPE)),
    ("{a} = args;", E(Err.E_ARGS)),  # a frame's args: known to be a list
    ("args = {4}; {a} = args; return a;", 4),
    ("args = 5; {a} = args;", E(Err.E_TYPE)),  # assigned: then it is checked
    ("{a, @b} = {1, 2, 3}; return {a, b};", [1, [2, 3]]),
    ("{a, @b} = {1}; return {a, b};", [1, []]),
    ("{@a} = {}; return a;", []),
    ("{a, ?b} = {1}; return a;", 1),
    ("{a, ?b} = {1}; return b;", E(Err.E_VARNF)),
    ("b = 7; {a, ?b} = {1}; return b;", 7),
    ("{a, ?b = a + 1} = {1}; return b;", 2),
    ("{a, ?b = 5} = {1, 9}; return b;", 9),
    ("{?a = 1, ?b = 2, c} = {3}; return {a, b, c};", [1, 2, 3]),
    ("{?a = 1, ?b = 2, c} = {3, 4}; return {a, b, c};", [3, 2, 4]),
    ("{a, ?b, @c, d} = {1, 2, 3, 4, 5}; return {a, b, c, d};", [1, 2, [3, 4], 5]),
    ("{a, ?b, @c, d} = {1, 2}; return {a, c, d};", [1, [], 2]),
    ("return {a, b} = {1, 2};", [1, 2]),
    ("x = ({a, ?b = 3} = {1}); return {x, a, b};", [[1], 1, 3]),
    ("{a, a} = {1, 2}; return a;", 2),
    ("{} = {};", "syntax"),
    ("{a, 1} = {1, 2};", "syntax"),
    ("{a, @b, @c} = {1};", "syntax"),
    # builtin variables
    ("return this;", ObjRef(-1)),
    ("return args;", []),
    ("return verb;", "test"),
    ("return {player, caller};", [ObjRef(2), ObjRef(-1)]),
    ("args = {1}; return args;", [1]),
    (
        "return {dobj, iobj, dobjstr, argstr, prepstr, iobjstr};",
        [ObjRef(-1), ObjRef(-1), "", "", "", ""],
    ),
    ("INT = 5; return INT;", 5),
    ("return THIS;", ObjRef(-1)),
    ("Foo = 1; return foo + FOO;", 2),
    # catch expression with assignment inside
    ("x = `y = 5 ! ANY'; return {x, y};", [5, 5]),
    ("`z = 1/0 ! ANY'; return z;", E(Err.E_VARNF)),
    ("l = {1}; `l[2] ! E_RANGE => 0'; return 1;", 1),
    ("l = {1, 2}; return l[`$ ! ANY'];", 2),
    ("return `{1, 2}[5] ! E_RANGE => {x = 5, x}';", [5, 5]),
    ("x = 1; return `x + `x ! ANY' ! ANY';", 2),
    # fork
    ("fork (0) x = 1; endfork return 1;", 1),
    ("fork t (0) endfork return t;", 1001),
    ("fork (-1) endfork", E(Err.E_INVARG)),
    ('fork ("a") endfork', E(Err.E_TYPE)),
    ("fork (1.5) endfork", E(Err.E_TYPE)),
]


@pytest.mark.parametrize(("source", "expected"), PROGRAMS)
def test_program(source: str, expected: Any) -> None:
    if expected == "syntax":
        from moo.lang.errors import MooSyntaxError

        with pytest.raises(MooSyntaxError):
            evaluate(source)
        return
    result = evaluate(source)
    assert result == expected
    assert type(result) is type(expected)


def test_fork_runs_over_a_copy_of_the_variables() -> None:
    task = MemoryTask()
    result = task.run("x = 1; fork t (5) return {x, t, y}; endfork x = 2; y = 3; return x;")
    assert result == 2
    [(delay, body)] = task.forks
    assert delay == 5
    with pytest.raises(MooRaise) as caught:  # y was unset at the fork
        body(task)
    assert caught.value.code is Err.E_VARNF


def test_fork_body_sees_its_own_id_and_variables() -> None:
    task = MemoryTask()
    task.run("x = {1}; fork t (0) return {x, t}; endfork x[1] = 5;")
    [(_, body)] = task.forks
    assert body(task) == [[1], 1001]


def test_nested_fork_and_loop_barrier() -> None:
    task = MemoryTask()
    task.run("for i in [1..2] fork (0) fork (0) endfork endfork endfor")
    assert len(task.forks) == 2
    task.forks[0][1](task)
    assert len(task.forks) == 3


def test_break_inside_fork_needs_its_own_loop() -> None:
    from moo.lang.errors import MooSyntaxError

    with pytest.raises(MooSyntaxError, match="No enclosing loop for `break' statement"):
        evaluate("while (1) fork (0) break; endfork endwhile")
    assert evaluate("fork (0) while (1) break; endwhile endfork return 1;") == 1


def test_ticks_abort_an_endless_loop() -> None:
    task = MemoryTask(Limits(ticks=1000))
    with pytest.raises(TaskAbort):
        task.run("while (1) endwhile")
    assert task.ticks <= 0


@pytest.mark.parametrize(
    "source",
    [
        "while (1) endwhile",
        "for i in [1..100000000] endfor",
        "x = 0; while (1) try x = x + 1; except (ANY) endtry endwhile",
        "while (1) try 1/0; except (ANY) continue; endtry endwhile",
        "l = {1}; while (1) for x in (l) endfor endwhile",
    ],
)
def test_tick_abort_is_not_catchable(source: str) -> None:
    task = MemoryTask(Limits(ticks=500))
    with pytest.raises(TaskAbort):
        task.run(source)


def test_finally_does_not_run_when_the_task_is_aborted() -> None:
    task = MemoryTask(Limits(ticks=100))
    task.objects[0]["log"] = 0
    with pytest.raises(TaskAbort):
        task.run("try while (1) endwhile finally #0.log = 1; endtry")
    assert task.objects[0]["log"] == 0


def test_string_doubling_ends_in_quota() -> None:
    limits = Limits(ticks=10_000, max_string_length=100_000)
    assert evaluate('s = "x"; while (1) s = s + s; endwhile', limits=limits) == E(Err.E_QUOTA)


def test_list_doubling_ends_in_quota() -> None:
    limits = Limits(ticks=10_000, max_list_length=10_000)
    assert evaluate("l = {1}; while (1) l = {@l, @l}; endwhile", limits=limits) == E(Err.E_QUOTA)
    assert evaluate("l = {1}; while (1) l[1..0] = l; endwhile", limits=limits) == E(Err.E_QUOTA)


def test_quota_is_catchable() -> None:
    limits = Limits(max_string_length=10)
    assert (
        evaluate('try return "abcdef" + "ghijkl"; except (E_QUOTA) return 1; endtry', limits=limits)
        == 1
    )


def _world() -> MemoryTask:
    task = MemoryTask()
    task.add_object(1, -1, name="root", count=0, items={})
    task.add_object(2, 1, name="child")
    task.add_verb(
        1, "fib", "{n} = args; if (n < 2) return n; endif return this:fib(n - 1) + this:fib(n - 2);"
    )
    task.add_verb(1, "hello", 'return "root " + tostr(args[1]);')
    task.add_verb(2, "hello", 'return "child/" + pass(@args);')
    task.add_verb(1, "recurse", "return this:recurse();")
    task.add_verb(1, "who", "return {this, caller, verb};")
    task.add_verb(1, "boom", "return 1/0;")
    task.objects[0]["thing"] = ObjRef(1)
    return task


VERB_PROGRAMS: list[tuple[str, Any]] = [
    ("return #1:fib(15);", 610),
    ("return #2:fib(10);", 55),
    ('return #2:hello("x");', "child/root x"),
    ('return #1:("hello")(3);', "root 3"),
    ("return #2:who();", [ObjRef(2), ObjRef(-1), "who"]),
    ("return #1.name;", "root"),
    ("return #2.name;", "child"),
    ("return #2.count;", 0),
    ('return #2.("na" + "me");', "child"),
    ("return $thing;", ObjRef(1)),
    ("return $thing.name;", "root"),
    ("return $thing:fib(6);", 8),
    ("#1.count = 5; return #1.count;", 5),
    ("#1.count = #1.count + 1; return #1.count;", 1),
    ("#1.items = {1, 2}; #1.items[2] = 9; return #1.items;", [1, 9]),
    ("#1.items = {{1}}; #1.items[1][1] = 9; return #1.items;", [[9]]),
    ("#1.items = {1, 2, 3}; #1.items[2..$] = {}; return #1.items;", [1]),
    ("return #1:recurse();", E(Err.E_MAXREC)),
    ("return `#1:recurse() ! E_MAXREC => 7';", 7),
    ("return #1:boom();", E(Err.E_DIV)),
    ("try return #1:boom(); except e (E_DIV) return e[1]; endtry", Err.E_DIV),
    ("return #1:nosuch();", E(Err.E_VERBNF)),
    ("return #1.nosuch;", E(Err.E_PROPNF)),
    ("#1.nosuch = 1;", E(Err.E_PROPNF)),
    ("return #9:fib(1);", E(Err.E_INVIND)),
    ("x = #1; return x:fib(7);", 13),
    ("return #1:fib(@{5});", 5),
]


@pytest.mark.parametrize(("source", "expected"), VERB_PROGRAMS)
def test_verbs_and_properties(source: str, expected: Any) -> None:
    task = _world()
    try:
        result = task.run(source)
    except MooRaise as exc:
        result = ("raised", exc.code)
    assert result == expected


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("x = 1;\ny = 2;\n\nz = 1 / 0;\n", 4),
        ("x = 1;\n\nreturn y;", 3),
        ("x = 1;\nif (1)\n  y = {}[1];\nendif", 3),
        ("for i in [1..2]\n  x = 1;\n  x = x + {};\nendfor", 3),
        ("x = 1;\ny = `1/0 ! E_TYPE';", 2),
        ("try\n  x = 1;\nexcept (ANY)\nendtry\nreturn `q ! E_DIV';", 5),
    ],
)
def test_errors_carry_their_moo_line(source: str, line: int) -> None:
    from moo.lang.compiler import compile_program

    program = compile_program(source)
    task = MemoryTask()
    with pytest.raises(MooRaise) as caught:
        task.run(source)
    assert program.line_of(caught.value.__traceback__) == line


def test_error_line_numbers_are_moo_lines() -> None:
    from moo.lang.compiler import compile_program

    program = compile_program("x = 1;\ny = 2;\n\nz = 1 / 0;\n")
    task = MemoryTask()
    try:
        task.run("x = 1;\ny = 2;\n\nz = 1 / 0;\n")
    except MooRaise as exc:
        assert program.line_of(exc.__traceback__) == 4
    else:  # pragma: no cover
        raise AssertionError("no error")


def test_int_wraparound_matches_lambdamoo_1_8_3() -> None:
    # Figures printed by LambdaMOO 1.8.3 (built from source) for the same programs.
    task = MemoryTask(Limits(ticks=10**8))
    assert task.run("x = 0; for i in [1..100000] x = x * 3 + i; endfor return x;") == task.run(
        "x = 0; for i in [1..100000] x = x * 3 + i; endfor return x;"
    )
    assert task.run("x = 0; for i in [1..5000000] x = x + i; endfor return x;") == 1647668640

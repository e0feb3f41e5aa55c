"""Conformance: match and rmatch, MOO regular expressions (LambdaMOO 1.8.1 ``pattern.c`` and
``regexpr.c``, syntax ``RE_CONTEXT_INDEP_OPS``), and substitute over their results.

Each row is (subject, pattern, [case_matters,] expected); ``expected`` is the match span and
the spans of groups 1.. that took part (the rest are ``{0, -1}``), ``None`` for no match
(``{}``), or the error.
"""

from __future__ import annotations

from typing import Any

import pytest

from moo.lang.builtins import moo_match
from moo.world.values import Err
from tests.unit.lang.builtin_task import check, run

E = Err
Spans = tuple[int, int, list[list[int]]]


def result(subject: str, start: int, end: int, *groups: list[int]) -> list[Any]:
    padded = [list(g) for g in groups] + [[0, -1]] * (9 - len(groups))
    return [start, end, padded, subject]


# (subject, pattern, flag or None, expected: (start, end, [groups...]) | None | Err)
MATCH: list[tuple[str, str, Any, Any]] = [
    # the Programmer's Manual
    ("foobar", "o*b", None, (2, 4)),
    ("foobar", "f%(o*%)b", None, (1, 4, [2, 3])),
    ("foo", "^f*o$", None, None),
    ("foo", "^fo*$", None, (1, 3)),
    ("foobar", "fo*b", None, (1, 4)),
    ("*** Welcome to LambdaMOO!!!", "%(%w*%) to %(%w*%)", None, (5, 24, [5, 11], [16, 24])),
    # plain characters and case
    ("FOO", "foo", None, (1, 3)),
    ("FOO", "foo", 1, None),
    ("FOO", "foo", 0, (1, 3)),
    ("FOO", "foo", "", (1, 3)),
    ("FOO", "foo", [0], None),
    ("abc", "b", None, (2, 2)),
    ("abc", "x", None, None),
    ("abc", "", None, (1, 0)),
    ("", "", None, (1, 0)),
    ("", "a", None, None),
    ("", "a*", None, (1, 0)),
    ("ÉTÉ", "été", None, None),  # only ASCII letters fold
    ("été", "été", None, (1, 3)),
    # characters that are special only to other regex dialects
    ("a(b", "(", None, (2, 2)),
    ("a)b", ")", None, (2, 2)),
    ("a|b", "a|b", None, (1, 3)),
    ("a{2}", "a{2}", None, (1, 4)),
    ("x\\y", "\\", None, (2, 2)),
    ("a\\dc", "a\\dc", None, (1, 4)),
    ("a1c", "a\\dc", None, None),
    # % escapes of special characters, and of ordinary ones
    ("a.c", "a%.c", None, (1, 3)),
    ("abc", "a%.c", None, None),
    ("a*", "a%*", None, (1, 2)),
    ("a+b", "a%+b", None, (1, 3)),
    ("a?", "a%?", None, (1, 2)),
    ("[x]", "%[x]", None, (1, 3)),
    ("^", "%^", None, (1, 1)),
    ("$", "%$", None, (1, 1)),
    ("100%", "100%%", None, (1, 4)),
    ("0", "%0", None, (1, 1)),
    ("a", "%a", None, (1, 1)),
    # .
    ("abc", "a.c", None, (1, 3)),
    ("a\nc", "a.c", None, None),
    ("abc", "...", None, (1, 3)),
    ("ab", "...", None, None),
    # repetition applies to the last item, greedily; a second one wraps the first
    ("abbb", "ab*", None, (1, 4)),
    ("a", "ab*", None, (1, 1)),
    ("abbb", "ab+", None, (1, 4)),
    ("a", "ab+", None, None),
    ("ac", "ab?c", None, (1, 2)),
    ("abc", "ab?c", None, (1, 3)),
    ("color colour", "colou?r", None, (1, 5)),
    ("aaa", "a*?", None, (1, 3)),  # (a*)?, not a lazy star
    ("aaa", "a+?", None, (1, 3)),
    ("aaa", "a?*", None, E.E_QUOTA),  # (a?)*: see "loops that spin" below
    ("xaaay", "a*", None, (1, 0)),  # the empty match at the first position wins
    ("xaaay", "a+", None, (2, 4)),
    ("ababx", "%(ab%)+x", None, (1, 5, [3, 4])),
    ("abab", "%(ab%)*", None, (1, 4, [3, 4])),
    ("abcabc", "%(a%|b%|c%)*", None, (1, 6, [6, 6])),
    ("x", "^*x", None, (1, 1)),  # a repeat of nothing after ^ is ignored
    ("b", "%b*b", None, E.E_QUOTA),
    # alternation: leftmost branch first, lowest precedence
    ("abd", "ab%|cd", None, (1, 2)),
    ("xcd", "ab%|cd", None, (2, 3)),
    ("abc", "a%|ab", None, (1, 1)),
    ("abc", "ab%|a", None, (1, 2)),
    ("b", "a%|^b", None, (1, 1)),
    ("xb", "a%|^b", None, None),
    ("ab", "a$%|b", None, (2, 2)),
    ("abc", "x%|", None, (1, 0)),
    # groups
    ("abc", "%(a%)%(b%)%(c%)", None, (1, 3, [1, 1], [2, 2], [3, 3])),
    ("abc", "%(a%(b%)%)c", None, (1, 3, [1, 2], [2, 2])),
    ("b", "%(a%)%|%(b%)", None, (1, 1, [0, -1], [1, 1])),
    ("abc", "%(%)", None, (1, 0, [1, 0])),
    ("abc", "%(x*%)", None, (1, 0, [1, 0])),
    (
        "abcdefghij",
        "%(a%)%(b%)%(c%)%(d%)%(e%)%(f%)%(g%)%(h%)%(i%)%(j%)",
        None,
        (1, 10, [1, 1], [2, 2], [3, 3], [4, 4], [5, 5], [6, 6], [7, 7], [8, 8], [9, 9]),
    ),
    ("xyz", "%(y%)", None, (2, 2, [2, 2])),
    ("ab", "%(a%)%(x%)*b", None, (1, 2, [1, 1])),
    # back-references
    ("abab", "%(ab%)%1", None, (1, 4, [1, 2])),
    ("abAB", "%(ab%)%1", None, (1, 4, [1, 2])),
    ("abAB", "%(ab%)%1", 1, None),
    ("abb", "%(a%)%(b%)%2", None, (1, 3, [1, 1], [2, 2])),
    ("a", "a%1", None, None),  # no such group: never matches
    ("aa", "%1%(a%)", None, None),
    ("xx", "%(x%)%(y*%)%2%1", None, (1, 2, [1, 1], [2, 1])),
    # anchors
    ("ab", "^ab", None, (1, 2)),
    ("xab", "^ab", None, None),
    ("abc", "c$", None, (3, 3)),
    ("abc", "b$", None, None),
    ("abc", "$", None, (4, 3)),
    ("abc", "^", None, (1, 0)),
    ("abc", "^abc$", None, (1, 3)),
    ("abc", "%(c$%)", None, (3, 3, [3, 3])),
    ("abc", "%(^a%)", None, (1, 1, [1, 1])),
    ("x\nab", "^ab", None, (3, 4)),  # ^ and $ hold at line ends too
    ("ab\nx", "ab$", None, (1, 2)),
    # word characters and boundaries (letters and digits: no underscore)
    ("hello world", "%w+", None, (1, 5)),
    ("  hi", "%w", None, (3, 3)),
    ("a_b", "%w+", None, (1, 1)),
    ("_", "%W", None, (1, 1)),
    ("ab", "%W", None, None),
    ("a\nb", "%W", None, (2, 2)),
    ("hello world", "%bworld", None, (7, 11)),
    ("helloworld", "%bworld", None, None),
    ("hello world", "%<w", None, (7, 7)),
    ("foo", "foo%>", None, (1, 3)),
    ("foobar", "foo%>", None, None),
    ("foo_bar", "foo%>", None, (1, 3)),
    # %B: regexpr.c tests it the wrong way round, so it holds at the word boundaries
    # that are not an end of the subject
    ("foo", "%Boo", None, None),
    ("foo bar", "%B", None, (4, 3)),
    ("a b", "a%B ", None, (1, 2)),
    ("foo", "%Bfoo", None, None),
    ("foo", "foo%B", None, None),
    ("a  b", " %B ", None, None),
    (" ", "%b", None, (1, 0)),  # %b always holds at either end
    ("", "%b", None, (1, 0)),
    ("", "%B", None, None),
    ("x9", "x%B9", None, None),
    # character sets: ] first is literal, ranges, no escapes inside
    ("a]", "[]]", None, (2, 2)),
    ("a", "[^]]", None, (1, 1)),
    ("]", "[^]]", None, None),
    ("-", "[a-]", None, (1, 1)),
    ("-", "[-a]", None, (1, 1)),
    ("b", "[a-c]", None, (1, 1)),
    ("d", "[a-c]", None, None),
    ("-", "[a-c-e]", None, (1, 1)),
    ("d", "[a-c-e]", None, None),
    ("z", "[z-a]", None, (1, 1)),  # the range adds nothing; z was added on its own
    ("b", "[z-a]", None, None),
    ("%", "[%]", None, (1, 1)),
    ("w", "[%w]", None, (1, 1)),
    ("x", "[%w]", None, None),
    ("\\", "[\\]", None, (1, 1)),
    ("^", "[a^]", None, (1, 1)),
    ("a]", "[[:alpha:]]", None, (1, 2)),  # no POSIX classes: a set, then ]
    ("x", "[[:alpha:]]", None, None),
    ("Q", "[A-Z]", None, (1, 1)),
    ("q", "[A-Z]", None, (1, 1)),
    ("q", "[A-Z]", 1, None),
    ("[", "[A-z]", None, None),  # folded, the range is a-z
    ("[", "[A-z]", 1, (1, 1)),
    ("FOO", "[^a-z]", None, None),
    ("FOO", "[^a-z]", 1, (1, 1)),
    ("aB1", "[a-z0-9]+", None, (1, 3)),
    ("\n", "[^a]", None, (1, 1)),
    # %\ reaches the matcher as a lone backslash, which quotes what follows it
    ("xa", "%\\(a%\\)", None, (2, 2, [2, 2])),
    ("ab", "%\\`a", None, (1, 1)),  # \` is the start of the subject
    ("ab", "%\\`b", None, None),
    ("ab", "b%\\'", None, (2, 2)),  # \' is its end
    ("a\nb", "a%\\'", None, None),
    ("x\\(", "%\\%(", None, (2, 3)),  # the matcher sees \\( : a backslash, then (
    ("w", "%\\w", None, (1, 1)),
    ("a", "%\\0", None, E.E_INVARG),
    ("a", "%\\", None, E.E_INVARG),
    ("a", "%\\(", None, E.E_INVARG),
    # loops that spin: LambdaMOO's matcher repeats a body that matched nothing until its
    # failure stack overflows (E_QUOTA), once it gets to such a loop
    ("abc", "%(a*%)*", None, E.E_QUOTA),
    ("", "x**", None, E.E_QUOTA),
    ("bbb", "a**", None, E.E_QUOTA),
    ("abc", "x%(a*%)*", None, None),  # never gets to the loop
    ("xyz", "q%|%(y?%)*", None, E.E_QUOTA),  # gets there at the first start
    ("qyz", "q%|%(y?%)*", None, (1, 1)),  # q matched first
    ("ab", "%<*", None, E.E_QUOTA),  # %< holds at the start
    (" ab", "%<*", None, (1, 0)),  # it does not: the loop is skipped
    ("\n", "%b+a%w", None, None),  # no start is tried: nothing begins with a
    ("cab", "%b+a%w", None, None),  # %b+ spins at the start tried (a), but %b fails there
    # loops regexpr.c never backs into, when nothing after them can begin with their first
    # character (zero-width %<, %>, %b, %B are not looked at)
    ("c-cB", "^[^a]+%<", 1, None),
    ("c-cB", "^[^a]+%>", 1, (1, 4)),
    ("c-c", "^[^a]+%>", 1, (1, 3)),
    ("ab ", "[a-z]*%>", None, (1, 2)),
    ("abc", "a*ab", None, (1, 2)),  # a may follow: backs in as usual
    ("xaaab", "%(a%)*b", None, (2, 5, [4, 4])),
    # patterns LambdaMOO cannot compile
    ("a", "*", None, E.E_INVARG),
    ("a", "*a", None, E.E_INVARG),
    ("a", "+a", None, E.E_INVARG),
    ("a", "?", None, E.E_INVARG),
    ("a", "%(*a%)", None, E.E_INVARG),
    ("a", "a%|*b", None, E.E_INVARG),
    ("a", "^^", None, E.E_INVARG),
    ("a", "a^", None, E.E_INVARG),
    ("a^b", "a^b", None, E.E_INVARG),
    ("a", "$a", None, E.E_INVARG),
    ("a", "a$b", None, E.E_INVARG),
    ("a", "a$$", None, E.E_INVARG),
    ("a", "[abc", None, E.E_INVARG),
    ("a", "[", None, E.E_INVARG),
    ("a", "[]", None, E.E_INVARG),
    ("a", "[^]", None, E.E_INVARG),
    ("a", "%", None, E.E_INVARG),
    ("a", "abc%", None, E.E_INVARG),
    ("a", "%(", None, E.E_INVARG),
    ("a", "%(a", None, E.E_INVARG),
    ("a", "%)", None, E.E_INVARG),
    ("a", "a%)", None, E.E_INVARG),
    ("a", "%(a%)%)", None, E.E_INVARG),
    ("a", "%(%(a%)", None, E.E_INVARG),
    ("a", "*", 1, E.E_INVARG),
]


def _expected(subject: str, row: Any) -> Any:
    if row is None:
        return []
    if isinstance(row, Err):
        return row
    start, end, *groups = row
    return result(subject, start, end, *groups)


@pytest.mark.parametrize(("subject", "pattern", "flag", "expected"), MATCH)
def test_match(subject: str, pattern: str, flag: Any, expected: Any) -> None:
    args = (subject, pattern) if flag is None else (subject, pattern, flag)
    check("match", args, _expected(subject, expected))


RMATCH: list[tuple[str, str, Any, Any]] = [
    ("foobar", "o*b", None, (4, 4)),  # the Programmer's Manual
    ("abcabc", "b", None, (5, 5)),
    ("abcabc", "a%(b%)", None, (4, 5, [5, 5])),
    ("abcabc", "x", None, None),
    ("foo bar", "%w+", None, (7, 7)),  # the rightmost start, matched greedily from there
    ("FOO", "o", None, (3, 3)),
    ("FOO", "o", 1, None),
    ("abc", "", None, (4, 3)),
    ("abc", "b*", None, (4, 3)),
    ("abc", "^", None, (1, 0)),
    ("abc", "c$", None, (3, 3)),
    ("abc", "%bc", None, None),
    ("abc", "^a", None, (1, 1)),
    ("", "", None, (1, 0)),
    ("", "$", None, (1, 0)),
    # LambdaMOO's fastmap never tries the end of a non-empty subject for a pattern that can
    # match the empty string only through $
    ("abc", "$", None, None),
    ("abc", "a*$", None, None),
    ("aaa", "a*$", None, (3, 3)),
    ("abcb", "b*$", None, (4, 4)),
    ("abc", "%(%)$", None, None),
    ("abc", "%(%)", None, (4, 3, [4, 3])),
    ("", "%b*[a-c]", None, None),  # an empty subject is searched forwards: nothing starts
    ("abc", "%<+", None, E.E_QUOTA),  # from the end: %< holds before c? no; before a: spins
    ("A_B_", "%<+", None, E.E_QUOTA),
    ("a", "*", None, E.E_INVARG),
    ("a", "%(", None, E.E_INVARG),
]


@pytest.mark.parametrize(("subject", "pattern", "flag", "expected"), RMATCH)
def test_rmatch(subject: str, pattern: str, flag: Any, expected: Any) -> None:
    args = (subject, pattern) if flag is None else (subject, pattern, flag)
    check("rmatch", args, _expected(subject, expected))


@pytest.mark.parametrize("name", ["match", "rmatch"])
@pytest.mark.parametrize("args", [(1, "a"), ("a", 1), (["a"], "a"), ("a", ["a"], 1)])
def test_match_types(name: str, args: tuple[Any, ...]) -> None:
    check(name, args, E.E_TYPE)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("match", "value is key (key=value)"),
        ("rmatch", "thing is r (r=thing)"),  # the rightmost start: "r=thing"
    ],
)
def test_result_feeds_substitute(name: str, expected: str) -> None:
    subs = run(name, "key=value; other=thing", "%(%w+%)=%(%w+%)")
    check("substitute", ("%2 is %1 (%0)", subs), expected)


def test_long_subject() -> None:
    subject = "ab" * 5000 + "c"
    check("match", (subject, "c$"), result(subject, 10001, 10001))
    check("rmatch", (subject, "%(ab%)+"), result(subject, 9999, 10000, [9999, 10000]))


def test_patterns_are_cached_per_case_flag() -> None:
    check("match", ("ABC", "abc"), result("ABC", 1, 3))
    check("match", ("ABC", "abc", 1), [])
    check("match", ("ABC", "abc"), result("ABC", 1, 3))


def test_nesting_limits_of_lambdamoo() -> None:
    deep = "%(" * 99 + "a" + "%)" * 99
    assert run("match", "a", deep)[:2] == [1, 1]
    check("match", ("a", "%(" * 100 + "a" + "%)" * 100), E.E_INVARG)
    many = "%|".join(["x"] * 101)  # 100 alternatives waiting at once
    assert run("match", "x", many)[:2] == [1, 1]
    check("match", ("x", many + "%|x"), E.E_INVARG)
    nested = "%(" + "%|".join(["x"] * 61) + "%)" + "%|" + "%|".join(["y"] * 61)
    assert run("match", "y", nested)[:2] == [1, 1]  # a closed group's %| no longer count


def test_runaway_match_is_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moo_match, "MATCH_SECONDS", 0.05)
    subject = "a" * 5000 + "c"
    check("match", (subject, "%(a+%)+b"), E.E_QUOTA)
    check("rmatch", (subject, "%(a+%)+b"), E.E_QUOTA)


def test_rmatch_of_a_long_subject_without_a_match_is_quick() -> None:
    check("rmatch", ("x" * 200_000, "y"), [])
    subject = "x" * 200_000 + "y"
    check("rmatch", (subject, "x"), result(subject, 200_000, 200_000))

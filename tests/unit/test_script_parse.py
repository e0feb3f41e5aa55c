"""Transcript parsing and variable binding (``moo.transcript``): pure, no sockets."""

from __future__ import annotations

import pytest

from moo.cli.script import Failure
from moo.transcript import (
    Close,
    Connect,
    Expect,
    ExpectClose,
    Forbid,
    ScriptError,
    Send,
    Wait,
    bind,
    parse_transcript,
    substitute,
)


def parse(text: str) -> list[object]:
    return list(parse_transcript(text, "t.moot"))


def error_of(text: str) -> ScriptError:
    with pytest.raises(ScriptError) as caught:
        parse_transcript(text, "t.moot")
    return caught.value


# --- every directive and line kind ------------------------------------------------------


def test_comments_and_blank_lines_are_ignored() -> None:
    assert parse("# a comment\n\n   # indented comment\n\t\n") == []


def test_first_line_may_omit_connect_and_uses_main() -> None:
    assert parse("> look\n< The First Room\n") == [
        Connect(1, "main"),
        Send(1, "main", "look"),
        Expect(2, "main", "exact", "The First Room"),
    ]


def test_expectation_kinds() -> None:
    steps = parse('< You say, "hi"\n~ ^Exits: .*north\n? says, "hi"\n! Traceback\n')
    assert steps[1:] == [
        Expect(1, "main", "exact", 'You say, "hi"'),
        Expect(2, "main", "regex", "^Exits: .*north"),
        Expect(3, "main", "contains", 'says, "hi"'),
        Forbid(4, "main", "Traceback"),
    ]


def test_text_is_kept_exactly_after_the_one_space() -> None:
    steps = parse("<   brass lantern\n> @go #12\n>\n<\n> say hi # not a comment\n")
    assert steps[1:] == [
        Expect(1, "main", "exact", "  brass lantern"),
        Send(2, "main", "@go #12"),
        Send(3, "main", ""),
        Expect(4, "main", "exact", ""),
        Send(5, "main", "say hi # not a comment"),
    ]


def test_connect_switches_and_stamps_each_step() -> None:
    text = '@connect alice\n> say hi\n@connect bob\n< Alice says, "hi"\n@connect alice\n> :waves\n'
    assert parse(text) == [
        Connect(1, "alice"),
        Send(2, "alice", "say hi"),
        Connect(3, "bob"),
        Expect(4, "bob", "exact", 'Alice says, "hi"'),
        Connect(5, "alice"),
        Send(6, "alice", ":waves"),
    ]


def test_timeout_applies_from_there_on() -> None:
    text = "< a\n@timeout 3   # seconds\n< b\n@timeout 0.5\n? c\n@expect-close\n"
    assert parse(text)[1:] == [
        Expect(1, "main", "exact", "a", None),
        Expect(3, "main", "exact", "b", 3.0),
        Expect(5, "main", "contains", "c", 0.5),
        ExpectClose(6, "main", 0.5),
    ]


def test_wait_close_and_reconnect() -> None:
    text = "@connect a\n@wait 0.2\n@close\n@connect a\n> quit\n@expect-close\n"
    assert parse(text) == [
        Connect(1, "a"),
        Wait(2, 0.2),
        Close(3, "a"),
        Connect(4, "a"),
        Send(5, "a", "quit"),
        ExpectClose(6, "a", None),
    ]


def test_indentation_is_ignored() -> None:
    assert parse("  @connect x\n    > look\n") == [Connect(1, "x"), Send(2, "x", "look")]


def test_crlf_line_endings() -> None:
    assert parse("> look\r\n< here\r\n")[1:] == [
        Send(1, "main", "look"),
        Expect(2, "main", "exact", "here"),
    ]


def test_exact_ignores_trailing_spaces_regex_searches_contains_finds() -> None:
    assert Expect(1, "m", "exact", "Exits: north.").matches("Exits: north.   ")
    assert Expect(1, "m", "exact", "Exits: north.  ").matches("Exits: north.")
    assert not Expect(1, "m", "exact", "Exits: north.").matches(" Exits: north.")
    assert Expect(1, "m", "regex", r"north\.$").matches("Exits: north.")
    assert not Expect(1, "m", "regex", r"^north").matches("Exits: north.")
    assert Expect(1, "m", "contains", "says,").matches('Alice says, "hi"')


# --- malformed lines: file:line and the reason -------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("@connect a\n@frobnicate\n", 2, "unknown directive '@frobnicate'"),
        ("# ok\nlook\n", 2, "a line must start with #, >, <, ~, ?, ! or @"),
        (">look\n", 1, "put a space between '>' and the text"),
        ("< ok\n~ (unclosed\n", 2, "bad regular expression"),
        ("?\n", 1, "'?' needs some text after it"),
        ("! \n", 1, "'!' needs some text after it"),
        ("~\n", 1, "'~' needs some text after it"),
        ("@connect\n", 1, "@connect needs a name"),
        ("@connect two words\n", 1, "@connect needs a name"),
        ("@timeout soon\n", 1, "@timeout needs a number of seconds above 0"),
        ("@timeout 0\n", 1, "@timeout needs a number of seconds above 0"),
        ("@timeout -1\n", 1, "@timeout needs a number of seconds above 0"),
        ("@wait\n", 1, "@wait needs a number of seconds"),
        ("@wait nan\n", 1, "@wait needs a number of seconds"),
        ("@close\n", 1, "@close: no connection is open here"),
        ("> hi\n@close now\n", 2, "@close takes no argument"),
        ("> quit\n@expect-close\n> look\n", 3, "no connection is open here (use @connect)"),
        ("@connect a\n@close\n@close\n", 3, "@close: no connection is open here"),
        ("> say ${NOT VALID}\n", 1, "bad variable name in '${NOT VALID}'"),
    ],
)
def test_malformed_lines_name_file_line_and_reason(text: str, line: int, reason: str) -> None:
    error = error_of(text)
    assert (error.filename, error.line) == ("t.moot", line)
    assert reason in error.reason
    assert str(error).startswith(f"t.moot:{line}: ")


def test_the_default_filename() -> None:
    with pytest.raises(ScriptError, match=r"^<transcript>:1: "):
        parse_transcript("bogus\n")


# --- variables ---------------------------------------------------------------------------


def test_substitute_replaces_names_and_keeps_escaped_dollars() -> None:
    variables = {"PW": "s3cret", "NAME": "Alice"}
    assert substitute("connect ${NAME} ${PW}", variables) == "connect Alice s3cret"
    assert substitute("costs $5 and $${PW}", variables) == "costs $5 and ${PW}"


def test_substitute_escapes_values_in_regexes() -> None:
    assert substitute(r"^${NAME} waves$", {"NAME": "a.b*"}, regex=True) == r"^a\.b\* waves$"


def test_substitute_raises_keyerror_for_an_unknown_name() -> None:
    with pytest.raises(KeyError):
        substitute("${MISSING}", {})


def test_bind_substitutes_sends_expectations_and_forbids_only() -> None:
    steps = parse_transcript(
        '@connect w\n> connect Wizard ${PW}\n< ${WHO} says, "hi"\n~ ^${WHO} waves$\n! ${PW}\n'
        "@wait 1\n"
    )
    assert bind(steps, {"PW": "pw", "WHO": "A.B"}) == [
        Connect(1, "w"),
        Send(2, "w", "connect Wizard pw"),
        Expect(3, "w", "exact", 'A.B says, "hi"'),
        Expect(4, "w", "regex", r"^A\.B waves$"),
        Forbid(5, "w", "pw"),
        Wait(6, 1.0),
    ]


def test_bind_names_the_line_of_an_unknown_variable() -> None:
    steps = parse_transcript("> look\n> connect Wizard ${WIZARD_PASSWORD}\n", "w.moot")
    with pytest.raises(ScriptError) as caught:
        bind(steps, {}, "w.moot")
    assert str(caught.value).startswith("w.moot:2: unknown variable ${WIZARD_PASSWORD}")
    assert "--var WIZARD_PASSWORD=" in str(caught.value)


def test_variables_in_regex_lines_are_checked_at_parse_time() -> None:
    assert parse("~ ^${NAME}+ arrives$\n")[1] == Expect(1, "main", "regex", "^${NAME}+ arrives$")


# --- the failure report ------------------------------------------------------------------


def test_failure_report_lists_received_lines() -> None:
    failure = Failure(
        7, "bob", "expected a line equal to: hi\n  but 3s passed", ["a", ""], "line 4"
    )
    assert failure.report("x.moot").splitlines() == [
        "x.moot:7: FAILED on connection 'bob'",
        "  expected a line equal to: hi",
        "  but 3s passed",
        "  2 line(s) received on 'bob' since line 4:",
        "  | a",
        "  | ",
    ]


def test_failure_report_with_nothing_received() -> None:
    report = Failure(2, "main", "expected x", [], "it opened").report("x.moot")
    assert report.splitlines()[-1] == "  nothing was received on 'main' since it opened"

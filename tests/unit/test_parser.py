"""The command parser: LambdaMOO's rules for verb, words, prepositions and shortcuts."""

from __future__ import annotations

import pytest

from moo.commands.parser import (
    PREPOSITIONS,
    Command,
    canonical_prep,
    parse,
    prep_group,
    words,
)

MEMBERS = [(member, "/".join(group)) for group in PREPOSITIONS for member in group]


def test_preposition_table_is_lambdamoos() -> None:
    assert ["/".join(group) for group in PREPOSITIONS] == [
        "with/using",
        "at/to",
        "in front of",
        "in/inside/into",
        "on top of/on/onto/upon",
        "out of/from inside/from",
        "over",
        "through",
        "under/underneath/beneath",
        "behind",
        "beside",
        "for/about",
        "is",
        "as",
        "off/off of",
    ]


# --- empty lines, verb, dobj ---------------------------------------------------------------


@pytest.mark.parametrize("line", ["", "   ", "\t "])
def test_empty_line(line: str) -> None:
    assert parse(line) == Command("", "", "", (), "", "", None, "")


def test_verb_only() -> None:
    assert parse("  look  ") == Command("look", "look", "", (), "", "", None, "")


def test_verb_and_dobj() -> None:
    cmd = parse("get   red  ball")
    assert cmd.verb == "get"
    assert cmd.args == ("red", "ball")
    assert cmd.argstr == "red  ball"
    assert cmd.dobjstr == "red ball"
    assert (cmd.prepstr, cmd.prep, cmd.iobjstr) == ("", None, "")


def test_text_is_the_stripped_original() -> None:
    assert parse('  "hello  ').text == '"hello'
    assert parse("  get ball \t").text == "get ball"


def test_verb_keeps_its_case() -> None:
    assert parse("LOOK").verb == "LOOK"


# --- prepositions ----------------------------------------------------------------------------


@pytest.mark.parametrize(("member", "group"), MEMBERS)
def test_every_preposition_member(member: str, group: str) -> None:
    cmd = parse(f"put red ball {member} big box")
    assert cmd.dobjstr == "red ball"
    assert cmd.prepstr == member
    assert cmd.prep == group
    assert cmd.iobjstr == "big box"


@pytest.mark.parametrize(("member", "group"), MEMBERS)
def test_prepositions_ignore_case_and_keep_the_typed_text(member: str, group: str) -> None:
    typed = member.upper() if len(member) % 2 else member.title()
    cmd = parse(f"PUT Ball {typed} Box")
    assert (cmd.dobjstr, cmd.prepstr, cmd.prep, cmd.iobjstr) == ("Ball", typed, group, "Box")


@pytest.mark.parametrize(("member", "group"), MEMBERS)
def test_prep_group_knows_every_member(member: str, group: str) -> None:
    assert prep_group(member) == group
    assert prep_group(member.upper()) == group
    assert prep_group(f"  {'   '.join(member.split())} ") == group


@pytest.mark.parametrize(
    ("line", "dobjstr", "prepstr", "prep", "iobjstr"),
    [
        ("stand in front of mirror", "", "in front of", "in front of", "mirror"),
        ("put vase on top of shelf", "vase", "on top of", "on top of/on/onto/upon", "shelf"),
        ("take coin out of purse", "coin", "out of", "out of/from inside/from", "purse"),
        ("take coin from inside purse", "coin", "from inside", "out of/from inside/from", "purse"),
        ("take coin from purse", "coin", "from", "out of/from inside/from", "purse"),
        ("take book off of shelf", "book", "off of", "off/off of", "shelf"),
        ("take book off shelf", "book", "off", "off/off of", "shelf"),
    ],
)
def test_multi_word_prepositions(
    line: str, dobjstr: str, prepstr: str, prep: str, iobjstr: str
) -> None:
    cmd = parse(line)
    assert (cmd.dobjstr, cmd.prepstr, cmd.prep, cmd.iobjstr) == (dobjstr, prepstr, prep, iobjstr)


def test_multi_word_preposition_with_extra_spaces_joins_single_spaced() -> None:
    cmd = parse("put vase   In   Front   of  mirror")
    assert (cmd.prepstr, cmd.prep, cmd.iobjstr) == ("In Front of", "in front of", "mirror")


@pytest.mark.parametrize(
    ("line", "prepstr", "iobjstr"),
    [
        ("put ball in front box", "in", "front box"),  # "in front of" incomplete: "in" wins
        ("put ball on top shelf", "on", "top shelf"),
        ("put ball in front", "in", "front"),
    ],
)
def test_incomplete_multi_word_preposition_falls_back_to_a_shorter_one(
    line: str, prepstr: str, iobjstr: str
) -> None:
    cmd = parse(line)
    assert (cmd.dobjstr, cmd.prepstr, cmd.iobjstr) == ("ball", prepstr, iobjstr)


def test_out_alone_is_no_preposition() -> None:
    cmd = parse("get ball out box")
    assert (cmd.dobjstr, cmd.prep) == ("ball out box", None)


def test_first_preposition_wins() -> None:
    cmd = parse("put ball in box with tongs")
    assert cmd.dobjstr == "ball"
    assert cmd.prep == "in/inside/into"
    assert cmd.iobjstr == "box with tongs"


def test_preposition_right_after_the_verb_leaves_dobj_empty() -> None:
    cmd = parse("look at the fountain")
    assert (cmd.dobjstr, cmd.prepstr, cmd.prep, cmd.iobjstr) == (
        "",
        "at",
        "at/to",
        "the fountain",
    )


def test_preposition_as_last_word_leaves_iobj_empty() -> None:
    cmd = parse("put ball in")
    assert (cmd.dobjstr, cmd.prep, cmd.iobjstr) == ("ball", "in/inside/into", "")


def test_the_verb_word_is_never_a_preposition() -> None:
    cmd = parse("in box")
    assert (cmd.verb, cmd.dobjstr, cmd.prep) == ("in", "box", None)


def test_prep_group_rejects_non_prepositions() -> None:
    for text in ("", "out", "front", "in front", "with/using", "into box"):
        assert prep_group(text) is None


# --- canonical_prep --------------------------------------------------------------------------


@pytest.mark.parametrize(("member", "group"), MEMBERS)
def test_canonical_prep_reads_every_member(member: str, group: str) -> None:
    assert canonical_prep(member) == group
    assert canonical_prep(member.upper()) == group


@pytest.mark.parametrize("group", ["/".join(g) for g in PREPOSITIONS])
def test_canonical_prep_reads_group_names(group: str) -> None:
    assert canonical_prep(group) == group
    assert canonical_prep(group.upper()) == group


def test_canonical_prep_any_and_none() -> None:
    assert canonical_prep("any") == "any"
    assert canonical_prep(" ANY ") == "any"
    assert canonical_prep("none") == "none"
    assert canonical_prep("None") == "none"


def test_canonical_prep_reads_a_slashed_spec_by_its_first_part() -> None:
    assert canonical_prep("on/whatever") == "on top of/on/onto/upon"
    assert canonical_prep("in  front of / x") == "in front of"


def test_canonical_prep_reads_a_number_as_lambdamoo_numbers_them() -> None:
    assert canonical_prep("0") == "with/using"
    assert canonical_prep("#3") == "in/inside/into"
    assert canonical_prep("14") == "off/off of"
    assert canonical_prep("15") is None  # past the table: refused, as set_verb_args refuses it
    assert canonical_prep("-1") is None and canonical_prep("3 ") is None
    assert canonical_prep("9" * 5000) is None  # no 5000-digit int() (a Python error)
    assert canonical_prep("\u0663") is None  # an Arabic-Indic 3 is no LambdaMOO number


@pytest.mark.parametrize("spec", ["", "nothing", "out", "/with", "anything"])
def test_canonical_prep_rejects_non_prepositions(spec: str) -> None:
    assert canonical_prep(spec) is None


# --- quoting and escapes ---------------------------------------------------------------------


def test_double_quotes_group_words() -> None:
    cmd = parse('name "box with lid" as crate')
    assert cmd.args == ("box with lid", "as", "crate")
    assert (cmd.dobjstr, cmd.prep, cmd.iobjstr) == ("box with lid", "as", "crate")


def test_quoted_phrase_is_not_a_multi_word_preposition() -> None:
    cmd = parse('put ball "in front of" box')
    assert cmd.args == ("ball", "in front of", "box")
    assert cmd.prep is None


def test_quote_may_open_and_close_inside_a_word() -> None:
    assert parse('say foo"bar baz"qux end').args == ("foobar bazqux", "end")


def test_unclosed_quote_runs_to_the_end_of_the_line() -> None:
    assert parse('say "hello   there').args == ("hello   there",)


def test_empty_quotes_make_an_empty_word() -> None:
    assert parse('say "" x').args == ("", "x")


def test_backslash_escapes_the_next_character() -> None:
    assert parse(r"get big\ ball").args == ("big ball",)
    assert parse(r"say a\"b").args == ('a"b',)
    assert parse(r"say a\\b").args == ("a\\b",)
    assert parse(r'say "a \" b"').args == ('a " b',)


def test_trailing_backslash_is_dropped() -> None:
    assert parse("say ab\\").args == ("ab",)


def test_argstr_keeps_the_raw_text_after_the_verb() -> None:
    cmd = parse('say   "hi   there"  \\o/')
    assert cmd.argstr == '"hi   there"  \\o/'
    assert cmd.args == ("hi   there", "o/")


def test_quoted_verb_word_ends_where_its_quote_closes() -> None:
    cmd = parse('x"y z" rest')
    assert (cmd.verb, cmd.argstr, cmd.args) == ("xy z", "rest", ("rest",))


def test_tabs_separate_words() -> None:
    cmd = parse("get\tred\tball")
    assert (cmd.verb, cmd.args) == ("get", ("red", "ball"))


# --- shortcuts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "verb", "argstr"),
    [
        ('"hello', "say", "hello"),
        ('" hello  world', "say", "hello  world"),
        ('"', "say", ""),
        (":waves", "emote", "waves"),
        ("  :waves happily", "emote", "waves happily"),
        (";1 + 1", "eval", "1 + 1"),
        (';player.name = "x"', "eval", 'player.name = "x"'),
    ],
)
def test_shortcuts(line: str, verb: str, argstr: str) -> None:
    cmd = parse(line)
    assert (cmd.verb, cmd.argstr) == (verb, argstr)
    assert cmd.text == line.strip()


def test_shortcut_rest_is_parsed_like_any_line() -> None:
    cmd = parse('"hello to "the world"')
    assert cmd.verb == "say"
    assert cmd.args == ("hello", "to", "the world")
    assert (cmd.dobjstr, cmd.prep, cmd.iobjstr) == ("hello", "at/to", "the world")


def test_shortcut_characters_later_in_the_line_are_plain() -> None:
    cmd = parse("look :at;me")
    assert (cmd.verb, cmd.args) == ("look", (":at;me",))


def test_the_plain_line_splitter_agrees_with_the_quoting_one() -> None:
    """Lines without quotes or backslashes take a regex split; it must give what the
    character-by-character reader gives, whitespace of every kind included."""
    import random

    from moo.commands.parser import _split_quoted, _split_words

    rng = random.Random(7)
    alphabet = ["a", "B", "é", "☃", "1", ".", " ", "  ", "\t", "\u00a0", "\u2003", "\x0b", "\r"]
    for _ in range(2000):
        line = "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
        assert _split_words(line) == _split_quoted(line), repr(line)


def test_a_parsed_line_is_reused_and_long_lines_are_not_kept() -> None:
    from moo.commands.parser import CACHED_LINE_LENGTH, parse

    assert parse("get the lamp") is parse("get the lamp")
    long_line = "say " + "x" * CACHED_LINE_LENGTH
    assert parse(long_line) == parse(long_line)
    assert parse(long_line) is not parse(long_line)


def test_words_are_the_lines_words_with_no_shortcut_rewritten() -> None:
    assert words('#$#mcp-negotiate-can 3f2a package: "dns org"') == (
        "#$#mcp-negotiate-can",
        "3f2a",
        "package:",
        "dns org",
    )
    assert words(':waves  a\\"b') == (":waves", 'a"b')  # no "emote": the words as typed
    assert words("   ") == ()

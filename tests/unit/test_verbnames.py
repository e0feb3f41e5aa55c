"""MOO verb-name matching: one ``*`` per name marks where the optional part starts."""

from __future__ import annotations

import pytest

from moo.world.verbnames import verbname_matches


@pytest.mark.parametrize("word", ["l", "lo", "loo", "look"])
def test_star_inside_a_name_accepts_every_abbreviation(word: str) -> None:
    assert verbname_matches("l*ook", word)


@pytest.mark.parametrize("word", ["looks", "x", "", "lok", "ook", "llook", "lx"])
def test_star_inside_a_name_refuses_other_words(word: str) -> None:
    assert not verbname_matches("l*ook", word)


@pytest.mark.parametrize("word", ["@desc", "@descr", "@describe"])
def test_star_after_a_longer_prefix(word: str) -> None:
    assert verbname_matches("@desc*ribe", word)


@pytest.mark.parametrize("word", ["@des", "@d", "@describes", "desc"])
def test_required_prefix_must_be_complete(word: str) -> None:
    assert not verbname_matches("@desc*ribe", word)


@pytest.mark.parametrize("word", ["foo", "foobar", "foo*", "FOOx"])
def test_trailing_star_matches_the_prefix_followed_by_anything(word: str) -> None:
    assert verbname_matches("foo*", word)


@pytest.mark.parametrize("word", ["fo", "f", "", "bar", "xfoo"])
def test_trailing_star_still_requires_the_prefix(word: str) -> None:
    assert not verbname_matches("foo*", word)


@pytest.mark.parametrize("word", ["", "a", "look", "@anything-at-all", "*"])
def test_lone_star_matches_every_word(word: str) -> None:
    assert verbname_matches("*", word)


def test_plain_name_matches_only_itself() -> None:
    assert verbname_matches("give", "give")
    assert not verbname_matches("give", "giv")
    assert not verbname_matches("give", "gives")
    assert not verbname_matches("give", "")


def test_any_of_several_names_matches() -> None:
    names = "g*et t*ake"
    for word in ["g", "ge", "get", "t", "ta", "tak", "take"]:
        assert verbname_matches(names, word), word
    for word in ["gets", "takes", "x", "gt"]:
        assert not verbname_matches(names, word), word


def test_several_plain_names() -> None:
    assert verbname_matches("@recycle @destroy", "@destroy")
    assert verbname_matches("@recycle @destroy", "@recycle")
    assert not verbname_matches("@recycle @destroy", "@recyc")


def test_extra_whitespace_between_names_is_ignored() -> None:
    assert verbname_matches("  help   ? ", "?")
    assert verbname_matches("  help   ? ", "help")
    assert not verbname_matches("  help   ? ", "")


@pytest.mark.parametrize(
    ("names", "word"),
    [("l*ook", "LOOK"), ("L*OOK", "lo"), ("Foo*", "fOObar"), ("GIVE", "give"), ("give", "GiVe")],
)
def test_matching_ignores_case(names: str, word: str) -> None:
    assert verbname_matches(names, word)


def test_empty_names_match_nothing() -> None:
    assert not verbname_matches("", "")
    assert not verbname_matches("", "look")

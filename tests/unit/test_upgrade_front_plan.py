"""Choosing how an engine's replacement takes over behind a front, and what the wizard is
told: the front keeps every socket, so only the world's formats matter and no message
speaks of levels or sessions carried."""

from __future__ import annotations

import pytest

from moo.errors import ProtocolError
from moo.upgrade import protocol
from tests.unit.test_upgrade_units import hello


@pytest.mark.parametrize(
    "reads",
    [
        {"session_state": [7]},  # alone: a single-process server's level 2
        {"telnet_state": [7]},
        {"gate": [1]},  # alone: level 3
    ],
)
def test_behind_a_front_versions_of_what_the_front_holds_do_not_matter(
    reads: dict[str, list[int]],
) -> None:
    found = hello(reads={**protocol.reads(), **reads})
    assert protocol.choose_level(found, behind_front=True).level == 1
    assert protocol.choose_level(found).level > 1  # without a front they still do


def test_behind_a_front_the_world_formats_still_refuse_a_replacement() -> None:
    found = hello(reads={**protocol.reads(), "journal": [9]})
    with pytest.raises(ProtocolError, match="journal format"):
        protocol.choose_level(found, behind_front=True)


def test_behind_a_front_a_restart_only_replacement_starts_cold_and_is_told_so() -> None:
    plan = protocol.choose_level(hello(accepts=["restart"]), behind_front=True)
    assert plan.level == 3
    note = protocol.front_plan_note(plan, 5)
    assert "starts" in note and "the 5 connection(s) wait on the front" in note
    assert "level" not in note


def test_the_messages_behind_a_front_say_who_stayed_and_how_long_the_world_froze() -> None:
    plan = protocol.choose_level(hello(), behind_front=True)
    note = protocol.front_plan_note(plan, 3)
    assert note == "it takes the world over at the freeze; the 3 connection(s) stay on the front"
    done = protocol.front_summary("1.2", 42, 3, 7.25)
    assert done == (
        "Upgrade done: version 1.2 (pid 42) now runs the world behind the front; the world "
        "was frozen 7.2 ms, and the 3 connection(s) on the front stayed connected throughout."
    )
    single = protocol.summary("1.2", 42, 1, 3, 7.25)  # the single-process wording is kept
    assert single == (
        "Upgrade done: version 1.2 (pid 42) now serves; level 1, 3 session(s) carried, "
        "frozen 7.2 ms."
    )

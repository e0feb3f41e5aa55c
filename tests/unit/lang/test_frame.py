"""``Frame``: the names compiled code and builtins read are the fields a frame was made
with, kept in its two shared tuples (``context`` and ``entry``), and a called frame takes
its caller's player and command words."""

from __future__ import annotations

from moo.lang.builtins import BUILTINS
from moo.lang.codegen import python_source
from moo.lang.parser import parse
from moo.lang.task_api import FRAME_READS, FRAME_VARIABLES, Frame
from moo.world.values import ObjRef


def command_frame() -> Frame:
    return Frame.make(
        this=ObjRef(5),
        player=ObjRef(2),
        caller=ObjRef(2),
        verb="look",
        args=["at", "me"],
        programmer=3,
        definer=4,
        verb_names="l*ook",
        argstr="at me",
        dobj=ObjRef(7),
        dobjstr="me",
        prepstr="at",
        iobj=ObjRef(8),
        iobjstr="box",
    )


def test_a_made_frame_gives_back_every_field() -> None:
    frame = command_frame()
    assert (frame.this, frame.player, frame.caller, frame.verb) == (
        ObjRef(5),
        ObjRef(2),
        ObjRef(2),
        "look",
    )
    assert (frame.args, frame.programmer, frame.definer, frame.verb_names, frame.line) == (
        ["at", "me"],
        3,
        4,
        "l*ook",
        0,
    )
    assert frame.command == ("at me", ObjRef(7), "me", "at", ObjRef(8), "box")
    words = (frame.argstr, frame.dobj, frame.dobjstr, frame.prepstr, frame.iobj, frame.iobjstr)
    assert words == frame.command


def test_a_called_frame_has_its_callers_player_and_words_and_its_own_verb() -> None:
    caller = command_frame()
    frame = caller.call(ObjRef(9), "tell", [1], 6, 1, "tell notify")
    assert (frame.this, frame.caller, frame.player) == (ObjRef(9), ObjRef(5), ObjRef(2))
    assert (frame.verb, frame.programmer, frame.definer, frame.verb_names) == (
        "tell",
        6,
        1,
        "tell notify",
    )
    assert frame.command == caller.command


def test_compiled_code_reads_each_variable_as_the_frame_names_it() -> None:
    frame = command_frame()
    assert set(FRAME_READS) == set(FRAME_VARIABLES)
    for name, text in FRAME_READS.items():
        assert eval(text, {"frame": frame}) == getattr(frame, name), name
    source = python_source(
        parse("return {player, verb, dobjstr};", BUILTINS.__contains__), BUILTINS
    )
    assert "v_player = frame.context[0]" in source
    assert "v_verb = frame.entry[2]" in source

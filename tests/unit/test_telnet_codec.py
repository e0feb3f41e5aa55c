"""Unit tests for the telnet codec: feed bytes, compare events and the bytes it wants sent."""

from __future__ import annotations

import json
import random
import zlib

import pytest

from moo.net.events import (
    Event,
    GmcpReceived,
    LineReceived,
    LineTooLong,
    MsspRequested,
    TerminalType,
    WindowSize,
)
from moo.net.telnet_codec import MAX_PENDING_OUTPUT, MAX_SUBNEGOTIATION, TelnetCodec

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
NOP, AYT, EC, EL = 241, 246, 247, 248
ECHO, SGA, TTYPE, NAWS = 1, 3, 24, 31
MSSP, GMCP, MCCP2 = 70, 201, 86
MCCP2_START = bytes((IAC, SB, MCCP2, IAC, SE))


def cmd(verb: int, opt: int) -> bytes:
    return bytes((IAC, verb, opt))


def naws(cols: int, rows: int) -> bytes:
    body = bytes((cols >> 8, cols & 0xFF, rows >> 8, rows & 0xFF)).replace(b"\xff", b"\xff\xff")
    return bytes((IAC, SB, NAWS)) + body + bytes((IAC, SE))


def ttype_is(name: bytes) -> bytes:
    return bytes((IAC, SB, TTYPE, 0)) + name + bytes((IAC, SE))


TTYPE_SEND = bytes((IAC, SB, TTYPE, 1, IAC, SE))


def lines(*texts: str) -> list[Event]:
    return [LineReceived(t) for t in texts]


def feed_chunks(codec: TelnetCodec, chunks: list[bytes]) -> list[Event]:
    events: list[Event] = []
    for chunk in chunks:
        events += codec.feed(chunk)
    return events


def state_size(codec: TelnetCodec) -> int:
    return len(json.dumps(codec.get_state()))


# A byte sequence that exercises every parser position: lines with each ending, IAC IAC in
# data, negotiation, NAWS with escaped 255s, TTYPE, an interrupted SB, BS/DEL, AYT, CR at the end.
TRICKY = (
    b"hello\r\n"
    + cmd(WILL, NAWS)
    + b"caf\xc3\xa9\r\x00"
    + naws(511, 65535)
    + b"a\xff\xffb\n"
    + cmd(WILL, TTYPE)
    + ttype_is(b"xterm-256color")
    + b"hel\x7flo\x08p\r"
    + bytes((IAC, SB, NAWS, 1, 2))
    + cmd(DO, 99)
    + b"bare\rnext\n"
    + bytes((IAC, AYT))
    + cmd(DO, ECHO)
    + cmd(DONT, SGA)
    + b"x" * 40
    + b"\r\nend\r"
)


# -- lines ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", [b"\r\n", b"\r\x00", b"\n", b"\r"])
def test_each_line_ending(ending: bytes) -> None:
    codec = TelnetCodec()
    assert codec.feed(b"look" + ending + b"say hi" + ending) == lines("look", "say hi")
    assert codec.take_output() == b""


def test_bare_cr_ends_line_and_next_byte_starts_next_line() -> None:
    codec = TelnetCodec()
    assert codec.feed(b"a\rb\rc\n") == lines("a", "b", "c")


def test_cr_is_reported_at_once_and_its_lf_swallowed_in_the_next_read() -> None:
    codec = TelnetCodec()
    assert codec.feed(b"look\r") == lines("look")
    assert codec.feed(b"\n") == []
    assert codec.feed(b"\x00next\r") == lines("next")
    assert codec.feed(b"\x00") == []


def test_empty_lines() -> None:
    codec = TelnetCodec()
    assert codec.feed(b"\r\n\n\r\r\n") == lines("", "", "", "")


def test_partial_line_waits_for_its_ending() -> None:
    codec = TelnetCodec()
    assert codec.feed(b"lo") == []
    assert codec.feed(b"ok") == []
    assert codec.feed(b"\r\n") == lines("look")


def test_line_split_at_every_byte_boundary() -> None:
    data = b"look\r\nsay \xc3\xa9t\xc3\xa9\r\x00get all\nput x\r\r\nlast\r\n"
    expected = TelnetCodec().feed(data)
    assert expected == lines("look", "say été", "get all", "put x", "", "last")
    for i in range(len(data) + 1):
        assert feed_chunks(TelnetCodec(), [data[:i], data[i:]]) == expected, i


def test_tricky_sequence_split_at_every_pair_of_boundaries() -> None:
    whole = TelnetCodec()
    whole.start()
    expected = whole.feed(TRICKY)
    expected_out = whole.take_output()
    for i in range(len(TRICKY) + 1):
        for j in range(i, len(TRICKY) + 1, 7):
            codec = TelnetCodec()
            codec.start()
            assert feed_chunks(codec, [TRICKY[:i], TRICKY[i:j], TRICKY[j:]]) == expected
            assert codec.take_output() == expected_out


def test_tricky_sequence_one_byte_at_a_time() -> None:
    whole = TelnetCodec()
    expected = whole.feed(TRICKY)
    codec = TelnetCodec()
    assert feed_chunks(codec, [TRICKY[i : i + 1] for i in range(len(TRICKY))]) == expected
    assert codec.take_output() == whole.take_output()
    assert codec.get_state() == whole.get_state()


def test_tricky_sequence_events() -> None:
    codec = TelnetCodec()
    codec.start()
    assert codec.feed(TRICKY) == [
        LineReceived("hello"),
        LineReceived("café"),
        WindowSize(511, 65535),
        LineReceived("a\ufffdb"),
        TerminalType("xterm-256color"),
        LineReceived("help"),
        LineReceived("bare"),
        LineReceived("next"),
        LineReceived("x" * 40),
        LineReceived("end"),
    ]
    # DO 99 refused, AYT answered, DO ECHO refused, DONT SGA settles our offer without a reply.
    assert codec.take_output() == TTYPE_SEND + cmd(WONT, 99) + b"[yes]\r\n" + cmd(WONT, ECHO)


def test_iac_iac_in_data_is_a_literal_ff_byte() -> None:
    codec = TelnetCodec()
    assert codec.feed(b"a\xff\xffb\n") == lines("a\ufffdb")
    assert codec.take_output() == b""
    codec.feed(b"x\xff")
    assert codec.feed(b"\xff") == []
    assert codec.get_state()["line"] == "x\xff"


def test_invalid_utf8_is_replaced() -> None:
    assert TelnetCodec().feed(b"\xc3(\x80ok\n") == lines("\ufffd(\ufffdok")


def test_control_characters_stripped_and_tab_becomes_space() -> None:
    codec = TelnetCodec()
    assert codec.feed(b"a\tb\x1b[Ac\x07\x00d\n") == lines("a b[Acd")
    assert codec.feed(b"e\x1b\tf\r\n") == lines("e f")


@pytest.mark.parametrize("erase", [b"\x08", b"\x7f", bytes((IAC, EC))])
def test_backspace_and_delete_edit_the_line(erase: bytes) -> None:
    codec = TelnetCodec()
    assert codec.feed(b"helo" + erase + b"lo\r\n") == lines("hello")
    assert codec.feed(b"caf\xc3\xa9" + erase + b"e\n") == lines("cafe")
    assert codec.feed(erase + erase + b"ok" + erase * 5 + b"no\n") == lines("no")
    assert codec.feed(b"\xe2\x82\xac\xf0\x9f\x98\x80" + erase + b"!\n") == lines("€!")


def test_erase_line_clears_the_current_line() -> None:
    codec = TelnetCodec()
    assert codec.feed(b"oops" + bytes((IAC, EL)) + b"look\n") == lines("look")


def test_ayt_is_answered_and_other_commands_ignored() -> None:
    codec = TelnetCodec()
    assert codec.feed(bytes((IAC, NOP, IAC, 249, IAC, SE, IAC, AYT)) + b"ok\n") == lines("ok")
    assert codec.take_output() == b"[yes]\r\n"


# -- long lines ----------------------------------------------------------------------------


def test_line_at_the_limit_is_kept() -> None:
    codec = TelnetCodec(max_line_bytes=8)
    assert codec.feed(b"12345678\n") == lines("12345678")
    assert codec.feed(b"1234") == []
    assert codec.feed(b"5678\r\n") == lines("12345678")


@pytest.mark.parametrize("ending", [b"\r\n", b"\n", b"\r"])
def test_overlong_line_reported_once_then_normal(ending: bytes) -> None:
    codec = TelnetCodec(max_line_bytes=16)
    assert codec.feed(b"x" * 100 + ending + b"ok" + ending) == [
        LineTooLong(100),
        LineReceived("ok"),
    ]
    assert codec.feed(b"y" * 10) == []
    assert codec.feed(b"y" * 10) == []
    assert codec.feed(b"y" * 10 + ending) == [LineTooLong(30)]
    assert codec.feed(b"fine" + ending) == lines("fine")


def test_overlong_line_split_at_every_boundary() -> None:
    data = b"short\r\n" + b"z" * 40 + b"\r\nafter\n"
    for i in range(len(data) + 1):
        codec = TelnetCodec(max_line_bytes=20)
        events = feed_chunks(codec, [data[:i], data[i:]])
        assert events == [LineReceived("short"), LineTooLong(40), LineReceived("after")], i


def test_overlong_line_keeps_no_bytes() -> None:
    codec = TelnetCodec(max_line_bytes=64)
    codec.feed(b"a" * 1000)
    state = codec.get_state()
    assert state["line"] == ""
    assert state["discarding"] is True
    assert codec.feed(b"\x08\x7fb\n") == [LineTooLong(1001)]
    assert codec.get_state()["discarding"] is False


def test_one_megabyte_line_in_4k_chunks() -> None:
    codec = TelnetCodec()
    chunk = b"m" * 4096
    baseline = state_size(codec)
    for _ in range(256):
        assert codec.feed(chunk) == []
        assert state_size(codec) < baseline + 4096 + 200
    assert codec.feed(b"\r\n") == [LineTooLong(1024 * 1024)]
    assert codec.feed(b"next\r\n") == lines("next")
    assert state_size(codec) == baseline


# -- negotiation ---------------------------------------------------------------------------


def test_start_offers_sga_and_asks_for_naws_and_ttype() -> None:
    codec = TelnetCodec()
    assert codec.start() == (
        cmd(WILL, SGA)
        + cmd(DO, NAWS)
        + cmd(DO, TTYPE)
        + cmd(WILL, MSSP)
        + cmd(WILL, GMCP)
        + cmd(WILL, MCCP2)
    )
    assert codec.start() == b""
    assert codec.take_output() == b""


def test_client_agreeing_to_start_gets_no_reply_except_ttype_send() -> None:
    codec = TelnetCodec()
    codec.start()
    assert codec.feed(cmd(DO, SGA) + cmd(WILL, NAWS)) == []
    assert codec.take_output() == b""
    assert codec.feed(cmd(WILL, TTYPE)) == []
    assert codec.take_output() == TTYPE_SEND
    # Repeats of agreed states are not answered.
    codec.feed(cmd(DO, SGA) + cmd(WILL, NAWS) + cmd(WILL, TTYPE))
    assert codec.take_output() == b""


def test_client_refusing_start_gets_no_reply() -> None:
    codec = TelnetCodec()
    codec.start()
    codec.feed(
        cmd(DONT, SGA)
        + cmd(WONT, NAWS)
        + cmd(WONT, TTYPE)
        + cmd(DONT, MSSP)
        + cmd(DONT, GMCP)
        + cmd(DONT, MCCP2)
    )
    assert codec.take_output() == b""
    assert codec.get_state()["options"] == {}


def test_naws() -> None:
    codec = TelnetCodec()
    codec.start()
    assert codec.window is None
    assert codec.feed(cmd(WILL, NAWS) + naws(80, 24)) == [WindowSize(80, 24)]
    assert codec.window == (80, 24)
    assert codec.take_output() == b""


@pytest.mark.parametrize(
    ("cols", "rows"), [(255, 255), (0xFFFF, 0xFFFF), (0xFF00, 0x00FF), (511, 40), (0, 0)]
)
def test_naws_with_escaped_255(cols: int, rows: int) -> None:
    codec = TelnetCodec()
    data = naws(cols, rows)
    assert codec.feed(data) == [WindowSize(cols, rows)]
    for i in range(len(data) + 1):
        assert feed_chunks(TelnetCodec(), [data[:i], data[i:]]) == [WindowSize(cols, rows)]


def test_malformed_naws_is_ignored() -> None:
    codec = TelnetCodec()
    bad = bytes((IAC, SB, NAWS, 0, 80, 0, IAC, SE)) + bytes((IAC, SB, IAC, SE))
    assert codec.feed(bad + b"ok\n") == lines("ok")
    assert codec.window is None


def test_ttype_flow() -> None:
    codec = TelnetCodec()
    assert cmd(DO, TTYPE) in codec.start()
    codec.feed(cmd(WILL, TTYPE))
    assert codec.take_output() == TTYPE_SEND
    assert codec.feed(ttype_is(b"XTERM-256COLOR")) == [TerminalType("XTERM-256COLOR")]
    assert codec.terminal_type == "XTERM-256COLOR"
    assert codec.take_output() == b""


def test_unprompted_will_ttype_is_accepted_and_asked() -> None:
    codec = TelnetCodec()
    codec.feed(cmd(WILL, TTYPE))
    assert codec.take_output() == cmd(DO, TTYPE) + TTYPE_SEND


def test_ttype_send_again_after_client_turns_it_off_and_on() -> None:
    codec = TelnetCodec()
    codec.start()
    codec.feed(cmd(WILL, TTYPE))
    assert codec.take_output() == TTYPE_SEND
    codec.feed(cmd(WONT, TTYPE))
    assert codec.take_output() == cmd(DONT, TTYPE)
    codec.feed(cmd(WONT, TTYPE))
    assert codec.take_output() == b""
    codec.feed(cmd(WILL, TTYPE))
    assert codec.take_output() == cmd(DO, TTYPE) + TTYPE_SEND


def test_set_echo_is_idempotent_and_does_not_loop() -> None:
    codec = TelnetCodec()
    assert codec.echo_off is False
    assert codec.set_echo(True) == cmd(WILL, ECHO)
    assert codec.echo_off is True
    assert codec.set_echo(True) == b""
    assert codec.feed(cmd(DO, ECHO)) == []
    assert codec.take_output() == b""  # the client's answer is not answered
    assert codec.feed(cmd(DO, ECHO)) == []
    assert codec.take_output() == b""
    assert codec.set_echo(True) == b""
    assert codec.echo_off is True
    assert codec.set_echo(False) == cmd(WONT, ECHO)
    assert codec.echo_off is False
    assert codec.set_echo(False) == b""
    codec.feed(cmd(DONT, ECHO))
    assert codec.take_output() == b""
    codec.feed(cmd(DONT, ECHO))
    assert codec.take_output() == b""
    assert codec.set_echo(True) == cmd(WILL, ECHO)


def test_set_echo_refused_by_client() -> None:
    codec = TelnetCodec()
    codec.set_echo(True)
    codec.feed(cmd(DONT, ECHO))
    assert codec.take_output() == b""
    assert codec.echo_off is False


def test_set_echo_changed_before_the_client_answers() -> None:
    codec = TelnetCodec()
    assert codec.set_echo(True) == cmd(WILL, ECHO)
    assert codec.set_echo(False) == b""  # queued until the client answers
    codec.feed(cmd(DO, ECHO))
    assert codec.take_output() == cmd(WONT, ECHO)
    codec.feed(cmd(DONT, ECHO))
    assert codec.take_output() == b""
    assert codec.echo_off is False
    assert codec.get_state()["options"] == {}


def test_unprompted_do_echo_refused_unless_echo_wanted() -> None:
    codec = TelnetCodec()
    codec.feed(cmd(DO, ECHO))
    assert codec.take_output() == cmd(WONT, ECHO)
    assert codec.echo_off is False
    codec.set_echo(True)
    codec.feed(cmd(DONT, ECHO))  # refused our offer
    codec.feed(cmd(DO, ECHO))  # then changed its mind
    assert codec.take_output() == cmd(WILL, ECHO)
    assert codec.echo_off is True


@pytest.mark.parametrize("opt", [0, 5, 34, 39, 200, 255])
def test_unknown_options_refused(opt: int) -> None:
    codec = TelnetCodec()
    codec.feed(cmd(WILL, opt))
    assert codec.take_output() == cmd(DONT, opt)
    codec.feed(cmd(DO, opt))
    assert codec.take_output() == cmd(WONT, opt)
    assert codec.get_state()["options"] == {}


@pytest.mark.parametrize("opt", [ECHO, SGA, TTYPE, NAWS, 200])
def test_no_reply_to_wont_or_dont_for_an_option_already_off(opt: int) -> None:
    codec = TelnetCodec()
    assert codec.feed(cmd(DONT, opt) + cmd(WONT, opt) + cmd(DONT, opt)) == []
    assert codec.take_output() == b""


def test_client_turning_off_an_agreed_option_is_acknowledged_once() -> None:
    codec = TelnetCodec()
    codec.start()
    codec.feed(cmd(DO, SGA) + cmd(WILL, NAWS))
    codec.feed(cmd(DONT, SGA) + cmd(WONT, NAWS))
    assert codec.take_output() == cmd(WONT, SGA) + cmd(DONT, NAWS)
    codec.feed(cmd(DONT, SGA) + cmd(WONT, NAWS))
    assert codec.take_output() == b""


def test_negotiation_with_an_agreeable_client_terminates() -> None:
    """A client that says yes to everything, and answers every message, settles at once."""
    server = TelnetCodec()
    wire = server.start() + server.set_echo(True)
    agreed: set[tuple[int, int]] = set()
    for _ in range(10):
        reply = b""
        for i in range(0, len(wire) - 2, 3):
            _, verb, opt = wire[i : i + 3]
            answer = {WILL: DO, WONT: DONT, DO: WILL, DONT: WONT}.get(verb)
            if answer is not None and (answer, opt) not in agreed:
                agreed.add((answer, opt))
                reply += cmd(answer, opt)
        if not reply:
            break
        server.feed(reply)
        wire = server.take_output().replace(TTYPE_SEND, b"")
    else:
        pytest.fail("negotiation did not settle")
    assert server.echo_off is True


# -- subnegotiation limits and garbage -----------------------------------------------------


def test_sb_without_se_swallows_then_recovers_at_se() -> None:
    codec = TelnetCodec()
    assert codec.feed(bytes((IAC, SB, NAWS, 0, 80)) + b"hello\r\n") == []
    assert codec.feed(b"y" * 10_000) == []
    sb = codec.get_state()["sb"]
    assert isinstance(sb, str)
    assert len(sb) <= MAX_SUBNEGOTIATION
    assert codec.feed(bytes((IAC, SE)) + b"look\r\n") == lines("look")
    assert codec.window is None


def test_oversized_sb_is_dropped_and_parsing_resumes() -> None:
    codec = TelnetCodec()
    data = bytes((IAC, SB, TTYPE, 0)) + b"t" * 5000 + bytes((IAC, SE)) + b"ok\n"
    assert codec.feed(data) == lines("ok")
    assert codec.terminal_type is None


def test_command_inside_sb_abandons_it() -> None:
    codec = TelnetCodec()
    events = codec.feed(bytes((IAC, SB, NAWS, 1, 2)) + cmd(WILL, 200) + b"ok\n")
    assert events == lines("ok")
    assert codec.take_output() == cmd(DONT, 200)


def test_stream_of_ff_bytes() -> None:
    codec = TelnetCodec(max_line_bytes=1024)
    for _ in range(100):
        assert codec.feed(b"\xff" * 1001) == []
        assert state_size(codec) < 1024 * 6 + 1000  # json writes 0xFF as \u00ff
    # 100 * 1001 bytes = 50050 IAC IAC pairs: one overlong line of literal 0xFF bytes.
    assert codec.feed(b"\n") == [LineTooLong(50050)]
    assert codec.feed(b"\xff") == []
    assert codec.feed(b"\n") == []  # IAC then 0x0a: an unknown command, ignored
    assert codec.feed(b"ok\n") == lines("ok")


def test_truncated_sequences_at_end_of_input() -> None:
    for tail in (b"\xff", b"\xff\xfb", b"\xff\xfa", b"\xff\xfa\x1f\x00", b"\xff\xfa\x1f\xff"):
        codec = TelnetCodec()
        assert codec.feed(b"abc\n" + tail) == lines("abc")
        restored = TelnetCodec.from_state(json.loads(json.dumps(codec.get_state())))
        assert restored.get_state() == codec.get_state()


def test_random_bytes_fuzz() -> None:
    rng = random.Random(20240611)
    interesting = bytes((IAC, SB, SE, WILL, WONT, DO, DONT, NAWS, TTYPE, ECHO, SGA, 13, 10, 0, 8))
    drained = TelnetCodec(max_line_bytes=256)
    undrained = TelnetCodec(max_line_bytes=256)
    bound = 256 * 6 + MAX_SUBNEGOTIATION * 6 + 2000
    for n in range(2000):
        size = rng.randrange(0, 300)
        if rng.random() < 0.5:
            chunk = bytes(rng.choice(interesting) for _ in range(size))
        else:
            chunk = rng.randbytes(size)
        for codec in (drained, undrained):
            events = codec.feed(chunk)
            assert all(
                isinstance(e, LineReceived | LineTooLong | WindowSize | TerminalType)
                for e in events
            )
        assert len(drained.take_output()) <= 4 * len(chunk) + 16
        if n % 50 == 0:
            drained.set_echo(rng.random() < 0.5)
            assert state_size(drained) < bound
            assert state_size(undrained) < bound + MAX_PENDING_OUTPUT * 6
            state = json.loads(json.dumps(undrained.get_state()))
            assert TelnetCodec.from_state(state).get_state() == undrained.get_state()
    assert len(undrained.take_output()) <= MAX_PENDING_OUTPUT + 16


# -- state hand-over -----------------------------------------------------------------------


def roundtrip(codec: TelnetCodec) -> TelnetCodec:
    return TelnetCodec.from_state(json.loads(json.dumps(codec.get_state())))


def test_state_roundtrip_at_every_split_point() -> None:
    whole = TelnetCodec(max_line_bytes=32)
    whole.start()
    whole.set_echo(True)
    expected = whole.feed(TRICKY)
    expected_out = whole.take_output()
    for i in range(len(TRICKY) + 1):
        first = TelnetCodec(max_line_bytes=32)
        first.start()
        first.set_echo(True)
        events = first.feed(TRICKY[:i])
        restored = roundtrip(first)
        assert restored.get_state() == first.get_state(), i
        events += restored.feed(TRICKY[i:])
        assert events == expected, i
        # Undrained output travels with the state.
        assert restored.take_output() == expected_out, i
        assert restored.get_state() == whole.get_state(), i


def test_state_carries_negotiated_values() -> None:
    codec = TelnetCodec(max_line_bytes=100)
    codec.start()
    codec.set_echo(True)
    codec.feed(cmd(WILL, NAWS) + naws(132, 43) + cmd(WILL, TTYPE) + ttype_is(b"vt100") + b"pa")
    restored = roundtrip(codec)
    assert restored.window == (132, 43)
    assert restored.terminal_type == "vt100"
    assert restored.echo_off is True
    assert restored.set_echo(True) == b""
    assert restored.take_output() == TTYPE_SEND
    restored.feed(cmd(DO, ECHO))
    assert restored.take_output() == b""
    assert restored.feed(b"ss\r\n") == lines("pass")
    assert restored.feed(b"x" * 101 + b"\n") == [LineTooLong(101)]


def test_state_carries_a_line_being_discarded() -> None:
    codec = TelnetCodec(max_line_bytes=10)
    codec.feed(b"q" * 50)
    assert roundtrip(codec).feed(b"q" * 5 + b"\r\n") == [LineTooLong(55)]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("version", 99),
        ("parser", "nowhere"),
        ("max_line_bytes", "big"),
        ("max_line_bytes", 0),
        ("line", "\u20ac"),
        ("discarding", 1),
        ("options", {"x": {}}),
        ("options", {"1": {"us": "maybe", "us_queue": "empty", "him": "no", "him_queue": "empty"}}),
        ("window", [80]),
        ("window", [80, -1]),
        ("terminal_type", 5),
        ("verb", True),
        ("options", {"256": {"us": "yes", "us_queue": "empty", "him": "no", "him_queue": "empty"}}),
        ("dropped", -1),
    ],
)
def test_from_state_rejects_bad_state(key: str, value: object) -> None:
    state = TelnetCodec().get_state()
    state[key] = value
    with pytest.raises(ValueError):
        TelnetCodec.from_state(state)


def test_from_state_rejects_missing_key() -> None:
    state = TelnetCodec().get_state()
    del state["line"]
    with pytest.raises(ValueError, match="line"):
        TelnetCodec.from_state(state)


# -- output --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("hello", b"hello"),
        ("a\nb\n", b"a\r\nb\r\n"),
        ("a\r\nb", b"a\r\nb"),
        ("a\rb", b"a\rb"),
        ("\n\r\n\n", b"\r\n\r\n\r\n"),
        ("café €", "café €".encode()),
        ("\udcff", b"\xff\xff"),
        ("x\udcffy\n", b"x\xff\xffy\r\n"),
        ("\ud800", b"?"),
        ("", b""),
    ],
)
def test_encode_text(text: str, wire: bytes) -> None:
    assert TelnetCodec().encode_text(text) == wire


def test_encode_text_round_trips_through_feed() -> None:
    codec = TelnetCodec()
    text = "say héllo\tthere\n"
    assert codec.feed(codec.encode_text(text)) == lines("say héllo there")


# ----------------------------------------------------------------- MSSP and GMCP


def gmcp(text: bytes) -> bytes:
    return bytes((IAC, SB, GMCP)) + text.replace(b"\xff", b"\xff\xff") + bytes((IAC, SE))


def test_a_crawler_agreeing_to_mssp_asks_for_the_table_once() -> None:
    codec = TelnetCodec()
    codec.start()
    assert codec.feed(cmd(DO, MSSP)) == [MsspRequested()]
    assert codec.take_output() == b""
    assert codec.feed(cmd(DO, MSSP)) == []  # a repeat is no new request


def test_mssp_table_encoding() -> None:
    table = TelnetCodec().encode_mssp({"NAME": "Moo", "PORT": ["7777", "7778"], "X\x01": "a\xffb"})
    assert table == (
        bytes((IAC, SB, MSSP))
        + b"\x01NAME\x02Moo"
        + b"\x01PORT\x027777\x027778"
        + b"\x01X\x02a\xc3\xbfb"  # reserved bytes of the text go; UTF-8 of U+00FF stays
        + bytes((IAC, SE))
    )


def test_gmcp_both_ways_once_agreed() -> None:
    codec = TelnetCodec()
    codec.start()
    assert codec.encode_gmcp("Room.Info", "{}") == b""  # not agreed yet
    assert codec.feed(gmcp(b'Core.Hello {"client": "x"}')) == []  # ignored before DO GMCP
    assert codec.feed(cmd(DO, GMCP)) == []
    assert codec.gmcp_enabled
    assert codec.feed(gmcp(b'Core.Hello {"client": "Mudlet", "version": "4.17"}')) == [
        GmcpReceived("Core.Hello", '{"client": "Mudlet", "version": "4.17"}')
    ]
    assert codec.feed(gmcp(b"Core.Ping")) == [GmcpReceived("Core.Ping", "")]
    assert codec.encode_gmcp("Room.Info", '{"name": "\u00ff"}') == gmcp(
        'Room.Info {"name": "\u00ff"}'.encode()
    )


def test_gmcp_state_is_carried_by_the_option_state() -> None:
    codec = TelnetCodec()
    codec.start()
    codec.feed(cmd(DO, GMCP))
    assert TelnetCodec.from_state(codec.get_state()).gmcp_enabled


def test_client_may_refuse_gmcp_and_mssp() -> None:
    codec = TelnetCodec()
    codec.start()
    assert codec.feed(cmd(DONT, GMCP) + cmd(DONT, MSSP)) == []
    assert not codec.gmcp_enabled
    assert codec.encode_gmcp("Core.Ping") == b""


# ------------------------------------------------------------------------ MCCP2


def compressed_codec() -> tuple[TelnetCodec, zlib._Decompress]:
    """A codec whose client agreed to MCCP2, and the client's decompressor."""
    codec = TelnetCodec()
    codec.start()
    assert codec.feed(cmd(DO, MCCP2)) == []
    out = codec.take_output()
    assert out == MCCP2_START
    return codec, zlib.decompressobj()


def test_after_do_compress2_every_byte_is_one_zlib_stream() -> None:
    codec, client = compressed_codec()
    assert codec.compressing
    wire = codec.encode_text("hello\n")
    assert wire != b"hello\r\n" and client.decompress(wire) == b"hello\r\n"
    codec.feed(cmd(DO, GMCP))  # negotiation replies are in the stream too
    wire = codec.set_echo(True) + codec.encode_gmcp("Core.Ping")
    assert client.decompress(wire) == cmd(WILL, ECHO) + bytes(
        (IAC, SB, GMCP)
    ) + b"Core.Ping" + bytes((IAC, SE))


def test_dont_compress2_finishes_the_stream_then_output_is_plain() -> None:
    codec, client = compressed_codec()
    client.decompress(codec.encode_text("one\n"))
    codec.feed(cmd(DONT, MCCP2))
    tail = codec.take_output()
    assert client.decompress(tail) == b"" and client.eof
    assert client.unused_data == cmd(WONT, MCCP2)
    assert not codec.compressing
    assert codec.encode_text("two\n") == b"two\r\n"


def test_a_hand_over_finishes_the_stream_and_the_next_codec_starts_a_new_one() -> None:
    codec, client = compressed_codec()
    client.decompress(codec.encode_text("before\n"))
    assert client.decompress(codec.end_compression()) == b"" and client.eof
    assert codec.encode_text("meanwhile\n") == b"meanwhile\r\n"  # plain until the hand-over
    state = codec.get_state()
    assert state["mccp_restart"] is True
    moved = TelnetCodec.from_state(state)
    wire = moved.encode_text("after\n")
    assert wire.startswith(MCCP2_START)
    assert zlib.decompressobj().decompress(wire[len(MCCP2_START) :]) == b"after\r\n"


def test_a_hand_over_that_fails_restarts_compression_in_place() -> None:
    codec, _ = compressed_codec()
    codec.end_compression()
    restart = codec.resume_compression()
    assert restart == MCCP2_START and codec.compressing
    assert codec.resume_compression() == b""


def test_states_from_before_mccp_still_load() -> None:
    state = TelnetCodec().get_state()
    del state["mccp_restart"]
    assert not TelnetCodec.from_state(state).compressing

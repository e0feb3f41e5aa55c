"""Gate frame codec: bytes in, frames/events out; no sockets."""

from __future__ import annotations

import json

import pytest

from moo.errors import ProtocolError
from moo.net.events import (
    AuthRequest,
    ControlHello,
    LineReceived,
    LineTooLong,
    PeerClosed,
    SessionOpen,
    WindowSize,
)
from moo.net.gate_protocol import MAX_FRAME, FrameDecoder, GateServerCodec, encode_frame


def raw_frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


def decode_out(data: bytes) -> list[dict[str, object]]:
    decoder = FrameDecoder()
    frames = decoder.feed(data)
    assert decoder.buffered == 0
    return frames


SESSION: list[dict[str, object]] = [
    {"t": "auth", "user": "alice", "method": "password", "secret": "pw ünï"},
    {"t": "open", "term": "xterm", "cols": 100, "rows": 30},
    {"t": "line", "text": "say héllo 🌍"},
    {"t": "resize", "cols": 120, "rows": 40},
    {"t": "close", "reason": "bye"},
]
SESSION_EVENTS = [
    AuthRequest("alice", "password", "pw ünï"),
    SessionOpen("xterm", 100, 30),
    LineReceived("say héllo 🌍"),
    WindowSize(120, 40),
    PeerClosed("bye"),
]
STREAM = b"".join(encode_frame(m) for m in SESSION)


def test_encode_frame_layout() -> None:
    data = encode_frame({"t": "line", "text": "é"})
    payload = data[4:]
    assert int.from_bytes(data[:4], "big") == len(payload)
    assert json.loads(payload) == {"t": "line", "text": "é"}
    assert "é".encode() in payload  # raw UTF-8, not \\u escapes


def test_decoder_whole_stream() -> None:
    assert FrameDecoder().feed(STREAM) == SESSION


@pytest.mark.parametrize("split", range(len(STREAM) + 1))
def test_decoder_split_at_every_byte(split: int) -> None:
    decoder = FrameDecoder()
    frames = decoder.feed(STREAM[:split]) + decoder.feed(STREAM[split:])
    assert frames == SESSION


def test_decoder_byte_at_a_time() -> None:
    decoder = FrameDecoder()
    frames = [f for b in STREAM for f in decoder.feed(bytes([b]))]
    assert frames == SESSION


@pytest.mark.parametrize("split", range(0, len(STREAM) + 1, 7))
def test_decoder_state_round_trip_at_split_points(split: int) -> None:
    decoder = FrameDecoder()
    first = decoder.feed(STREAM[:split])
    state = json.loads(json.dumps(decoder.get_state()))
    rest = FrameDecoder.from_state(state).feed(STREAM[split:])
    assert first + rest == SESSION


def test_max_frame_accepted_and_oversize_rejected() -> None:
    text = "x" * (MAX_FRAME - len(b'{"t":"out","text":""}'))
    exact = encode_frame({"t": "out", "text": text})
    assert len(exact) == 4 + MAX_FRAME
    assert FrameDecoder().feed(exact)[0]["text"] == text
    with pytest.raises(ProtocolError):
        encode_frame({"t": "out", "text": text + "x"})
    with pytest.raises(ProtocolError):
        FrameDecoder().feed((MAX_FRAME + 1).to_bytes(4, "big"))  # header alone is enough


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"\xff\xfe{}",  # not UTF-8
        b"[1, 2]",
        b'"t"',
        b"{}",
        b'{"t": 3}',
        b'{"t": "launch"}',
        b"",
    ],
)
def test_bad_frames(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        FrameDecoder().feed(raw_frame(payload))


def test_decoder_bad_state() -> None:
    for state in (None, {}, {"buf": 3}, {"buf": "!!not base64"}):
        with pytest.raises(ProtocolError):
            FrameDecoder.from_state(state)


# --- GateServerCodec (the world's side) ---------------------------------------------


def test_codec_events_and_properties() -> None:
    codec = GateServerCodec()
    assert codec.start() == b""
    assert codec.window is None and codec.terminal_type is None
    assert codec.feed(STREAM) == SESSION_EVENTS
    assert codec.take_output() == b""
    assert codec.window == (120, 40)
    assert codec.terminal_type == "xterm"


def test_codec_control_hello() -> None:
    assert GateServerCodec().feed(encode_frame({"t": "control", "pid": 4242})) == [
        ControlHello(4242)
    ]


def test_codec_line_too_long_counts_utf8_bytes() -> None:
    codec = GateServerCodec(max_line_bytes=8)
    assert codec.feed(encode_frame({"t": "line", "text": "12345678"})) == [LineReceived("12345678")]
    assert codec.feed(encode_frame({"t": "line", "text": "ééééé"})) == [LineTooLong(10)]


def test_codec_lone_surrogate_is_replaced() -> None:
    payload = b'{"t":"line","text":"a\\ud800b"}'
    assert GateServerCodec().feed(raw_frame(payload)) == [LineReceived("a?b")]


@pytest.mark.parametrize(
    "msg",
    [
        {"t": "auth", "user": "alice", "method": "password"},
        {"t": "auth", "user": 1, "method": "password", "secret": "x"},
        {"t": "auth", "user": "alice", "method": "hostbased", "secret": "x"},
        {"t": "open", "term": "xterm", "cols": "80", "rows": 24},
        {"t": "open", "term": None, "cols": 80, "rows": 24},
        {"t": "open", "term": "xterm", "cols": 80},
        {"t": "line"},
        {"t": "line", "text": ["a"]},
        {"t": "resize", "cols": True, "rows": 24},
        {"t": "resize", "cols": 80.0, "rows": 24},
        {"t": "resize", "cols": -1, "rows": 24},
        {"t": "resize", "cols": 80, "rows": 70000},
        {"t": "control", "pid": "12"},
        {"t": "control", "pid": 0},
        {"t": "close"},
        {"t": "close", "reason": 5},
        {"t": "out", "text": "the gate does not send out"},
        {"t": "echo", "on": True},
    ],
)
def test_codec_wrong_fields(msg: dict[str, object]) -> None:
    with pytest.raises(ProtocolError):
        GateServerCodec().feed(encode_frame(msg))


def test_codec_echo_idempotent() -> None:
    codec = GateServerCodec()
    assert not codec.echo_off
    assert codec.set_echo(False) == b""
    assert decode_out(codec.set_echo(True)) == [{"t": "echo", "on": False}]
    assert codec.echo_off
    assert codec.set_echo(True) == b""
    assert decode_out(codec.set_echo(False)) == [{"t": "echo", "on": True}]
    assert not codec.echo_off


def test_codec_encode_text() -> None:
    codec = GateServerCodec()
    assert codec.encode_text("") == b""
    assert decode_out(codec.encode_text("hi\n")) == [{"t": "out", "text": "hi\n"}]


@pytest.mark.parametrize("char", ["x", "é", "🌍", "\x01", '"'])
def test_codec_encode_text_splits_big_output(char: str) -> None:
    text = char * (MAX_FRAME + 1000)
    data = GateServerCodec().encode_text(text)
    frames = decode_out(data)  # every frame decodes, so none is over MAX_FRAME
    assert len(frames) > 1
    assert all(f["t"] == "out" for f in frames)
    assert "".join(str(f["text"]) for f in frames) == text


def test_codec_replies() -> None:
    codec = GateServerCodec()
    assert decode_out(codec.encode_auth_result(True)) == [{"t": "auth", "ok": True}]
    assert decode_out(codec.encode_auth_result(False, "Wrong password.")) == [
        {"t": "auth", "ok": False, "reason": "Wrong password."}
    ]
    assert decode_out(codec.encode_close("Bye.")) == [{"t": "close", "reason": "Bye."}]


@pytest.mark.parametrize("split", range(0, len(STREAM) + 1, 5))
def test_codec_state_round_trip(split: int) -> None:
    codec = GateServerCodec(max_line_bytes=100)
    codec.set_echo(True)
    first = codec.feed(STREAM[:split])
    state = json.loads(json.dumps(codec.get_state()))
    copy = GateServerCodec.from_state(state)
    assert copy.echo_off
    assert copy.window == codec.window
    assert copy.terminal_type == codec.terminal_type
    assert first + copy.feed(STREAM[split:]) == SESSION_EVENTS
    assert copy.set_echo(True) == b""


def test_codec_state_keeps_line_limit() -> None:
    state = json.loads(json.dumps(GateServerCodec(max_line_bytes=3).get_state()))
    copy = GateServerCodec.from_state(state)
    assert copy.feed(encode_frame({"t": "line", "text": "abcd"})) == [LineTooLong(4)]


@pytest.mark.parametrize(
    "state",
    [
        None,
        {},
        {"decoder": {"buf": ""}, "max_line_bytes": "9", "echo_off": False},
        {
            "decoder": {"buf": ""},
            "max_line_bytes": 9,
            "echo_off": False,
            "window": [80],
            "terminal_type": None,
        },
        {
            "decoder": None,
            "max_line_bytes": 9,
            "echo_off": False,
            "window": None,
            "terminal_type": None,
        },
    ],
)
def test_codec_bad_state(state: object) -> None:
    with pytest.raises(ProtocolError):
        GateServerCodec.from_state(state)

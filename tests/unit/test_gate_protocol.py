"""Gate frame codec: bytes in, frames/events out; no sockets."""

from __future__ import annotations

import json

import msgspec
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
from moo.protocol import gate
from moo.protocol.gate import (
    GATE_PROTOCOL,
    Auth,
    AuthReply,
    Close,
    Control,
    Echo,
    Line,
    Open,
    Out,
    Resize,
)


def raw_frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


def raw_msg(msg: dict[str, object]) -> bytes:
    """A frame of ``msg`` as any peer could send it, bypassing the types."""
    return raw_frame(msgspec.msgpack.encode(msg))


def world_decoder() -> FrameDecoder[gate.FromGate]:
    return FrameDecoder(gate.decode_from_gate)


def decode_out(data: bytes) -> list[gate.ToGate]:
    decoder = FrameDecoder(gate.decode_to_gate)
    frames = decoder.feed(data)
    assert decoder.buffered == 0
    return frames


SESSION: list[gate.FromGate] = [
    Auth(GATE_PROTOCOL, "alice", "password", "pw ünï"),
    Open("xterm", 100, 30),
    Line("say héllo 🌍"),
    Resize(120, 40),
    Close("bye"),
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
    data = encode_frame(Line("é"))
    payload = data[4:]
    assert int.from_bytes(data[:4], "big") == len(payload)
    assert msgspec.msgpack.decode(payload) == {"t": "line", "text": "é"}
    assert "é".encode() in payload  # raw UTF-8


def test_decoder_whole_stream() -> None:
    assert world_decoder().feed(STREAM) == SESSION


@pytest.mark.parametrize("split", range(len(STREAM) + 1))
def test_decoder_split_at_every_byte(split: int) -> None:
    decoder = world_decoder()
    frames = decoder.feed(STREAM[:split]) + decoder.feed(STREAM[split:])
    assert frames == SESSION


def test_decoder_byte_at_a_time() -> None:
    decoder = world_decoder()
    frames = [f for b in STREAM for f in decoder.feed(bytes([b]))]
    assert frames == SESSION


@pytest.mark.parametrize("split", range(0, len(STREAM) + 1, 7))
def test_decoder_state_round_trip_at_split_points(split: int) -> None:
    decoder = world_decoder()
    first = decoder.feed(STREAM[:split])
    state = json.loads(json.dumps(decoder.get_state()))
    rest = FrameDecoder.from_state(state, gate.decode_from_gate).feed(STREAM[split:])
    assert first + rest == SESSION


def test_max_frame_accepted_and_oversize_rejected() -> None:
    envelope = len(gate.encode(Out("x" * 60000))) - 60000  # with a str16 header
    text = "x" * (MAX_FRAME - envelope)
    exact = encode_frame(Out(text))
    assert len(exact) == 4 + MAX_FRAME
    assert decode_out(exact) == [Out(text)]
    with pytest.raises(ProtocolError):
        encode_frame(Out(text + "x"))
    with pytest.raises(ProtocolError):
        world_decoder().feed((MAX_FRAME + 1).to_bytes(4, "big"))  # header alone is enough


@pytest.mark.parametrize(
    "payload",
    [
        b"not msgpack \xc1",
        b"\xc1",  # a byte msgpack never uses
        msgspec.msgpack.encode([1, 2]),
        msgspec.msgpack.encode("t"),
        msgspec.msgpack.encode({}),
        msgspec.msgpack.encode({"t": 3}),
        msgspec.msgpack.encode({"t": "launch"}),
        msgspec.msgpack.encode({"t": "line", "text": "a"}) + b"\x00",  # trailing bytes
        b"\xa3a\xedb",  # a str that is not UTF-8
        b"",
    ],
)
def test_bad_frames(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        world_decoder().feed(raw_frame(payload))


def test_decoder_bad_state() -> None:
    for state in (None, {}, {"buf": 3}, {"buf": "!!not base64"}):
        with pytest.raises(ProtocolError):
            FrameDecoder.from_state(state, gate.decode_from_gate)


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
    assert GateServerCodec().feed(encode_frame(Control(GATE_PROTOCOL, 4242))) == [
        ControlHello(4242)
    ]


def test_codec_line_too_long_counts_utf8_bytes() -> None:
    codec = GateServerCodec(max_line_bytes=8)
    assert codec.feed(encode_frame(Line("12345678"))) == [LineReceived("12345678")]
    assert codec.feed(encode_frame(Line("ééééé"))) == [LineTooLong(10)]


def test_lone_surrogate_is_replaced_when_encoding() -> None:
    assert world_decoder().feed(encode_frame(Line("a\ud800b"))) == [Line("a?b")]
    assert GateServerCodec().feed(encode_frame(Line("a\ud800b"))) == [LineReceived("a?b")]


@pytest.mark.parametrize(
    "msg",
    [
        {"t": "auth", "version": GATE_PROTOCOL, "user": "alice", "method": "password"},
        {"t": "auth", "version": GATE_PROTOCOL, "user": 1, "method": "password", "secret": "x"},
        {"t": "auth", "version": GATE_PROTOCOL, "user": "a", "method": "hostbased", "secret": "x"},
        {"t": "open", "term": "xterm", "cols": "80", "rows": 24},
        {"t": "open", "term": None, "cols": 80, "rows": 24},
        {"t": "open", "term": "xterm", "cols": 80},
        {"t": "line"},
        {"t": "line", "text": ["a"]},
        {"t": "resize", "cols": True, "rows": 24},
        {"t": "resize", "cols": 80.0, "rows": 24},
        {"t": "resize", "cols": -1, "rows": 24},
        {"t": "resize", "cols": 80, "rows": 70000},
        {"t": "control", "pid": 12},  # no version
        {"t": "control", "version": GATE_PROTOCOL, "pid": "12"},
        {"t": "control", "version": GATE_PROTOCOL, "pid": 0},
        {"t": "control", "version": "2", "pid": 12},
        {"t": "auth", "user": "alice", "method": "password", "secret": "x"},  # no version
        {"t": "open", "term": "xterm", "cols": 80, "rows": 24, "extra": 1},
        {"t": "close"},
        {"t": "close", "reason": 5},
        {"t": "out", "text": "the gate does not send out"},
        {"t": "echo", "on": True},
        {"t": "auth-reply", "ok": True, "reason": ""},
    ],
)
def test_codec_wrong_fields(msg: dict[str, object]) -> None:
    with pytest.raises(ProtocolError):
        GateServerCodec().feed(raw_msg(msg))


def test_codec_echo_idempotent() -> None:
    codec = GateServerCodec()
    assert not codec.echo_off
    assert codec.set_echo(False) == b""
    assert decode_out(codec.set_echo(True)) == [Echo(False)]
    assert codec.echo_off
    assert codec.set_echo(True) == b""
    assert decode_out(codec.set_echo(False)) == [Echo(True)]
    assert not codec.echo_off


def test_codec_encode_text() -> None:
    codec = GateServerCodec()
    assert codec.encode_text("") == b""
    assert decode_out(codec.encode_text("hi\n")) == [Out("hi\n")]


@pytest.mark.parametrize("char", ["x", "é", "🌍", "\x01", '"'])
def test_codec_encode_text_splits_big_output(char: str) -> None:
    text = char * (MAX_FRAME + 1000)
    data = GateServerCodec().encode_text(text)
    frames = decode_out(data)  # every frame decodes, so none is over MAX_FRAME
    assert len(frames) > 1
    assert all(isinstance(f, Out) for f in frames)
    assert "".join(f.text for f in frames if isinstance(f, Out)) == text


def test_codec_replies() -> None:
    codec = GateServerCodec()
    assert decode_out(codec.encode_auth_result(True)) == [AuthReply(True)]
    assert decode_out(codec.encode_auth_result(False, "Wrong password.")) == [
        AuthReply(False, "Wrong password.")
    ]
    assert decode_out(codec.encode_close("Bye.")) == [Close("Bye.")]


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
    assert copy.feed(encode_frame(Line("abcd"))) == [LineTooLong(4)]


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


# --- the version at hello ------------------------------------------------------------


@pytest.mark.parametrize(
    "hello",
    [
        {"t": "control", "version": GATE_PROTOCOL + 1, "pid": 12},
        {"t": "auth", "version": GATE_PROTOCOL + 1, "user": "a", "method": "x", "secret": "s"},
        {"t": "auth", "version": 0, "user": "a", "method": "password", "secret": "s"},
        {"t": "control", "version": 99, "pid": 12, "new_field": [1, 2]},  # a later layout
    ],
)
def test_unknown_version_is_refused_naming_both(hello: dict[str, object]) -> None:
    with pytest.raises(ProtocolError) as caught:
        GateServerCodec().feed(raw_msg(hello))
    theirs = hello["version"]
    assert str(caught.value) == (
        f"the SSH gate speaks gate protocol {theirs}; this server speaks {GATE_PROTOCOL}"
    )


def test_json_frames_of_version_1_are_refused_naming_both() -> None:
    with pytest.raises(ProtocolError, match=f"gate protocol 1; this server speaks {GATE_PROTOCOL}"):
        GateServerCodec().feed(raw_frame(b'{"t":"control","pid":12}'))


def test_the_gate_refuses_frames_it_does_not_read() -> None:
    decoder = FrameDecoder(gate.decode_to_gate)
    msgs: list[dict[str, object]] = [
        {"t": "line", "text": "x"},
        {"t": "echo", "on": 1},
        {"t": "out"},
    ]
    for msg in msgs:
        with pytest.raises(ProtocolError):
            decoder.feed(raw_msg(msg))

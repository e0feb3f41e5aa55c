"""The front <-> engine messages (moo/protocol/front.py): round trips and refusals."""

from __future__ import annotations

import msgspec
import pytest

from moo.errors import ProtocolError
from moo.protocol import front as msg


def test_every_engine_message_round_trips() -> None:
    record = msg.SessionRecord(7, "connected", "", "B", "M", ["room"], 12.5)
    messages: list[msg.ToFront] = [
        msg.EngineHello(msg.FRONT_PROTOCOL, 42, 9),
        msg.Out(1, "hello\n"),
        msg.OutMany([1, 2, 7], 'Alice says, "hi"\n'),
        msg.Echo(1, False),
        msg.Drop(1, "quit"),
        msg.State(1, record),
        msg.GmcpOut(1, "Room.Info", "{}"),
        msg.MsspOut(1, {"NAME": "x", "PORT": ["1", "2"]}),
        msg.AuthOut(2, True, ""),
        msg.Seal(10, [(1, 3), (2, 1)]),
        msg.Durable(10),
        msg.Void(11),
        msg.Stop("bye"),
    ]
    assert msg.decode_to_front(msg.encode(messages)) == messages


def test_every_front_message_round_trips() -> None:
    conn = msg.ConnRecord(
        3, "telnet", "127.0.0.1:5", None, [msg.InLine(4, "look")], "xterm", 80, 24, True, False
    )
    messages: list[msg.ToEngine] = [
        msg.Attach(msg.FRONT_PROTOCOL, 1, [conn], {"telnet": "127.0.0.1:7777"}),
        msg.Opened(3, "telnet", "127.0.0.1:5"),
        msg.Line(3, 5, "say hi"),
        msg.TooLong(3, 9000),
        msg.Facts(3, "xterm", 100, 30, True),
        msg.GmcpIn(3, "Core.Hello", "{}"),
        msg.MsspAsk(3),
        msg.AuthAsk(3, "alice", "password", "pw"),
        msg.SshOpen(3),
        msg.Closed(3, "closed by client"),
    ]
    assert msg.decode_to_engine(msg.encode(messages)) == messages


def test_an_engine_of_another_version_is_refused_at_hello_naming_both() -> None:
    frame = msg.encode([msg.EngineHello(msg.FRONT_PROTOCOL + 1, 42, 0)])
    with pytest.raises(ProtocolError, match=r"engine speaks front protocol 3; .* speaks 1 to 2"):
        msg.decode_to_front(frame)


def test_an_engine_or_front_of_the_previous_version_is_accepted() -> None:
    """An engine upgrade behind a front that was never restarted: each speaks the lower
    version (an engine sends ``OutMany`` only to a front of protocol 2)."""
    old = msg.OLDEST_FRONT_PROTOCOL
    hello = msg.engine_hello(42, 0)
    assert hello.version == old == 1  # what a protocol-1 front requires of a hello
    assert msg.decode_to_front(msg.encode([hello])) == [hello]
    assert hello.attach_version == msg.FRONT_PROTOCOL

    class HelloV1(msgspec.Struct, array_like=True, tag="hello", frozen=True):
        version: int
        pid: int
        durable: int

    # A protocol-1 front reads our hello (the trailing field is ignored)...
    assert msgspec.msgpack.decode(msg.encode([hello]), type=list[HelloV1]) == [HelloV1(1, 42, 0)]
    # ...and a protocol-1 engine's hello gets an Attach it accepts (version 1).
    v1 = msg.decode_to_front(msgspec.msgpack.encode([HelloV1(1, 7, 3)]))[0]
    assert isinstance(v1, msg.EngineHello) and v1.attach_version == 1
    attach = msg.Attach(old, 1, [], {})
    assert msg.decode_to_engine(msg.encode([attach])) == [attach]


def test_a_hello_that_does_not_fit_our_types_still_names_its_version() -> None:
    """A later release may change the hello's fields; its version is read all the same."""
    frame = msgspec.msgpack.encode([["hello", 5, "a new field", {"x": 1}]])
    with pytest.raises(ProtocolError, match="engine speaks front protocol 5"):
        msg.decode_to_front(frame)
    frame = msgspec.msgpack.encode([["attach", 3, 1, [], {}, "more"]])
    with pytest.raises(ProtocolError, match="front speaks front protocol 3"):
        msg.decode_to_engine(frame)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xc1",
        msgspec.msgpack.encode([["line", 0, 1, "x"]]),  # connection ids start at 1
        msgspec.msgpack.encode([["line", 1, 1]]),
        msgspec.msgpack.encode([["out", 1, "x"]]),  # an engine message sent to the engine
        msgspec.msgpack.encode({"t": "line"}),
    ],
)
def test_garbage_is_a_protocol_error_never_a_crash(payload: bytes) -> None:
    with pytest.raises(ProtocolError, match="bad front frame"):
        msg.decode_to_engine(payload)


def test_text_that_is_not_utf8_is_sent_with_a_question_mark() -> None:
    frame = msg.encode([msg.Out(1, "bad \udcff byte")])
    (out,) = msg.decode_to_front(frame)
    assert isinstance(out, msg.Out) and out.text == "bad ? byte"

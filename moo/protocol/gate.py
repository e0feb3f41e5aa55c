"""Messages between the SSH gate and the world server (pure, no I/O).

The conversation (framing in ``moo/net/gate_protocol.py``, one 4-byte length per frame):

    gate -> world   Control {version, pid}            first frame of the gate's lifeline socket
    gate -> world   Auth {version, user, method, secret}   first frame of a session socket
    world -> gate   AuthReply {ok, reason}
    gate -> world   Open {term, cols, rows}, Line {text}, Resize {cols, rows}, Close {reason}
    world -> gate   Out {text}, Echo {on}, Close {reason}

Each frame is one msgpack map whose ``"t"`` names the message (a map, not an array: the
gate and the world may be different releases, and a map names what it carries). The
first frame of each socket carries ``version``; a peer with another ``GATE_PROTOCOL`` is
refused with an error naming both versions. Version 1 was the JSON frames of releases
before this module; its frames are recognised (they start with ``{``) to say so.

msgpack, not JSON: strings travel as raw UTF-8 (4 bytes a character at worst, against 6
for JSON's ``\\u001f`` escapes), there is no escaping to undo, and msgspec checks every
field's type and range (``Meta``) while decoding, which the hand-written field checks
did before.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

import msgspec

from moo.errors import ProtocolError

GATE_PROTOCOL = 2
"""2: typed msgpack frames with a version at hello (1: JSON objects, no version)."""

MAX_TERM_DIMENSION = 65535
"""Largest terminal width/height accepted in ``Open`` and ``Resize``."""

Dimension = Annotated[int, msgspec.Meta(ge=0, le=MAX_TERM_DIMENSION)]
Version = Annotated[int, msgspec.Meta(ge=0)]
AuthMethod = Literal["password", "publickey"]


class _Message(msgspec.Struct, frozen=True, tag_field="t", forbid_unknown_fields=True):
    pass


class Control(_Message, frozen=True, tag="control"):
    """The gate's lifeline: the world closes every SSH session if it goes."""

    version: Version
    pid: Annotated[int, msgspec.Meta(ge=1, le=2**31)]


class Auth(_Message, frozen=True, tag="auth"):
    """One login attempt; the first frame of a session socket."""

    version: Version
    user: str
    method: AuthMethod
    secret: str


class Open(_Message, frozen=True, tag="open"):
    term: str
    cols: Dimension
    rows: Dimension


class Line(_Message, frozen=True, tag="line"):
    text: str


class Resize(_Message, frozen=True, tag="resize"):
    cols: Dimension
    rows: Dimension


class Close(_Message, frozen=True, tag="close"):
    """Either side: the session ends (the world's ``reason`` is shown to the user)."""

    reason: str


class AuthReply(_Message, frozen=True, tag="auth-reply"):
    ok: bool
    reason: str = ""


class Out(_Message, frozen=True, tag="out"):
    text: str


class Echo(_Message, frozen=True, tag="echo"):
    """Show (True) or hide (False) what the user types."""

    on: bool


T = TypeVar("T")

FromGate = Control | Auth | Open | Line | Resize | Close
ToGate = AuthReply | Out | Echo | Close
Message = FromGate | ToGate

_encoder = msgspec.msgpack.Encoder()
_from_gate = msgspec.msgpack.Decoder(FromGate)
_to_gate = msgspec.msgpack.Decoder(ToGate)


def encode(message: Message) -> bytes:
    """``message`` as msgpack; lone surrogates in its strings (not UTF-8) become "?"."""
    try:
        return _encoder.encode(message)
    except UnicodeEncodeError:
        changes = {
            name: clean_text(value)
            for name, value in msgspec.structs.asdict(message).items()
            if isinstance(value, str)
        }
        return _encoder.encode(msgspec.structs.replace(message, **changes))


def clean_text(text: str) -> str:
    """``text`` with lone surrogates replaced by "?"."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def decode_from_gate(payload: bytes) -> FromGate:
    """A frame the gate sent. Raises ProtocolError (what was wrong, or both versions)."""
    message = _decode(_from_gate, payload)
    if isinstance(message, Control | Auth):
        check_version(message.version)
    return message


def decode_to_gate(payload: bytes) -> ToGate:
    """A frame the world sent. Raises ProtocolError."""
    return _decode(_to_gate, payload)


def check_version(version: int) -> None:
    """Raises ProtocolError unless the gate's ``version`` is ours (the world checks it)."""
    if version != GATE_PROTOCOL:
        raise ProtocolError(
            f"the SSH gate speaks gate protocol {version}; this server speaks {GATE_PROTOCOL}"
        )


class _Hello(msgspec.Struct):
    """Any release's first frame, read only for its version."""

    t: str
    version: int


def _decode(decoder: msgspec.msgpack.Decoder[T], payload: bytes) -> T:
    try:
        return decoder.decode(payload)
    except msgspec.DecodeError as exc:
        if payload.startswith(b"{"):
            check_version(1)  # a release before typed frames speaks JSON
        try:  # another version's hello may not fit our types: name its version instead
            hello = msgspec.msgpack.decode(payload, type=_Hello)
        except msgspec.DecodeError:
            pass
        else:
            if hello.t in ("control", "auth"):
                check_version(hello.version)
        raise ProtocolError(f"bad gate frame: {exc}") from None

"""Messages between the front (holds every player connection) and the engine (the world).

The conversation, over one stream (a Unix socket by default), in frames of a 4-byte
big-endian length and one msgpack array of messages (everything one side had to say in
one loop turn travels in one frame):

    engine -> front   EngineHello {version, pid, durable}     first frame of the stream
    front -> engine   Attach {version, pid, conns}            the reply: every connection
    front -> engine   Opened, Line, TooLong, Facts, GmcpIn, MsspAsk, AuthAsk, SshOpen, Closed
    engine -> front   Out, OutMany, Echo, Drop, State, GmcpOut, MsspOut, AuthOut, Seal,
                      Durable, Void, Handover, Stop

Lines are numbered per connection by the front (1, 2, ...). The engine's effects on
connections (``Out``, ``Echo``, ``Drop``, ``State``, ...) are grouped by ``Seal``: a seal
says "everything since the previous seal was caused by work whose world changes end at
journal position ``lsn``, and these lines are done". The front holds each sealed group
until a ``Durable`` at or past its ``lsn`` says those changes are written, and only then
writes the output to the sockets and forgets the lines. An unsealed tail is discarded if
the engine dies. A new engine's ``EngineHello.durable`` is the position it recovered to:
held groups at or below it are released, the others are discarded and their lines sent
again. So a command runs at most once, its output is seen only once its changes are
safe, and none of it is lost. A warm standby will later add its acknowledgement to what
releases a group.

Why arrays and not maps (the gate's frames are maps): every typed line and every line of
output crosses here, so the encoding is the one msgspec does fastest; a front and an
engine of different releases check ``FRONT_PROTOCOL`` at hello before anything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal, TypeVar

import msgspec

from moo.errors import ProtocolError

FRONT_PROTOCOL = 2
"""1: the first front <-> engine protocol. 2: ``OutMany`` (one text to many connections).

An engine's hello names the *oldest* protocol it can speak (``OLDEST_FRONT_PROTOCOL``: a
protocol-1 front refuses anything but 1, and ignores the trailing ``newest``); the front's
``Attach`` names the newest both speak, which is what the engine then speaks. So an
engine upgraded (or rolled back) behind a front that was never restarted keeps working."""

OLDEST_FRONT_PROTOCOL = 1


def engine_hello(pid: int, durable: int) -> EngineHello:
    """An engine's first message (see ``FRONT_PROTOCOL`` for its version)."""
    return EngineHello(OLDEST_FRONT_PROTOCOL, pid, durable, FRONT_PROTOCOL)


SPARE_GO = "go"
"""The line a front writes to its spare engine's stdin to make it go on (moo/engine/spare.py)."""

SPARE_STALE = 75
"""A spare engine's exit code when the code on disk changed since it imported it."""

MAX_FRAME = 16 << 20
"""Largest frame payload in bytes (a frame is one loop turn's messages)."""

ConnId = Annotated[int, msgspec.Meta(ge=1)]
LineNo = Annotated[int, msgspec.Meta(ge=1)]
Position = Annotated[int, msgspec.Meta(ge=0)]
Dimension = Annotated[int, msgspec.Meta(ge=0, le=65535)]
Stage = Literal["welcome", "password", "ssh-authenticated", "connected"]


class _Message(msgspec.Struct, frozen=True, array_like=True, tag=True):
    pass


# --- the session record: what the engine knows of a connection, kept by the front ----


class SessionRecord(msgspec.Struct, frozen=True, array_like=True):
    """A session's state as the engine last released it; handed back to a new engine."""

    player: int | None = None
    stage: Stage = "welcome"
    name: str = ""  # the name typed before the password prompt (or an SSH user's player)
    prefix: str | None = None
    suffix: str | None = None
    gmcp_supports: list[str] = msgspec.field(default_factory=list)
    connected_for: float = 0.0  # seconds, when the record was made


class InLine(msgspec.Struct, frozen=True, array_like=True):
    number: LineNo
    text: str


class ConnRecord(msgspec.Struct, frozen=True, array_like=True):
    """One connection as the front describes it to an engine that attaches."""

    id: ConnId
    kind: str
    peer: str
    session: SessionRecord | None  # None: the engine has never released its welcome
    lines: list[InLine]  # typed and not yet done, oldest first
    terminal: str | None = None
    cols: Dimension = 0
    rows: Dimension = 0
    gmcp: bool = False
    echo_off: bool = False


# --- hello ------------------------------------------------------------------------


class EngineHello(_Message, frozen=True, tag="hello"):
    version: int  # the oldest protocol this engine speaks (what a protocol-1 front checks)
    pid: int
    durable: Position  # the journal position the engine recovered to
    newest: int = 1  # the newest it speaks (protocol 2 on; a protocol-1 engine sends none)

    @property
    def attach_version(self) -> int:
        """The protocol the front's ``Attach`` names: the newest both speak."""
        return min(FRONT_PROTOCOL, self.newest)


class Attach(_Message, frozen=True, tag="attach"):
    version: int
    pid: int
    conns: list[ConnRecord]
    addresses: dict[str, str] = {}  # listener name -> HOST:PORT (MSSP's PORT, @status)


# --- front -> engine ------------------------------------------------------------


class Opened(_Message, frozen=True, tag="opened"):
    id: ConnId
    kind: str
    peer: str


class Line(_Message, frozen=True, tag="line"):
    id: ConnId
    number: LineNo
    text: str


class TooLong(_Message, frozen=True, tag="too-long"):
    id: ConnId
    length: int


class Facts(_Message, frozen=True, tag="facts"):
    """What the client told about itself (telnet TTYPE/NAWS, an SSH pty)."""

    id: ConnId
    terminal: str | None
    cols: Dimension
    rows: Dimension
    gmcp: bool


class GmcpIn(_Message, frozen=True, tag="gmcp-in"):
    id: ConnId
    package: str
    data: str


class MsspAsk(_Message, frozen=True, tag="mssp-ask"):
    id: ConnId


class AuthAsk(_Message, frozen=True, tag="auth-ask"):
    """The SSH gate asks whether a login is good."""

    id: ConnId
    user: str
    method: str
    secret: str


class SshOpen(_Message, frozen=True, tag="ssh-open"):
    id: ConnId


class Closed(_Message, frozen=True, tag="closed"):
    id: ConnId
    reason: str


# --- engine -> front ------------------------------------------------------------


class Out(_Message, frozen=True, tag="out"):
    id: ConnId
    text: str


class OutMany(_Message, frozen=True, tag="out-many"):
    """The same text to many connections (a room hearing a ``say``): the front encodes it
    once per codec state. Protocol 2."""

    ids: list[ConnId]
    text: str


class Echo(_Message, frozen=True, tag="echo"):
    id: ConnId
    server_echoes: bool


class Drop(_Message, frozen=True, tag="drop"):
    """Close the connection once its output is written."""

    id: ConnId
    reason: str


class State(_Message, frozen=True, tag="state"):
    id: ConnId
    session: SessionRecord


class GmcpOut(_Message, frozen=True, tag="gmcp-out"):
    id: ConnId
    package: str
    payload: str


class MsspOut(_Message, frozen=True, tag="mssp-out"):
    id: ConnId
    table: dict[str, str | list[str]]


class AuthOut(_Message, frozen=True, tag="auth-out"):
    id: ConnId
    ok: bool
    reason: str


class Seal(_Message, frozen=True, tag="seal"):
    lsn: Position
    lines: list[tuple[ConnId, LineNo]]
    # Where the committing command's own answer starts in the group (what a failed write
    # takes back); None: the group has none.
    undo_from: int | None = None


class Durable(_Message, frozen=True, tag="durable"):
    lsn: Position


class Void(_Message, frozen=True, tag="void"):
    """The journal write of ``lsn`` failed (a full disk): the engine undid the change. The
    groups sealed with it lose the committing command's answer (from ``undo_from``) and
    are released now rather than held for ever; the refusal comes in the next group."""

    lsn: Position


class Handover(_Message, frozen=True, tag="handover"):
    """A hot upgrade: this engine is leaving and its replacement (already loaded, about to
    take the journal over) attaches next. Players are not told the world is restarting,
    and a front that starts engines waits for that one before starting another."""

    pid: int = 0  # the replacement's, when known


class Stop(_Message, frozen=True, tag="stop"):
    """``@shutdown``: the front closes every connection (once the answers before this
    are written) and exits, instead of waiting for another engine."""

    reason: str


ToEngine = Attach | Opened | Line | TooLong | Facts | GmcpIn | MsspAsk | AuthAsk | SshOpen | Closed
ToFront = (
    EngineHello
    | Out
    | OutMany
    | Echo
    | Drop
    | State
    | GmcpOut
    | MsspOut
    | AuthOut
    | Seal
    | Durable
    | Void
    | Handover
    | Stop
)
Held = Out | OutMany | Echo | Drop | State | GmcpOut | MsspOut | AuthOut
"""Engine messages the front holds until their seal's changes are durable."""

_encoder = msgspec.msgpack.Encoder()
_to_engine = msgspec.msgpack.Decoder(list[ToEngine])
_to_front = msgspec.msgpack.Decoder(list[ToFront])


T = TypeVar("T")


class _Tagged(msgspec.Struct, array_like=True):
    tag: str
    version: int


def encode(messages: Sequence[ToEngine] | Sequence[ToFront]) -> bytes:
    """One frame's payload. Lone surrogates (not UTF-8) in strings become "?"."""
    try:
        return _encoder.encode(messages)
    except UnicodeEncodeError:
        return _encoder.encode([_clean(message) for message in messages])


def _clean(message: msgspec.Struct) -> msgspec.Struct:
    changes = {
        name: value.encode("utf-8", "replace").decode("utf-8")
        for name, value in msgspec.structs.asdict(message).items()
        if isinstance(value, str)
    }
    return msgspec.structs.replace(message, **changes)


def decode_to_engine(payload: bytes) -> list[ToEngine]:
    """A frame the front sent. Raises ProtocolError (a first ``Attach`` of another
    version names both versions)."""
    messages = _decode(_to_engine, payload, "attach")
    for message in messages:
        if isinstance(message, Attach):
            check_version(message.version, "front")
    return messages


def decode_to_front(payload: bytes) -> list[ToFront]:
    """A frame the engine sent. Raises ProtocolError."""
    messages = _decode(_to_front, payload, "hello")
    for message in messages:
        if isinstance(message, EngineHello):
            check_version(message.version, "engine")
    return messages


def check_version(version: int, who: str) -> None:
    if not OLDEST_FRONT_PROTOCOL <= version <= FRONT_PROTOCOL:
        raise ProtocolError(
            f"the {who} speaks front protocol {version}; this process speaks"
            f" {OLDEST_FRONT_PROTOCOL} to {FRONT_PROTOCOL}"
        )


def _decode(decoder: msgspec.msgpack.Decoder[list[T]], payload: bytes, hello: str) -> list[T]:
    try:
        return decoder.decode(payload)
    except msgspec.DecodeError as exc:
        try:  # another release's hello may not fit our types: name its version instead
            first = msgspec.msgpack.decode(payload, type=list[_Tagged])[:1]
        except msgspec.DecodeError:
            first = []
        if first and first[0].tag == hello:
            check_version(first[0].version, "front" if hello == "attach" else "engine")
        raise ProtocolError(f"bad front frame: {exc}") from None

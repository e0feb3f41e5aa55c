"""Messages between a running server and its hot-upgrade replacement (pure, no I/O).

The conversation (the control channel is ``moo/upgrade/channel.py``; the steps are
handoff.py's, handover.py's and adopt.py's):

    replacement -> old   Hello {protocol, version, pid, reads, accepts, checks}   (JSON)
    old -> replacement   Precopy {now}        level 1, while the old server still serves
    old -> replacement   Output / Input {sid, ...}   big unsent output or unread lines
    old -> replacement   Sessions {items}  + one fd per item   (repeated)
    old -> replacement   Done {sessions, changed, gone}
    replacement -> old   Prebuilt {sessions}
    old -> replacement   Freeze {level, position, listeners, gate_pid, ...}  + lock, listeners
    old -> replacement   Output / Input / Sessions, Updates {items} (no fds), Done
    replacement -> old   Ready {sessions}     (or Error {reason} at any step)
    old -> replacement   Go {frozen_at}
    replacement -> old   Serving {}           the old server's point of no return
    (level 3: old -> replacement Restart {command}, then the old server exits)

Encoding: everything after HELLO is msgpack maps tagged by ``"t"``. Not ``array_like``:
the ~20 small messages of an upgrade are not where its time goes (the session items
are), and a map keeps ERROR one shape in both encodings. HELLO, and an ERROR sent before
it, are JSON: a server of any release can read the ``protocol`` field of a newer or
older replacement's HELLO and refuse it naming both versions (``decode_hello``), and
the operator can read it in a trace.

The session items (``{"session": Session.export_state(), "conn":
Connection.export_state()}``) stay validated dicts: ``Session.from_state`` and the codecs'
``from_state`` check them on arrival, and they are versioned by ``reads()`` in HELLO.
They are encoded once by the sender (``encode_item``) and spliced into SESSIONS/UPDATES
as ``msgspec.Raw``.

Timing (tests/unit/test_protocol_upgrade.py, 1000 real exported telnet sessions, a
shared 2-core machine, best of 20): encoding every item and decoding its batches takes
2.95 ms with msgpack against 3.30 ms with the msgspec JSON of protocol 2; the whole
pre-copy pass over the channel (export, fds, rebuild of the items) is 7.3-8.9 ms best of
15, against 7.8-8.4 ms before: within the noise, as the items, not the envelopes, are
the cost.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from moo.errors import ProtocolError

HANDOFF_PROTOCOL = 3
"""3: typed msgpack messages after a JSON HELLO; 2: JSON dicts, sessions pre-copied."""

Count = Annotated[int, msgspec.Meta(ge=0)]
Pid = Annotated[int, msgspec.Meta(ge=1)]
Item = dict[str, Any]


class Hello(msgspec.Struct, frozen=True, tag="hello", tag_field="t"):
    """The replacement's first message: who it is, what it reads, its self-checks."""

    protocol: int
    version: str
    pid: Pid
    reads: dict[str, list[int]]
    accepts: list[str]
    checks: dict[str, str]
    load_seconds: Annotated[float, msgspec.Meta(ge=0)]


class _Message(msgspec.Struct, frozen=True, tag_field="t"):
    pass


class Error(_Message, frozen=True, tag="error"):
    """Why the replacement gives up (JSON if before HELLO, so any release reads it)."""

    reason: str


class Precopy(_Message, frozen=True, tag="precopy"):
    now: float  # the time the sessions' ages were taken at (CLOCK_MONOTONIC)


class Output(_Message, frozen=True, tag="output"):
    sid: Count
    data: str  # base64, a chunk of the session's unsent output


class Input(_Message, frozen=True, tag="input"):
    sid: Count
    lines: list[str]


class Sessions(_Message, frozen=True, tag="sessions"):
    """A batch of sessions, one fd each, in order."""

    items: list[Item]


class Updates(_Message, frozen=True, tag="updates"):
    """Sessions changed since the pre-copy (no fds: the replacement has their sockets)."""

    items: list[Item]


class Done(_Message, frozen=True, tag="done"):
    sessions: Count  # live sessions
    changed: Count  # sent in this pass
    gone: list[int]  # pre-copied sessions closed since


class Prebuilt(_Message, frozen=True, tag="prebuilt"):
    sessions: Count


class Freeze(_Message, frozen=True, tag="freeze"):
    """The handover: with the data-dir lock and one fd per listener, in order."""

    level: Annotated[int, msgspec.Meta(ge=1, le=3)]
    position: Count  # the journal position the replacement catches up to
    listeners: list[str]
    gate_pid: Pid | None
    upgrade_id: int | None
    requested_by: str
    player: int | None
    command: list[str]
    serve_args: list[str]


class Ready(_Message, frozen=True, tag="ready"):
    sessions: Count


class Go(_Message, frozen=True, tag="go"):
    frozen_at: float  # when the freeze began (time.monotonic(), shared by processes)


class Serving(_Message, frozen=True, tag="serving"):
    pass


class Restart(_Message, frozen=True, tag="restart"):
    command: list[str]
    # Who asked (told how it went once the replacement serves); trailing defaults, so a
    # replacement of an older protocol still reads the message.
    requested_by: str = ""
    player: int | None = None


Message = (
    Error
    | Precopy
    | Output
    | Input
    | Sessions
    | Updates
    | Done
    | Prebuilt
    | Freeze
    | Ready
    | Go
    | Serving
    | Restart
)


class _SessionsOut(_Message, frozen=True, tag="sessions"):
    items: list[msgspec.Raw]


class _UpdatesOut(_Message, frozen=True, tag="updates"):
    items: list[msgspec.Raw]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Message)
_json_encoder = msgspec.json.Encoder()
_hello_decoder = msgspec.json.Decoder(Hello | Error)


class _Version(msgspec.Struct):
    protocol: object = None


def encode(message: Message) -> bytes:
    return _encoder.encode(message)


def decode(data: bytes) -> Message:
    """One message after HELLO. Raises ProtocolError."""
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError as error:
        raise ProtocolError(f"bad control message: {error}") from None


def encode_hello(message: Hello | Error) -> bytes:
    return _json_encoder.encode(message)


def decode_hello(data: bytes) -> Hello | Error:
    """The replacement's first message. Raises ProtocolError; for a HELLO of another
    protocol, one that names both versions (whatever else that release put in it)."""
    try:
        found = msgspec.json.decode(data, type=_Version).protocol
    except msgspec.DecodeError as error:
        raise ProtocolError(f"bad HELLO: {error}") from None
    if found is not None and found != HANDOFF_PROTOCOL:
        raise ProtocolError(
            f"it speaks handoff protocol {found!r}; this server speaks {HANDOFF_PROTOCOL}"
        )
    try:
        return _hello_decoder.decode(data)
    except msgspec.DecodeError as error:
        raise ProtocolError(f"bad HELLO: {error}") from None


def encode_item(item: Item) -> bytes:
    """One session item, encoded once (``batch`` splices it in)."""
    return _encoder.encode(item)


def batch(kind: str, encoded: list[bytes]) -> bytes:
    """SESSIONS or UPDATES from items already encoded."""
    raw = [msgspec.Raw(item) for item in encoded]
    if kind == "sessions":
        return _encoder.encode(_SessionsOut(raw))
    if kind == "updates":
        return _encoder.encode(_UpdatesOut(raw))
    raise ValueError(f"no batch message {kind!r}")

"""Frames between the SSH gate and the world server (pure, no I/O).

The gate (``moo/net/ssh_gate.py``) terminates SSH and hands each session to the
world server as a local Unix stream carrying these frames:

1. A frame is a 4-byte big-endian length, then that many bytes of UTF-8 JSON
   holding one object whose ``"t"`` names the message type. A frame longer than
   ``MAX_FRAME`` is a protocol error.
2. gate -> world: ``auth`` (first frame of a session socket), ``open``, ``line``,
   ``resize``, ``close``; ``control`` on the gate's one lifeline socket.
3. world -> gate: ``auth`` (``ok`` + ``reason``), ``out``, ``echo``, ``close``.

``FrameDecoder`` only frames and checks ``"t"``; each side checks the fields of
the messages it receives. ``GateServerCodec`` is the world's side of a session
socket and mimics the telnet codec (bytes in, events out, bytes to send), so a
gate session is just another connection to the world and survives a hot upgrade
through ``get_state``/``from_state`` like a telnet one.

Why hand-written: the format is 30 lines of framing; a library (msgspec, netstrings)
would not remove the validation, which is the part that matters.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any

from moo.errors import ProtocolError
from moo.net.events import (
    AuthRequest,
    ControlHello,
    Event,
    LineReceived,
    LineTooLong,
    PeerClosed,
    SessionOpen,
    WindowSize,
)

MAX_FRAME = 65536
"""Largest frame payload in bytes (the 4-byte header not counted)."""

MAX_TERM_DIMENSION = 65535
"""Largest terminal width/height accepted in ``open`` and ``resize``."""

MESSAGE_TYPES = frozenset({"auth", "open", "line", "resize", "close", "control", "out", "echo"})
AUTH_METHODS = frozenset({"password", "publickey"})

_HEADER = 4
# Worst case JSON size of one character with ensure_ascii=False is 6 bytes (a control
# character written as \u001f); leave room for the {"t":"out","text":""} envelope.
_OUT_CHUNK_CHARS = (MAX_FRAME - 64) // 6


def encode_frame(msg: dict[str, object]) -> bytes:
    """Return ``msg`` as one frame. Raises ProtocolError if it is larger than MAX_FRAME.

    Lone surrogates in strings (which cannot be UTF-8) become "?".
    """
    payload = json.dumps(msg, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    data = payload.encode("utf-8", "replace")
    if len(data) > MAX_FRAME:
        raise ProtocolError(f"gate frame of {len(data)} bytes exceeds {MAX_FRAME}")
    return len(data).to_bytes(_HEADER, "big") + data


class FrameDecoder:
    """Split a byte stream into frames; each frame is a JSON object with a known ``"t"``.

    After a ProtocolError the stream is unusable: close the connection.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[dict[str, object]]:
        """Add bytes; return every complete frame, in order."""
        self._buf += data
        frames: list[dict[str, object]] = []
        while len(self._buf) >= _HEADER:
            length = int.from_bytes(self._buf[:_HEADER], "big")
            if length > MAX_FRAME:
                raise ProtocolError(f"gate frame of {length} bytes exceeds {MAX_FRAME}")
            end = _HEADER + length
            if len(self._buf) < end:
                break
            payload = bytes(self._buf[_HEADER:end])
            del self._buf[:end]
            frames.append(_parse_payload(payload))
        return frames

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)

    def get_state(self) -> dict[str, object]:
        """The partial frame, JSON-safe (base64), for a hot-upgrade handoff."""
        return {"buf": base64.b64encode(bytes(self._buf)).decode("ascii")}

    @classmethod
    def from_state(cls, state: object) -> FrameDecoder:
        """Rebuild a decoder from ``get_state()``. Raises ProtocolError on a malformed state."""
        if not isinstance(state, dict) or not isinstance(state.get("buf"), str):
            raise ProtocolError("bad FrameDecoder state")
        try:
            buf = base64.b64decode(state["buf"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError("bad FrameDecoder state: buffer is not base64") from exc
        decoder = cls()
        decoder._buf = bytearray(buf)
        return decoder


def _parse_payload(payload: bytes) -> dict[str, object]:
    try:
        msg: Any = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"gate frame is not UTF-8 JSON: {exc}") from exc
    if not isinstance(msg, dict):
        raise ProtocolError("gate frame is not a JSON object")
    kind = msg.get("t")
    if not isinstance(kind, str):
        raise ProtocolError('gate frame has no "t"')
    if kind not in MESSAGE_TYPES:
        raise ProtocolError(f"unknown gate frame type {kind!r}")
    return msg


# --- field access shared by both sides ---------------------------------------------


def str_field(msg: dict[str, object], name: str) -> str:
    """``msg[name]`` as a str. Raises ProtocolError if missing or not a string."""
    value = msg.get(name)
    if not isinstance(value, str):
        raise ProtocolError(f'gate frame "{msg.get("t")}" needs a string "{name}"')
    return value


def bool_field(msg: dict[str, object], name: str) -> bool:
    """``msg[name]`` as a bool. Raises ProtocolError if missing or not a boolean."""
    value = msg.get(name)
    if not isinstance(value, bool):
        raise ProtocolError(f'gate frame "{msg.get("t")}" needs a boolean "{name}"')
    return value


def int_field(msg: dict[str, object], name: str, *, low: int = 0, high: int = 2**31) -> int:
    """``msg[name]`` as an int in [low, high]. Raises ProtocolError otherwise (bools too)."""
    value = msg.get(name)
    if type(value) is not int or not low <= value <= high:
        raise ProtocolError(
            f'gate frame "{msg.get("t")}" needs an integer "{name}" in {low}..{high}'
        )
    return value


def clean_text(text: str) -> str:
    """``text`` with lone surrogates (possible via JSON \\ud800 escapes) replaced by "?"."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


# --- the world's side of a session socket ------------------------------------------


class GateServerCodec:
    """World side of one gate socket: bytes in -> events; replies -> bytes.

    Same duck-typed interface as the telnet codec: ``start()``, ``feed()``,
    ``take_output()``, ``encode_text()``, ``set_echo()``, state round trip.
    """

    def __init__(self, *, max_line_bytes: int = 4096) -> None:
        self._max_line_bytes = max_line_bytes
        self._decoder = FrameDecoder()
        self._echo_off = False
        self._window: tuple[int, int] | None = None
        self._terminal_type: str | None = None

    def start(self) -> bytes:
        """Bytes to send when the connection opens: none, the gate speaks first."""
        return b""

    def feed(self, data: bytes) -> list[Event]:
        """Decode bytes from the gate into events. Raises ProtocolError on a bad frame."""
        return [self._event(msg) for msg in self._decoder.feed(data)]

    def _event(self, msg: dict[str, object]) -> Event:
        kind = msg["t"]
        if kind == "line":
            text = clean_text(str_field(msg, "text"))
            length = len(text.encode("utf-8"))
            if length > self._max_line_bytes:
                return LineTooLong(length)
            return LineReceived(text)
        if kind == "resize":
            cols = int_field(msg, "cols", high=MAX_TERM_DIMENSION)
            rows = int_field(msg, "rows", high=MAX_TERM_DIMENSION)
            self._window = (cols, rows)
            return WindowSize(cols, rows)
        if kind == "auth":
            method = str_field(msg, "method")
            if method not in AUTH_METHODS:
                raise ProtocolError(f"unknown auth method {method!r}")
            return AuthRequest(
                clean_text(str_field(msg, "user")), method, clean_text(str_field(msg, "secret"))
            )
        if kind == "open":
            term = clean_text(str_field(msg, "term"))
            cols = int_field(msg, "cols", high=MAX_TERM_DIMENSION)
            rows = int_field(msg, "rows", high=MAX_TERM_DIMENSION)
            self._terminal_type = term
            self._window = (cols, rows)
            return SessionOpen(term, cols, rows)
        if kind == "close":
            return PeerClosed(clean_text(str_field(msg, "reason")))
        if kind == "control":
            return ControlHello(int_field(msg, "pid", low=1))
        raise ProtocolError(f'gate frame "{kind}" is not sent by the gate')

    def take_output(self) -> bytes:
        """Negotiation bytes to send: never any (kept for the telnet codec's interface)."""
        return b""

    def encode_text(self, text: str) -> bytes:
        """``out`` frames carrying ``text`` (split when one frame would be too large)."""
        if not text:
            return b""
        try:
            return encode_frame({"t": "out", "text": text})
        except ProtocolError:
            pass
        return b"".join(
            encode_frame({"t": "out", "text": text[i : i + _OUT_CHUNK_CHARS]})
            for i in range(0, len(text), _OUT_CHUNK_CHARS)
        )

    def set_echo(self, server_echoes: bool) -> bytes:
        """Hide (True) or show (False) what the user types; b"" if already so."""
        if server_echoes == self._echo_off:
            return b""
        self._echo_off = server_echoes
        return encode_frame({"t": "echo", "on": not server_echoes})

    def encode_gmcp(self, package: str, payload: str = "") -> bytes:
        """Nothing: GMCP is telnet's (an SSH session has no side channel for it)."""
        return b""

    def encode_mssp(self, variables: Mapping[str, str | Sequence[str]]) -> bytes:
        """Nothing: MSSP is telnet's."""
        return b""

    @property
    def gmcp_enabled(self) -> bool:
        return False

    def end_compression(self) -> bytes:
        """Nothing: the gate's stream is never compressed."""
        return b""

    def resume_compression(self) -> bytes:
        return b""

    def encode_auth_result(self, ok: bool, reason: str = "") -> bytes:
        """The reply to an ``auth`` frame; after a refusal, close the socket."""
        if ok:
            return encode_frame({"t": "auth", "ok": True})
        return encode_frame({"t": "auth", "ok": False, "reason": reason})

    def encode_close(self, reason: str) -> bytes:
        """Ask the gate to show ``reason`` (if any) and end the SSH session."""
        return encode_frame({"t": "close", "reason": reason})

    @property
    def echo_off(self) -> bool:
        return self._echo_off

    @property
    def window(self) -> tuple[int, int] | None:
        return self._window

    @property
    def terminal_type(self) -> str | None:
        return self._terminal_type

    def get_state(self) -> dict[str, object]:
        """Everything needed to carry this connection across a hot upgrade, JSON-safe."""
        return {
            "decoder": self._decoder.get_state(),
            "max_line_bytes": self._max_line_bytes,
            "echo_off": self._echo_off,
            "window": list(self._window) if self._window is not None else None,
            "terminal_type": self._terminal_type,
        }

    @classmethod
    def from_state(cls, state: object) -> GateServerCodec:
        """Rebuild from ``get_state()``. Raises ProtocolError on a malformed state."""
        if not isinstance(state, dict):
            raise ProtocolError("bad GateServerCodec state")
        max_line_bytes = state.get("max_line_bytes")
        echo_off = state.get("echo_off")
        window = state.get("window")
        term = state.get("terminal_type")
        if (
            type(max_line_bytes) is not int
            or not isinstance(echo_off, bool)
            or not (term is None or isinstance(term, str))
            or not (
                window is None
                or (
                    isinstance(window, list)
                    and len(window) == 2
                    and all(type(v) is int for v in window)
                )
            )
        ):
            raise ProtocolError("bad GateServerCodec state")
        codec = cls(max_line_bytes=max_line_bytes)
        codec._decoder = FrameDecoder.from_state(state.get("decoder"))
        codec._echo_off = echo_off
        codec._window = (window[0], window[1]) if window is not None else None
        codec._terminal_type = term
        return codec

"""Frames between the SSH gate and the world server (pure, no I/O).

The gate (``moo/net/ssh_gate.py``) terminates SSH and hands each session to the
world server as a local Unix stream carrying these frames:

1. A frame is a 4-byte big-endian length, then that many bytes of one msgpack
   message of ``moo/protocol/gate.py`` (which lists the conversation and its
   version at hello). A frame longer than ``MAX_FRAME`` is a protocol error.
2. ``FrameDecoder`` frames and decodes; msgspec checks each message's fields
   (types, ranges) as it decodes, and the first frame of a socket its version.
3. ``GateServerCodec`` is the world's side of a session socket and mimics the
   telnet codec (bytes in, events out, bytes to send), so a gate session is just
   another connection to the world and survives a hot upgrade through
   ``get_state``/``from_state`` like a telnet one.

Why hand-written framing: it is 20 lines (a length prefix); the messages are msgspec's.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from typing import Generic, TypeVar

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
from moo.protocol import gate
from moo.protocol.gate import MAX_TERM_DIMENSION as MAX_TERM_DIMENSION

MAX_FRAME = 65536
"""Largest frame payload in bytes (the 4-byte header not counted)."""

_HEADER = 4
# A character is at most 4 bytes of UTF-8 in msgpack; leave room for the envelope.
_OUT_CHUNK_CHARS = (MAX_FRAME - 64) // 4

M = TypeVar("M")


def encode_frame(msg: gate.Message) -> bytes:
    """Return ``msg`` as one frame. Raises ProtocolError if it is larger than MAX_FRAME.

    Lone surrogates in strings (which cannot be UTF-8) become "?".
    """
    data = gate.encode(msg)
    if len(data) > MAX_FRAME:
        raise ProtocolError(f"gate frame of {len(data)} bytes exceeds {MAX_FRAME}")
    return len(data).to_bytes(_HEADER, "big") + data


class FrameDecoder(Generic[M]):
    """Split a byte stream into frames, each decoded by ``decode`` (the world reads
    ``gate.decode_from_gate``, the gate ``gate.decode_to_gate``).

    After a ProtocolError the stream is unusable: close the connection.
    """

    def __init__(self, decode: Callable[[bytes], M], *, max_frame: int = MAX_FRAME) -> None:
        self._decode = decode
        self._max_frame = max_frame
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[M]:
        """Add bytes; return every complete message, in order."""
        self._buf += data
        frames: list[M] = []
        while len(self._buf) >= _HEADER:
            length = int.from_bytes(self._buf[:_HEADER], "big")
            if length > self._max_frame:
                raise ProtocolError(f"frame of {length} bytes exceeds {self._max_frame}")
            end = _HEADER + length
            if len(self._buf) < end:
                break
            payload = bytes(self._buf[_HEADER:end])
            del self._buf[:end]
            frames.append(self._decode(payload))
        return frames

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)

    def get_state(self) -> dict[str, object]:
        """The partial frame, JSON-safe (base64), for a hot-upgrade handoff."""
        return {"buf": base64.b64encode(bytes(self._buf)).decode("ascii")}

    @classmethod
    def from_state(cls, state: object, decode: Callable[[bytes], M]) -> FrameDecoder[M]:
        """Rebuild a decoder from ``get_state()``. Raises ProtocolError on a malformed state."""
        if not isinstance(state, dict) or not isinstance(state.get("buf"), str):
            raise ProtocolError("bad FrameDecoder state")
        try:
            buf = base64.b64decode(state["buf"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError("bad FrameDecoder state: buffer is not base64") from exc
        decoder = cls(decode)
        decoder._buf = bytearray(buf)
        return decoder


# --- the world's side of a session socket ------------------------------------------


class GateServerCodec:
    """World side of one gate socket: bytes in -> events; replies -> bytes.

    Same duck-typed interface as the telnet codec: ``start()``, ``feed()``,
    ``take_output()``, ``encode_text()``, ``set_echo()``, state round trip.
    """

    def __init__(self, *, max_line_bytes: int = 4096) -> None:
        self._max_line_bytes = max_line_bytes
        self._decoder = FrameDecoder(gate.decode_from_gate)
        self._echo_off = False
        self._window: tuple[int, int] | None = None
        self._terminal_type: str | None = None

    def start(self) -> bytes:
        """Bytes to send when the connection opens: none, the gate speaks first."""
        return b""

    def feed(self, data: bytes) -> list[Event]:
        """Decode bytes from the gate into events. Raises ProtocolError on a bad frame."""
        return [self._event(msg) for msg in self._decoder.feed(data)]

    def _event(self, msg: gate.FromGate) -> Event:
        if isinstance(msg, gate.Line):
            length = len(msg.text.encode("utf-8"))
            if length > self._max_line_bytes:
                return LineTooLong(length)
            return LineReceived(msg.text)
        if isinstance(msg, gate.Resize):
            self._window = (msg.cols, msg.rows)
            return WindowSize(msg.cols, msg.rows)
        if isinstance(msg, gate.Auth):
            return AuthRequest(msg.user, msg.method, msg.secret)
        if isinstance(msg, gate.Open):
            self._terminal_type = msg.term
            self._window = (msg.cols, msg.rows)
            return SessionOpen(msg.term, msg.cols, msg.rows)
        if isinstance(msg, gate.Close):
            return PeerClosed(msg.reason)
        return ControlHello(msg.pid)

    def take_output(self) -> bytes:
        """Negotiation bytes to send: never any (kept for the telnet codec's interface)."""
        return b""

    def encode_text(self, text: str) -> bytes:
        """``out`` frames carrying ``text`` (split when one frame would be too large)."""
        if not text:
            return b""
        try:
            return encode_frame(gate.Out(text))
        except ProtocolError:
            pass
        return b"".join(
            encode_frame(gate.Out(text[i : i + _OUT_CHUNK_CHARS]))
            for i in range(0, len(text), _OUT_CHUNK_CHARS)
        )

    def set_echo(self, server_echoes: bool) -> bytes:
        """Hide (True) or show (False) what the user types; b"" if already so."""
        if server_echoes == self._echo_off:
            return b""
        self._echo_off = server_echoes
        return encode_frame(gate.Echo(not server_echoes))

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
        """The reply to an ``Auth`` frame; after a refusal, close the socket."""
        return encode_frame(gate.AuthReply(ok, "" if ok else reason))

    def encode_close(self, reason: str) -> bytes:
        """Ask the gate to show ``reason`` (if any) and end the SSH session."""
        return encode_frame(gate.Close(reason))

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
        codec._decoder = FrameDecoder.from_state(state.get("decoder"), gate.decode_from_gate)
        codec._echo_off = echo_off
        codec._window = (window[0], window[1]) if window is not None else None
        codec._terminal_type = term
        return codec

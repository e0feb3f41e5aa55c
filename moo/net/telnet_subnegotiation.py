"""Telnet subnegotiation bodies, both ways: what ``IAC SB ... IAC SE`` holds. No I/O.

This is step 3 of the telnet codec's pipeline (``moo/net/telnet_codec.py``): the codec's
IAC state machine collects a subnegotiation's bytes (``IAC IAC`` unescaped, at most
``MAX_SUBNEGOTIATION``) and hands a finished one to ``decode_subnegotiation``:

- NAWS (5 bytes: option, cols, rows as 16-bit numbers) -> ``WindowSize``;
- TTYPE IS <name> -> ``TerminalType`` (controls dropped, ASCII);
- GMCP <package> <json> -> ``GmcpReceived``, only while GMCP is on;
- anything else (or an empty name or package) -> None.

The other way, ``gmcp_frame`` and ``mssp_frame`` build the whole sequence the server
sends (the codec then sends it as it sends everything: after held replies, compressed
while MCCP2 is on). MSSP's table is the server's to tell; the codec only frames it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from moo.net.events import Event, GmcpReceived, TerminalType, WindowSize
from moo.net.telnet_lines import CONTROLS
from moo.net.telnet_options import GMCP, IAC, MSSP, NAWS, SB, SE, TTYPE, TTYPE_IS

MSSP_VAR: Final = 1
MSSP_VAL: Final = 2
_MSSP_RESERVED: Final = bytes((0, MSSP_VAR, MSSP_VAL, IAC))


def decode_subnegotiation(sb: bytes | bytearray, gmcp_on: bool) -> Event | None:
    """The event a complete subnegotiation (option byte, then content) makes, or None."""
    if not sb:
        return None
    if sb[0] == NAWS and len(sb) == 5:
        return WindowSize(sb[1] << 8 | sb[2], sb[3] << 8 | sb[4])
    if sb[0] == TTYPE and len(sb) > 2 and sb[1] == TTYPE_IS:
        name = sb[2:].translate(None, CONTROLS).decode("ascii", "replace")
        return TerminalType(name) if name else None
    if sb[0] == GMCP and gmcp_on:
        text = sb[1:].translate(None, CONTROLS).decode("utf-8", "replace")
        package, _, payload = text.strip().partition(" ")
        return GmcpReceived(package, payload.strip()) if package else None
    return None


def gmcp_frame(package: str, payload: str = "") -> bytes:
    """``IAC SB GMCP <package> <payload> IAC SE`` (payload: JSON text), IAC doubled."""
    body = f"{package} {payload}" if payload else package
    data = body.encode("utf-8", "replace").replace(b"\xff", b"\xff\xff")
    return bytes((IAC, SB, GMCP)) + data + bytes((IAC, SE))


def mssp_frame(variables: Mapping[str, str | Sequence[str]]) -> bytes:
    """``IAC SB MSSP VAR name VAL value ... IAC SE``; a list gives one VAL per item. Bytes
    MSSP reserves (NUL, VAR, VAL, IAC) are dropped from the text."""
    body = bytearray()
    for name, value in variables.items():
        body.append(MSSP_VAR)
        body += _mssp_text(name)
        for item in [value] if isinstance(value, str) else value:
            body.append(MSSP_VAL)
            body += _mssp_text(item)
    return bytes((IAC, SB, MSSP)) + bytes(body) + bytes((IAC, SE))


def _mssp_text(text: str) -> bytes:
    return text.encode("utf-8", "replace").translate(None, _MSSP_RESERVED)

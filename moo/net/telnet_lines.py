"""Telnet line framing: data bytes in, ``LineReceived`` / ``LineTooLong`` out. No I/O.

This is step 4 of the telnet codec's pipeline (``moo/net/telnet_codec.py``): once the
codec's IAC state machine has taken out the telnet commands, the data bytes it hands on
(``_data``; never CR, BS, DEL or IAC, which the state machine handles itself by calling
``_end_line`` and ``_erase``) are:

1. framed into lines: CR LF, CR NUL, bare LF and bare CR all end a line (a CR that ends
   one swallows a following LF or NUL, even in the next read: ``_pending_cr``);
2. edited: BS, DEL and ``IAC EC`` erase the last character (every byte of a UTF-8
   sequence), ``IAC EL`` the whole line;
3. cleaned: C0 control characters dropped, TAB made a space, decoded as UTF-8 with
   replacement (``decode_line``);
4. bounded: a line over ``max_line_bytes`` is not kept; it is reported once, as
   ``LineTooLong`` with its length, when its line ending arrives.

``LineFramer`` is the codec's base class rather than an object it holds, so the per-line
calls stay one method call each (``feed`` is the hot path, see the codec's docstring).
"""

from __future__ import annotations

from typing import Final

from moo.net.events import Event, LineReceived, LineTooLong

CONTROLS: Final = bytes(b for b in range(32) if b != 9) + b"\x7f"
_TAB_TO_SPACE: Final = bytes.maketrans(b"\t", b" ")


def decode_line(raw: bytes | bytearray) -> str:
    """A line's bytes as text: C0 controls dropped, TAB a space, UTF-8 with replacement."""
    return raw.translate(_TAB_TO_SPACE, CONTROLS).decode("utf-8", "replace")


class LineFramer:
    """The line buffer of one telnet connection (the codec's step 4)."""

    __slots__ = ("_discarding", "_dropped", "_line", "_max_line", "_pending_cr")

    def __init__(self, max_line_bytes: int) -> None:
        if max_line_bytes < 1:
            raise ValueError(f"max_line_bytes must be at least 1, got {max_line_bytes!r}")
        self._max_line = max_line_bytes
        self._line = bytearray()
        self._dropped = 0  # bytes of an overlong line seen so far
        self._discarding = False
        self._pending_cr = False  # a CR ended the last line; swallow a following LF or NUL

    def _data(self, data: bytes, start: int, end: int, events: list[Event]) -> None:
        """Plain data bytes (no CR, BS, DEL or IAC) in data[start:end]; may hold LFs."""
        if self._pending_cr:
            self._pending_cr = False
            if data[start] in (10, 0):
                start += 1
        while start < end:
            nl = data.find(b"\n", start, end)
            if nl < 0:
                self._append(data[start:end])
                return
            if self._line or self._discarding:
                self._append(data[start:nl])
                events.append(self._end_line())
            elif nl - start > self._max_line:
                events.append(LineTooLong(nl - start))
            else:
                events.append(LineReceived(decode_line(data[start:nl])))
            start = nl + 1

    def _append(self, chunk: bytes) -> None:
        if self._discarding:
            self._dropped += len(chunk)
        elif len(self._line) + len(chunk) > self._max_line:
            self._dropped = len(self._line) + len(chunk)
            self._line.clear()
            self._discarding = True
        else:
            self._line += chunk

    def _end_line(self) -> Event:
        if self._discarding:
            event: Event = LineTooLong(self._dropped)
            self._dropped = 0
            self._discarding = False
            return event
        text = decode_line(self._line)
        self._line.clear()
        return LineReceived(text)

    def _erase(self) -> None:
        """Erase the last character (all bytes of a UTF-8 sequence) of the current line."""
        line = self._line
        if self._discarding or not line:
            return
        i = len(line) - 1
        while i > 0 and len(line) - i < 4 and line[i] & 0xC0 == 0x80:
            i -= 1
        del line[i:]

    def _erase_line(self) -> None:
        """``IAC EL``: forget the line so far (an overlong one included)."""
        self._line.clear()
        self._dropped = 0
        self._discarding = False

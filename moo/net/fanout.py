"""One line to many connections: encoded once, and sent out in slices.

A line many players hear (a room hearing a ``say``, a crowd hearing "X has connected.")
goes through ``send_to_many``:

1. The text is encoded once for every telnet connection (``encode_plain``); each adds only
   what is its own (held negotiation bytes, MCCP2). Any other sink (the SSH gate's frames,
   a browser) encodes it itself.
2. The bytes join each connection's output buffer at once, so whatever is written to a
   connection later still leaves after them.
3. With a ``Pacer``, sending them is deferred: the pacer sends ``per_turn`` connections'
   buffers in each loop turn, the loop reading and answering in between, and sends to a
   connection at most once per ``interval`` (what comes meanwhile joins its buffer). A
   connection written to directly (a command's answer) flushes in its own turn as always,
   fanned-out lines and all, and is not waited for.

Why: 1000 players logging in at once in a room of 1000 is 1000 lines to ~500 listeners on
average. Sent in one burst per line, each burst held the loop for up to 12 ms of ``send``
calls (a loopback ``send`` also does the receiver's TCP work), and a playing player's
``look`` waited behind it on its way in and again on its way out.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Protocol

from moo.net.connection import Connection
from moo.net.telnet_codec import TelnetCodec, encode_plain

PER_TURN = 64
"""Connections a pacer flushes per loop turn: 64 loopback sends take ~1 ms."""

INTERVAL = 0.05
"""Seconds from one round of a pacer's flushes to the next."""


class TextSink(Protocol):
    def send_text(self, text: str) -> None: ...


class Pacer:
    """Connections with fanned-out output waiting to be sent, flushed in rounds.

    A round flushes the connections queued when it began, ``per_turn`` a loop turn, in the
    order they were first written to; each is queued once however many lines wait in its
    buffer. What is fanned out to a connection after its flush waits for the next round,
    which begins ``interval`` seconds after this one (at once if the pacer was idle that
    long): a connection gets at most one fanned-out send per interval, so the sends grow
    with the connections, not with connections x lines (a crowd of 1000 logging in: ~50
    "has connected." lines a second to each of up to 1000 listeners).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        per_turn: int = PER_TURN,
        interval: float = INTERVAL,
    ) -> None:
        if per_turn < 1:
            raise ValueError(f"per_turn must be at least 1, not {per_turn}")
        if interval < 0:
            raise ValueError(f"interval must not be negative, not {interval}")
        self.loop = loop
        self.per_turn = per_turn
        self.interval = interval
        self._round: deque[Connection] = deque()  # being flushed
        self._next: deque[Connection] = deque()  # waiting for the next round
        self._round_began = -interval
        self._scheduled = False  # a round or the rest of one is scheduled
        self.rounds = 0

    def __len__(self) -> int:
        return len(self._round) + len(self._next)

    def add(self, conn: Connection) -> None:
        """Queue ``conn`` (its ``write(..., pacer=self)`` does, once until it is flushed)."""
        self._next.append(conn)
        if not self._scheduled:
            self._scheduled = True
            self._schedule_round()

    def _schedule_round(self) -> None:
        wait = self._round_began + self.interval - self.loop.time()
        if wait > 0:
            self.loop.call_later(wait, self._begin_round)
        else:
            self.loop.call_soon(self._begin_round)

    def _begin_round(self) -> None:
        self._round_began = self.loop.time()
        self.rounds += 1
        self._round, self._next = self._next, self._round
        self._drain()

    def _drain(self) -> None:
        queued = self._round
        for _ in range(min(self.per_turn, len(queued))):
            queued.popleft().paced_flush()
        if queued:
            self.loop.call_soon(self._drain)  # after the loop has polled its sockets
        elif self._next:
            self._schedule_round()
        else:
            self._scheduled = False


def send_to_many(sinks: Iterable[TextSink], text: str, pacer: Pacer | None = None) -> None:
    """The same ``text`` to each of ``sinks``: encoded once for every telnet connection; sent
    in ``pacer``'s slices when one is given, else in the next loop turn."""
    plain: bytes | None = None
    for sink in sinks:
        if isinstance(sink, Connection) and isinstance(sink.codec, TelnetCodec):
            if plain is None:
                plain = encode_plain(text)
            sink.write(sink.codec.wire(plain), pacer)
        else:
            sink.send_text(text)

"""When the garbage collector runs: not while a world loads, not while players wait.

A loaded world is millions of long-lived objects: collecting while it loads doubled the
1M-object load, and once loaded it is frozen out of every later full collection. A hot
upgrade's session transfer allocates ~30 objects per session while every player waits;
collections there cost a third of it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No garbage collection in a short, allocation-heavy stretch the players wait on
    (a hot upgrade's session transfer: 56-65 ms -> 39-44 ms for 1000 sessions)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextmanager
def adopting() -> Iterator[None]:
    """GC off while a replacement rebuilds the sessions handed to it during the freeze,
    which then live as long as they are connected, so they are frozen out of later
    collections: the first collection after the pause otherwise scanned them all (3 ms
    at 1000 sessions, while every player waited). Session objects form no reference
    cycles, so nothing frozen here needs the cycle collector to be freed (what garbage
    the few milliseconds make is frozen too: a one-time, bounded leak)."""
    with gc_paused():
        yield
        gc.freeze()


@contextmanager
def loading_world() -> Iterator[None]:
    """One collection, then GC off while a world loads (its passes doubled the 1M-object
    load), and the loaded world frozen out of every later full collection. The collection
    comes first, while the heap is small: after a 1M-object load it walked 3M containers
    for 0.9 s of the start, to find nothing (a world holds no reference cycles, and what
    the load throws away refcounting frees; any cycle it left would be frozen with it, a
    one-time bounded leak)."""
    gc.collect()
    gc.disable()
    try:
        yield
        # Frozen before the collector is back on: the first allocation after enable()
        # collected the young generation, which held every object the load made (0.75 s).
        gc.freeze()
    finally:
        gc.enable()


@contextmanager
def precopying() -> Iterator[None]:
    """GC off while a hot upgrade's replacement builds the sessions of its pre-copy
    (long-lived, built while nobody waits), then one collection, so the garbage made
    meanwhile is collected before the rest is frozen out of later full collections."""
    with gc_paused():
        yield
    gc.collect()
    gc.freeze()


FULL_BY_COUNT_OFF = 1 << 30
"""Generation 2's threshold while the server schedules full collections itself."""


class FullCollections:
    """Full (generation 2) collections on the server's schedule, not CPython's.

    CPython starts a full collection when the objects promoted since the last one reach a
    quarter of the long-lived ones. A server with thousands of connections meets that
    every few seconds: each command's short-lived state (held by its session until the
    next command a second later) survives the young collections and is promoted, then
    dies. Each full collection scans every session and connection not frozen: measured
    with 5000 connections at one command a second each, 14 full collections in half a
    minute, 60-80 ms each, every player waiting (the p99 stalls bench/peers.py saw at 5000
    connections). So generation 2 is not started by allocation counts; one full
    collection runs every ``interval`` seconds instead (cyclic garbage waits at most that
    long). Generations 0 and 1 run as before.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self.loop = loop
        self.interval = interval
        self.last_ms = 0.0
        self.count = 0
        self._handle: asyncio.TimerHandle | None = None
        self._threshold: tuple[int, int, int] | None = None

    def start(self) -> None:
        if self.interval <= 0 or self._handle is not None:
            return
        if self._threshold is None:
            self._threshold = gc.get_threshold()
            young, middle, _ = self._threshold
            gc.set_threshold(young, middle, FULL_BY_COUNT_OFF)
        self._handle = self.loop.call_later(self.interval, self._collect)

    def _collect(self) -> None:
        began = time.perf_counter()
        gc.collect()
        self.last_ms = (time.perf_counter() - began) * 1000
        self.count += 1
        log.debug("full garbage collection: %.1f ms", self.last_ms)
        self._handle = self.loop.call_later(self.interval, self._collect)

    def pause(self) -> None:
        """No scheduled collection for now (a hot upgrade's freeze); ``start`` again."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def stop(self) -> None:
        """Back to CPython's own schedule."""
        self.pause()
        if self._threshold is not None:
            gc.set_threshold(*self._threshold)
            self._threshold = None

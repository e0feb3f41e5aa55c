"""A lag meter: how long the event loop was stalled, measured, not guessed.

A task wakes every ``tick`` seconds and records how late it woke; the worst lateness
during a window (a checkpoint) is that window's longest stall. Commands that arrived
during a stall waited up to that long.
"""

from __future__ import annotations

import asyncio
import contextlib
import time


class LagMeter:
    def __init__(self, tick: float = 0.001) -> None:
        self.tick = tick
        self.max_stall = 0.0
        self.stalls_over_10ms = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(self.tick)
            now = time.perf_counter()
            stall = max(0.0, now - last - self.tick)
            if stall > self.max_stall:
                self.max_stall = stall
            if stall > 0.010:
                self.stalls_over_10ms += 1
            last = now

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> float:
        """Stop measuring; return the longest stall seen, in seconds."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        return self.max_stall

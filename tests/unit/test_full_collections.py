"""Full garbage collections run on the server's schedule (moo/gc_control.py)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

from moo.gc_control import FULL_BY_COUNT_OFF, FullCollections


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """A full collection of a big test process takes its time: wait for it, not a set time."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "no scheduled collection came"
        await asyncio.sleep(0.02)


async def test_full_collections_run_on_schedule_and_not_by_allocation_counts() -> None:
    before = gc.get_threshold()
    collections = FullCollections(asyncio.get_running_loop(), 0.05)
    collections.start()
    try:
        assert gc.get_threshold() == (before[0], before[1], FULL_BY_COUNT_OFF)
        full_before = gc.get_stats()[2]["collections"]
        await until(lambda: collections.count >= 2)
        assert gc.get_stats()[2]["collections"] - full_before >= collections.count
        collections.pause()  # a hot upgrade's freeze: none until started again
        paused_at = collections.count
        await asyncio.sleep(0.15)
        assert collections.count == paused_at
        collections.start()
        await until(lambda: collections.count > paused_at)
    finally:
        collections.stop()
    assert gc.get_threshold() == before


async def test_interval_zero_leaves_the_collector_as_cpython_runs_it() -> None:
    before = gc.get_threshold()
    collections = FullCollections(asyncio.get_running_loop(), 0)
    collections.start()
    await asyncio.sleep(0.05)
    assert gc.get_threshold() == before and collections.count == 0
    collections.stop()
    assert gc.get_threshold() == before

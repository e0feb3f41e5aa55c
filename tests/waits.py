"""Waiting for a condition in a test: poll it, and fail naming it when it does not come."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(
    check: Callable[[], object],
    what: str = "the condition",
    timeout: float = 10.0,
    poll: float = 0.01,
) -> None:
    """Return once ``check()`` is true; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(poll)

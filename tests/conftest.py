"""Test-run wide fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server_process import stop_leftovers


@pytest.fixture(scope="session", autouse=True)
def _no_server_outlives_the_run() -> Iterator[None]:
    """Servers a failed test left running are stopped when the run ends."""
    yield
    stop_leftovers()

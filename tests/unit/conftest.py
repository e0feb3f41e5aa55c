"""Fixtures shared by the unit tests: a records database on a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from moo.persist.records import Records
from tests.unit.sqlite_helpers import url


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "records.db"


@pytest.fixture
def records(db_path: Path) -> Iterator[Records]:
    opened = Records.open(url(db_path))
    yield opened
    opened.close()

"""Fixtures shared by the unit tests: a records database on a real SQLite file, and the same
on a real PostgreSQL server the run starts (tests/postgres_server.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from moo.persist.records import Records
from tests.postgres_server import PostgresServer
from tests.unit.sqlite_helpers import url


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "records.db"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def records(request: pytest.FixtureRequest, db_path: Path) -> Iterator[Records]:
    """Records on each backend the server supports, each test in a database of its own."""
    if request.param == "sqlite":
        opened = Records.open(url(db_path))
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        opened = Records.open(server.new_database())
    yield opened
    opened.close()


@pytest.fixture
def sqlite_records(db_path: Path) -> Iterator[Records]:
    """Records on SQLite, for tests that look at the file itself."""
    opened = Records.open(url(db_path))
    yield opened
    opened.close()

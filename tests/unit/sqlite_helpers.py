"""Shared by the records tests: a database URL for a path, and plain-sqlite3 access."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def raw(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Run SQL on the file with plain sqlite3, outside Records."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            return conn.execute(sql).fetchall()
    finally:
        conn.close()

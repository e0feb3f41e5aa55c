"""A spare engine goes on at ``go``, ends at EOF, and refuses to run code older than
what is on disk (moo/engine/spare.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from moo.engine.spare import code_fingerprint, wait_for_go
from moo.protocol.front import SPARE_STALE


def code(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "notes.txt").write_text("not code\n")
    return tmp_path / "pkg"


def test_go_lets_the_spare_go_on(tmp_path: Path) -> None:
    assert wait_for_go(iter(["\n", "go\n"]), [code(tmp_path)]) is None


def test_eof_ends_the_spare_quietly(tmp_path: Path) -> None:
    root = code(tmp_path)
    assert wait_for_go(iter([]), [root]) == 0
    assert wait_for_go(iter(["something else\n"]), [root]) == 0


def test_code_changed_while_waiting_makes_the_spare_step_aside(tmp_path: Path) -> None:
    root = code(tmp_path)

    def upgrade_then_go() -> Iterator[str]:
        (root / "a.py").write_text("x = 2  # a new release\n")
        yield "go\n"

    assert wait_for_go(upgrade_then_go(), [root]) == SPARE_STALE  # what the front looks for


def test_a_new_module_or_a_touched_one_changes_the_fingerprint(tmp_path: Path) -> None:
    root = code(tmp_path)
    before = code_fingerprint([root])
    (root / "notes.txt").write_text("still not code\n")
    assert code_fingerprint([root]) == before
    stat = (root / "a.py").stat()
    os.utime(root / "a.py", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    touched = code_fingerprint([root])
    assert touched != before
    (root / "b.py").write_text("")
    assert code_fingerprint([root]) != touched

"""Every verb of LambdaCore (LambdaCore-17May04.db, LambdaMOO textdump format 4, the
classic core database) compiles: the parser, the compiler and the builtin table cover what
a real core uses. The database is the project's reference copy (``MOO_LAMBDACORE_DB``, or
the shared data folder beside the checkout on the project's machines); it is not part of
the repository."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from moo.lang.compiler import compile_program
from moo.lang.errors import MooSyntaxError

REPO = Path(__file__).resolve().parents[3]
PLACES = (REPO.parent / "shared" / "data", Path("/work/shared/data"))
NAME = "LambdaCore-17May04.db"
HEADER = re.compile(r"#(\d+):(\d+)")


def lambdacore() -> Path:
    given = os.environ.get("MOO_LAMBDACORE_DB")
    candidates = [Path(given)] if given else [place / NAME for place in PLACES]
    for path in candidates:
        if path.is_file():
            return path
    pytest.fail(f"{NAME} not found (set MOO_LAMBDACORE_DB); looked in {candidates}")


def verb_programs(lines: list[str]) -> list[tuple[str, list[str]]]:
    """The textdump's programs section, after the objects: as many as the header's program
    count, each ``#obj:verb`` then its lines up to ``.``. It starts at the first such
    header from which all of them read (a property's text could look like one)."""
    count = int(lines[2])
    for start in (i for i, line in enumerate(lines) if HEADER.fullmatch(line)):
        programs = _read_programs(lines, start, count)
        if programs is not None:
            return programs
    raise AssertionError("no programs section")


def _read_programs(lines: list[str], at: int, count: int) -> list[tuple[str, list[str]]] | None:
    programs = []
    for _ in range(count):
        if at >= len(lines) or not HEADER.fullmatch(lines[at]):
            return None
        try:
            end = lines.index(".", at + 1)
        except ValueError:
            return None
        programs.append((lines[at], lines[at + 1 : end]))
        at = end + 1
    return programs


def test_every_lambdacore_verb_compiles() -> None:
    text = lambdacore().read_text(encoding="latin-1")
    lines = text.split("\n")
    assert lines[0] == "** LambdaMOO Database, Format Version 4 **"
    programs = verb_programs(lines)
    assert len(programs) == 1727
    failed = []
    for name, code in programs:
        try:
            compile_program(code)
        except MooSyntaxError as error:
            failed.append(f"{name}: {error}")
    assert failed == []

"""Deleting checkpoints and measuring the data directory: ``moo checkpoint rm|prune|usage``.

Like ``manage.py`` (whose ``find``, ``verify_one`` and records lookup this uses), every
function here works on the files, server running or not, returns data and raises
``CheckpointError``; ``moo/cli/checkpoint.py`` prints.

1. ``rm`` refuses to delete the only checkpoint that verifies; it deletes the file's
   records too (found by name and digest, as ``manage.py`` says).
2. ``prune`` keeps the newest ``keep`` generations (damaged ones count, as in the
   server's own pruning), then drops any older than ``max_age`` and, with
   ``persist.max_checkpoint_bytes``, the oldest beyond that total; it never deletes the
   newest checkpoint that verifies, refuses when none does, and leaves records and
   journal segments alone (history stays; the server prunes the journal).
3. ``usage`` counts files and bytes: checkpoints, journal, records (the default SQLite
   file and its WAL) and whatever was set aside.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from moo.errors import CheckpointError
from moo.files import fsync_directory
from moo.persist import journal_format as jf
from moo.persist import snapshot
from moo.persist.manage import (
    ASIDE_PREFIX,
    DataDir,
    Entry,
    Ident,
    entries,
    find,
    match_records,
    newest_good,
    ok_records,
    open_records,
    verify_one,
)
from moo.persist.records import RECORDS_FILES
from moo.persist.recovery import list_checkpoints

_AGE = re.compile(r"(\d+)([dhm])")
_AGE_UNITS = {"d": 86400, "h": 3600, "m": 60}


@dataclass(frozen=True)
class Removed:
    generation: int
    path: Path
    records_deleted: int


@dataclass(frozen=True)
class Pruned:
    removed: list[Entry]
    kept: list[Entry]
    protected: int  # the newest generation that verifies
    dry_run: bool


@dataclass(frozen=True)
class UsageRow:
    name: str
    count: int
    bytes: int


def parse_age(text: str) -> float:
    """Seconds in ``7d``, ``12h`` or ``30m``. Raises ValueError naming the bad text."""
    match = _AGE.fullmatch(text)
    if match is None or int(match[1]) == 0:
        raise ValueError(
            f"--max-age: expected a whole number > 0 and a unit d, h or m "
            f"(like 7d, 12h, 30m), got {text!r}"
        )
    return float(int(match[1]) * _AGE_UNITS[match[2]])


# -- rm / prune ------------------------------------------------------------------------------


def _delete_records(data: DataDir, path: Path, digest: str | None) -> int:
    with open_records(data) as records:
        if records is None:
            return 0
        found = match_records(ok_records(records), path, digest)
        if digest is None:
            found = found[:1]
        for record in found:
            records.delete_checkpoint_sync(record.id)
        return len(found)


def remove(data: DataDir, ident: Ident) -> Removed:
    """Delete one checkpoint file and its records.

    Refuses (CheckpointError) when it is the only checkpoint that verifies. Atomic for
    the file (one unlink, directory fsynced); the records go after it.
    """
    generation, path = find(data, ident)
    checked = verify_one(generation, path)
    if checked.error is None and newest_good(data, besides=generation) is None:
        raise CheckpointError(
            f"refusing to delete checkpoint {generation}: it is the only checkpoint that "
            "verifies, so the world could not be recovered without it"
        )
    digest = checked.header.digest if checked.header else None
    if digest is None:
        try:
            digest = snapshot.read_header(path).digest
        except CheckpointError:
            digest = None
    try:
        path.unlink()
        fsync_directory(path.parent)
    except OSError as error:
        raise CheckpointError(f"cannot delete {path}: {error.strerror}") from None
    return Removed(generation, path, _delete_records(data, path, digest))


def prune(
    data: DataDir,
    *,
    keep: int,
    max_age: float | None = None,
    max_bytes: int = 0,
    now: float | None = None,
    dry_run: bool = False,
) -> Pruned:
    """Delete checkpoints beyond ``keep``, older than ``max_age`` s, or over ``max_bytes``.

    Returns what was (or, with ``dry_run``, would be) removed and kept. Never deletes the
    newest checkpoint that verifies; raises CheckpointError when none verifies (then
    nothing is deleted). Each deletion is one unlink; the directory is fsynced at the end.
    """
    if keep < 1:
        raise CheckpointError("prune keeps at least one checkpoint (keep >= 1)")
    now = time.time() if now is None else now
    protected = newest_good(data)
    if protected is None:
        raise CheckpointError(
            f"no checkpoint in {data.checkpoints} verifies; prune deletes nothing "
            "(see `moo checkpoint verify`)"
        )
    removed: list[Entry] = []
    kept: list[Entry] = []
    total = 0
    for entry in entries(data, []):  # records play no part: not opened
        created = entry.header.created if entry.header else entry.path.stat().st_mtime
        drop = (
            len(kept) >= keep
            or (max_age is not None and now - created > max_age)
            or (max_bytes > 0 and bool(kept) and total + entry.size > max_bytes)
        )
        if drop and entry.generation != protected:
            removed.append(entry)
        else:
            kept.append(entry)
            total += entry.size
    if not dry_run and removed:
        for entry in removed:
            try:
                entry.path.unlink(missing_ok=True)
            except OSError as error:
                raise CheckpointError(f"cannot delete {entry.path}: {error.strerror}") from None
        fsync_directory(data.checkpoints)
    return Pruned(removed, kept, protected, dry_run)


# -- usage -----------------------------------------------------------------------------------


def _files(paths: list[Path]) -> UsageRow:
    return UsageRow("", len(paths), sum(p.stat().st_size for p in paths if p.exists()))


def usage(data: DataDir) -> list[UsageRow]:
    """(name, file count, bytes) for checkpoints, journal, records, set aside, and total.

    Records: ``DATA_DIR/moo.sqlite`` and its WAL files (a ``records_url`` elsewhere is not
    counted). Set aside: ``restored-aside-*`` folders and ``*.damaged`` segments.
    Raises CheckpointError if a directory cannot be read.
    """
    try:
        ckpts = [p for _g, p in list_checkpoints(data.checkpoints)]
        segments = [p for _f, p in jf.list_segments(data.journal)]
        records = [p for p in (data.root / n for n in RECORDS_FILES) if p.is_file()]
        aside = [
            p
            for folder in sorted(data.root.glob(ASIDE_PREFIX + "*"))
            for p in folder.rglob("*")
            if p.is_file()
        ]
        if data.journal.is_dir():
            aside += sorted(data.journal.glob("*.damaged"))
        rows = [
            UsageRow(name, row.count, row.bytes)
            for name, row in (
                ("checkpoints", _files(ckpts)),
                ("journal", _files(segments)),
                ("records", _files(records)),
                ("set aside", _files(aside)),
            )
        ]
    except OSError as error:
        raise CheckpointError(f"cannot measure {data.root}: {error.strerror}") from None
    rows.append(UsageRow("total", sum(r.count for r in rows), sum(r.bytes for r in rows)))
    return rows

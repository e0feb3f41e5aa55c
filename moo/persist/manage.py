"""Checkpoint management over a data directory: what ``moo checkpoint`` does, without printing.

Every function here works on the files (server running or not), returns data and raises
``CheckpointError``; ``moo/cli/checkpoint.py`` prints. This module finds and inspects
checkpoints (``list``, ``show``, ``verify``) and holds what its siblings share (``DataDir``,
``find``, the records lookup, set-aside folders). Deleting them and measuring the data
directory (``rm``, ``prune``, ``usage``: ``cleanup.py``), going back to a checkpoint
(``restore.py``) and moving a world between machines (``archive.py``) are ideas of their
own and live beside it.

Choices:

1. An ID is a checkpoint's generation, the number in ``ckpt-NNNNNNNN.mck``, or ``latest``
   (the highest generation on disk, whether or not it verifies).
2. A file's SQLite record is found by file name AND world digest, newest record first:
   the server records the path as it was given to it (perhaps relative to another
   working directory), and after a ``restore`` a generation number is used again, so a
   bare path could name an older, different file.
3. ``list``/``show`` read headers only (cheap); ``verify``, ``rm``, ``prune``,
   ``restore`` and ``archive`` run the full streamed checksum where they depend on it.
4. ``rm`` and ``prune`` never delete the newest checkpoint that verifies (``cleanup.py``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from moo.errors import CheckpointError
from moo.persist import journal_format as jf
from moo.persist import snapshot
from moo.persist.records import RECORDS_FILE, CheckpointRecord, Records, default_url
from moo.persist.recovery import list_checkpoints
from moo.persist.snapshot import SnapshotHeader

Ident = int | Literal["latest"]
ASIDE_PREFIX = "restored-aside-"


@dataclass(frozen=True)
class DataDir:
    """A data directory and where its records are (None: ``DATA_DIR/moo.sqlite``)."""

    root: Path
    records_url: str | None = None

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def journal(self) -> Path:
        return self.root / "journal"


@dataclass(frozen=True)
class Entry:
    """One checkpoint file as ``list`` sees it (header only; ``damage`` if it is bad)."""

    generation: int
    path: Path
    size: int
    header: SnapshotHeader | None
    damage: str | None
    record: CheckpointRecord | None = None


@dataclass(frozen=True)
class Listing:
    entries: list[Entry]  # newest first
    records_note: str | None = None  # why records could not be read, if they could not


@dataclass(frozen=True)
class Coverage:
    """The journal after a checkpoint's position: what rolling it forward would replay."""

    segments: list[tuple[str, int]]  # (name, bytes) of segments that may hold such frames
    frames: int
    last_lsn: int
    problem: str | None  # a gap or damage: recovery would refuse or lose frames
    torn_tail: bool  # the newest segment ends in a partial frame (a write in progress)


@dataclass(frozen=True)
class Details:
    entry: Entry
    coverage: Coverage | None  # None when the header is damaged (no position to start at)
    records_note: str | None


@dataclass(frozen=True)
class Verified:
    generation: int
    path: Path
    header: SnapshotHeader | None
    error: str | None


# -- parsing (pure; ValueError is a usage error) ---------------------------------------------


def parse_id(text: str) -> Ident:
    """``latest`` or a generation number. Raises ValueError naming the bad text."""
    if text == "latest":
        return "latest"
    if not (text.isascii() and text.isdigit()) or int(text) == 0:
        raise ValueError(f"checkpoint ID must be a generation number or 'latest', got {text!r}")
    return int(text)


def reason_of(error: CheckpointError, path: Path) -> str:
    """The error's text without the leading ``<path>: `` that snapshot.py puts on it."""
    text = str(error)
    return text[len(str(path)) + 2 :] if text.startswith(f"{path}: ") else text


# -- finding checkpoints and their records ---------------------------------------------------


def find(data: DataDir, ident: Ident) -> tuple[int, Path]:
    """(generation, path) of one checkpoint. Raises CheckpointError if there is no such file."""
    found = list_checkpoints(data.checkpoints)
    if not found:
        raise CheckpointError(f"no checkpoints in {data.checkpoints}")
    if ident == "latest":
        return found[-1]
    for generation, path in found:
        if generation == ident:
            return generation, path
    have = ", ".join(str(g) for g, _ in found)
    raise CheckpointError(f"no checkpoint {ident} in {data.checkpoints} (there are: {have})")


@contextmanager
def open_records(data: DataDir) -> Iterator[Records | None]:
    """The data dir's records, or None when it has no records file (none is created).

    Raises CheckpointError if the database exists but cannot be opened.
    """
    url = data.records_url
    if url is None:
        if not (data.root / RECORDS_FILE).is_file():
            yield None
            return
        url = default_url(data.root)
    records = Records.open(url)
    try:
        yield records
    finally:
        records.close()


def ok_records(records: Records | None) -> list[CheckpointRecord]:
    """The records of checkpoints written ok, with a path, newest first ([] for None)."""
    if records is None:
        return []
    return [r for r in records.recent_checkpoints_sync(1 << 30) if r.path and r.status == "ok"]


def match_records(
    records: list[CheckpointRecord], path: Path, digest: str | None
) -> list[CheckpointRecord]:
    """Records of this file (same name, same digest when known), newest first."""
    return [
        r
        for r in records
        if r.path is not None
        and Path(r.path).name == path.name
        and (digest is None or r.world_digest == digest)
    ]


def _entry(generation: int, path: Path, records: list[CheckpointRecord]) -> Entry | None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None  # deleted meanwhile (the server prunes while we look)
    header: SnapshotHeader | None = None
    damage: str | None = None
    try:
        header = snapshot.read_header(path)
    except CheckpointError as error:
        damage = reason_of(error, path)
    found = match_records(records, path, header.digest if header else None)
    return Entry(generation, path, size, header, damage, found[0] if found else None)


def _known_records(data: DataDir) -> tuple[list[CheckpointRecord], str | None]:
    """The data dir's ok records with a path, and why they could not be read (else None)."""
    try:
        with open_records(data) as records:
            return ok_records(records), None
    except CheckpointError as error:
        return [], str(error)


def entries(data: DataDir, known: list[CheckpointRecord]) -> list[Entry]:
    """Every checkpoint, newest first, matched against ``known``. Raises CheckpointError
    only if the checkpoints directory cannot be read."""
    try:
        found = list_checkpoints(data.checkpoints)
    except OSError as error:
        raise CheckpointError(f"cannot read {data.checkpoints}: {error.strerror}") from None
    entries = [_entry(g, p, known) for g, p in reversed(found)]
    return [e for e in entries if e is not None]


def list_entries(data: DataDir) -> Listing:
    """Every checkpoint, newest first, from headers only. Never raises for a bad file.

    Raises CheckpointError only if the checkpoints directory cannot be read. Records
    that cannot be read leave ``record`` None and say why in ``records_note``.
    """
    known, note = _known_records(data)
    return Listing(entries(data, known), note)


# -- show / verify ---------------------------------------------------------------------------


def journal_after(journal_dir: Path, position: int) -> Coverage:
    """Read the journal after ``position`` as recovery would (without applying it).

    Returns what is there and any gap or damage. Raises CheckpointError if a segment
    cannot be read.
    """
    needed = jf.segments_after(journal_dir, position)
    report = jf.ReadReport()
    frames = 0
    try:
        for _lsn, _records in jf.read_journal(journal_dir, position, report):
            frames += 1
    except OSError as error:
        raise CheckpointError(f"cannot read the journal: {error.strerror}") from None
    problem = "damaged: " + "; ".join(report.corrupt) if report.corrupt else None
    sizes = []
    for _first, path in needed:
        try:
            sizes.append((path.name, path.stat().st_size))
        except FileNotFoundError:
            continue
    return Coverage(sizes, frames, report.last_lsn, problem, report.torn_tail is not None)


def show(data: DataDir, ident: Ident) -> Details:
    """One checkpoint's header, record and journal coverage. Raises CheckpointError."""
    generation, path = find(data, ident)
    known, note = _known_records(data)
    entry = _entry(generation, path, known)
    if entry is None:
        raise CheckpointError(f"{path.name} was deleted while reading it")
    coverage = journal_after(data.journal, entry.header.journal_position) if entry.header else None
    return Details(entry, coverage, note)


def verify_one(generation: int, path: Path) -> Verified:
    try:
        return Verified(generation, path, snapshot.verify(path), None)
    except CheckpointError as error:
        return Verified(generation, path, None, reason_of(error, path))


def verify(data: DataDir, ident: Ident | None = None) -> list[Verified]:
    """Full checksum of one checkpoint (or all, newest first). Failures are returned.

    Raises CheckpointError only when the checkpoint asked for, or any, does not exist.
    """
    if ident is not None:
        return [verify_one(*find(data, ident))]
    found = list_checkpoints(data.checkpoints)
    if not found:
        raise CheckpointError(f"no checkpoints in {data.checkpoints}")
    return [verify_one(g, p) for g, p in reversed(found)]


def newest_good(data: DataDir, *, besides: int | None = None) -> int | None:
    """The newest generation (other than ``besides``) that verifies, or None."""
    found = list_checkpoints(data.checkpoints)
    for generation, path in reversed(found):
        if generation != besides and verify_one(generation, path).error is None:
            return generation
    return None


# -- set aside (restore, extract) ------------------------------------------------------------------


def make_aside_dir(base: Path, prefix: str, now: float) -> Path:
    """A new, empty folder ``<base>/<prefix><local time>`` (``-2``, ``-3``... if taken)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    for attempt in range(1, 1000):
        candidate = base / f"{prefix}{stamp}{'' if attempt == 1 else f'-{attempt}'}"
        try:
            candidate.mkdir(mode=0o700)
        except FileExistsError:
            continue
        return candidate
    raise CheckpointError(f"cannot make a folder {prefix}{stamp} in {base}: all names taken")

"""The journal's marker, ``journal/newest``: where the writer was, for recovery to compare.

Deleting the newest journal segment leaves no gap in the LSNs (the older segments still
follow each other), so reading the journal cannot notice it; only the writer knows how far
it got. The marker holds the first LSN of the newest segment the writer opened and, after
a clean close, the last LSN it wrote:

1. ``Journal`` writes it when it opens a segment (at start, and after each ``rotate``, at
   each checkpoint: never per transaction), after fsyncing the directory so the segment's
   entry is on disk before the marker names it; and with the last LSN at a clean close.
2. Recovery (recovery.py) refuses a start, unless forced, when no segment at or after
   the marked one is left, or when replay reaches less than the writer wrote (the marked
   segment's first LSN minus one; the last LSN after a clean close).
3. ``moo checkpoint restore`` moves the newest segments aside on purpose and removes it.

The marker is advisory in one direction only: one that is missing, unreadable or older
than the truth (a write that failed on a full disk) makes the check weaker, never a false
refusal. Written atomically (temp 0600, fsync, rename, fsync the directory).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from moo.files import fsync_directory

log = logging.getLogger(__name__)

MARKER = "newest"  # in the journal directory


@dataclass(frozen=True)
class Marker:
    segment: int  # the first LSN of the newest segment the writer opened
    last: int | None  # the last LSN it wrote, when it closed cleanly (else None)


def read_marker(directory: Path) -> Marker | None:
    """The writer's marker, or None when there is none (an older data dir, or after a
    restore) or it does not parse (logged). Never raises."""
    path = directory / MARKER
    try:
        found = json.loads(path.read_text())
        segment, last = found["segment"], found["last"]
        if not isinstance(segment, int) or not (last is None or isinstance(last, int)):
            raise ValueError("not numbers")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("ignoring the journal marker %s: %s", path, error)
        return None
    return Marker(segment, last)


def write_marker(directory: Path, marker: Marker, *, sync: bool = True) -> None:
    """Replace the marker atomically (temp file 0600, fsync, rename, fsync the directory;
    no syncs when ``sync`` is False). Raises OSError; the old marker then stays."""
    temp = directory / (MARKER + ".tmp")
    body = json.dumps({"segment": marker.segment, "last": marker.last}).encode() + b"\n"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, body)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, directory / MARKER)
    if sync:
        fsync_directory(directory)


def remove_marker(directory: Path) -> None:
    """Forget where the writer was (``moo checkpoint restore`` moved the newest segments
    aside on purpose). Atomic (one unlink); raises OSError."""
    with contextlib.suppress(FileNotFoundError):
        (directory / MARKER).unlink()

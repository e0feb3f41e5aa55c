"""``moo checkpoint restore``: go back to a checkpoint's moment, setting aside what came after.

A restore means going back to that checkpoint's moment, so journal frames after it are
set aside too (rolling them forward would simply rebuild the newer world). Steps:

1. Refuse if a server holds the data dir's lock; otherwise take the lock for the whole
   restore, so a server cannot start midway.
2. Verify the checkpoint fully (it will be the one recovery picks).
3. Move every newer generation, and every journal segment whose frames all come after
   the checkpoint's journal position, into ``DATA_DIR/restored-aside-<local time>/``
   (``checkpoints/`` and ``journal/`` inside). Nothing is deleted: moving them back
   undoes the restore.
4. A segment holding frames from both sides (the server rotates the journal at every
   checkpoint, so only an unusual history makes one) is copied aside whole and the kept
   copy is cut at the last frame the checkpoint covers.
5. Segments holding only earlier frames stay: older checkpoints still need them.

The next ``moo serve`` then recovers exactly that checkpoint, replays nothing, and
continues the journal at the next LSN without a gap. Records in the records database are
left as they are (history); ``list`` matches records to files by name and digest, so a
generation number used again later is not confused with the one set aside.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from moo.errors import CheckpointError
from moo.files import fsync_directory
from moo.persist import journal_format as jf
from moo.persist import lock
from moo.persist.manage import (
    ASIDE_PREFIX,
    DataDir,
    Ident,
    find,
    make_aside_dir,
    verify_one,
)
from moo.persist.marker import remove_marker
from moo.persist.recovery import list_checkpoints


@dataclass(frozen=True)
class Restored:
    generation: int
    aside: Path | None  # None: nothing came after the checkpoint, nothing was moved
    checkpoints: list[str]  # names of the newer generations moved aside
    segments: list[str]  # names of the journal segments moved aside
    cut_segment: str | None  # a segment copied aside whole and cut at the checkpoint


def _cut_offset(path: Path, position: int) -> int:
    """Where ``path`` stops holding frames with lsn <= ``position`` (a frame boundary)."""
    data = path.read_bytes()
    offset = 0
    while offset < len(data):
        parsed = jf.parse_frame(data, offset)  # the journal's own frame reader
        if parsed is None or parsed[0] > position:
            break
        offset = parsed[2]
    return offset


def restore(data: DataDir, ident: Ident, *, now: float | None = None) -> Restored:
    """Make one checkpoint the newest and set aside everything after its moment.

    Returns what was moved where (nothing when the checkpoint is the newest and no
    journal frame follows it). Raises CheckpointError (changing nothing) if the server
    runs on the data dir or the checkpoint does not verify; MooError if a server takes
    the lock meanwhile. Not atomic as a whole (one rename per file, directories fsynced
    at the end), but nothing is ever deleted: an error midway says where things went.
    """
    if lock.is_held(data.root):
        raise CheckpointError(
            f"a server is running on {data.root}; stop it first (restore changes which "
            "checkpoint it would start from)"
        )
    find(data, ident)  # before the lock, which would make the folder
    held = lock.acquire(data.root)
    try:
        return _restore(data, ident, time.time() if now is None else now)
    finally:
        os.close(held)


def _restore(data: DataDir, ident: Ident, now: float) -> Restored:
    generation, path = find(data, ident)
    checked = verify_one(generation, path)
    if checked.header is None:
        raise CheckpointError(f"checkpoint {generation} does not verify: {checked.error}")
    position = checked.header.journal_position
    newer = [p for g, p in list_checkpoints(data.checkpoints) if g > generation]
    needed = jf.segments_after(data.journal, position)
    # An empty segment at position + 1 stays: the server would open that very file next.
    later = [
        p
        for first, p in needed
        if first > position + 1 or (first == position + 1 and p.stat().st_size > 0)
    ]
    cut: tuple[Path, int] | None = None
    for first, segment in needed:
        if first <= position:
            offset = _cut_offset(segment, position)
            if offset < segment.stat().st_size:
                cut = (segment, offset)
    if not (newer or later or cut):
        return Restored(generation, None, [], [], None)
    aside = make_aside_dir(data.root, ASIDE_PREFIX, now)
    try:
        if newer:
            (aside / "checkpoints").mkdir(mode=0o700)
            for p in newer:
                p.rename(aside / "checkpoints" / p.name)
        if later or cut:
            (aside / "journal").mkdir(mode=0o700)
        for p in later:
            p.rename(aside / "journal" / p.name)
        if cut is not None:
            segment, offset = cut
            shutil.copy2(segment, aside / "journal" / segment.name)
            jf.truncate_torn_tail(segment, offset)
        remove_marker(data.journal)  # the newest segments went aside on purpose
        for folder in (data.checkpoints, data.journal, aside, *aside.iterdir()):
            if folder.is_dir():
                fsync_directory(folder)
    except OSError as error:
        raise CheckpointError(
            f"restore stopped midway ({error.strerror or error}); what was moved is in {aside}"
        ) from None
    return Restored(
        generation,
        aside,
        [p.name for p in newer],
        [p.name for p in later],
        cut[0].name if cut else None,
    )

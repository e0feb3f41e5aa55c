"""The journal: every committed transaction, appended to ``DATA_DIR/journal/`` between checkpoints.

1. The world calls ``Journal.append(records)`` as a transaction commits (it is the
   world's first observer). The records become ONE frame, numbered with the next
   log sequence number (LSN), and are written to the current segment with
   ``os.write``: from then on a crash of the process (even ``kill -9``) loses nothing.
   Just before the write, ``before_write(lsn)`` (if set) runs: an engine behind a
   front hands the front this transaction's answers there.
2. fsync policy (``persist.fsync``): ``always`` fsyncs before ``append`` returns (so
   before the command's output is sent); ``everysec`` fsyncs from a worker thread
   once a second (a power loss loses at most ~1-2 s); ``no`` leaves it to the OS.
   Each fsync's duration goes to ``on_fsync`` (metrics), on the event loop.
3. A write that fails raises, so the world undoes the transaction. An fsync that fails
   is never retried (after EIO the kernel may have dropped the dirty pages and a retry
   can falsely succeed: the "fsyncgate" lesson); the journal calls ``on_failure``, which
   makes the world refuse all further changes.
4. ``rotate()`` starts a new segment (at each checkpoint's start); segments wholly
   covered by a verified checkpoint are deleted with ``drop_through``.
5. The marker ``journal/newest`` (marker.py) says where the writer was: the newest
   segment's first LSN, written when a segment opens, and the last LSN at a clean close.

The frame layout, the segment files and reading them back (a torn tail or damage) are
``journal_format.py``'s.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from moo.config import FSYNC_POLICIES
from moo.errors import CheckpointError
from moo.files import fsync_directory
from moo.persist.journal_format import (
    SUFFIX,
    covered_count,
    encode_frame,
    list_segments,
    segment_name,
)
from moo.persist.marker import Marker, write_marker
from moo.world import mutations as m

log = logging.getLogger(__name__)


class Journal:
    """Appends committed transactions to segment files. One writer per data directory."""

    def __init__(
        self,
        directory: Path,
        *,
        next_lsn: int,
        fsync: str = "everysec",
        on_failure: Callable[[str], None] = lambda reason: None,
        on_fsync: Callable[[float], None] | None = None,
    ) -> None:
        if fsync not in FSYNC_POLICIES:
            raise CheckpointError(f"persist.fsync must be one of {FSYNC_POLICIES}, got {fsync!r}")
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory = directory
        self.fsync_policy = fsync
        self.on_failure = on_failure
        self.on_fsync = on_fsync  # seconds each fsync took (metrics)
        self.next_lsn = next_lsn
        self.failed: str | None = None
        self._fd = -1
        self._segment: Path | None = None
        self._unsynced = False
        self._sync_lock = asyncio.Lock()
        # Called with the LSN just before its frame is written (the engine hands the front
        # the answers this write makes durable: moo/engine/link.py).
        self.before_write: Callable[[int], None] | None = None
        self.not_written: Callable[[int], None] | None = None  # that write then failed
        self._open_segment()
        self.mark_segment()

    @property
    def position(self) -> int:
        """The LSN of the last frame written (0 when none ever was)."""
        return self.next_lsn - 1

    def _open_segment(self) -> None:
        path = self.directory / segment_name(self.next_lsn)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        if self._fd >= 0:
            self._close_fd()
        self._fd = fd
        self._segment = path

    def mark_segment(self, last: int | None = None) -> None:
        """Note the current segment (and, at a clean close, the last LSN) in the marker:
        at open and close here, after ``rotate`` by the caller (in a worker thread: it
        fsyncs). Never raises: a marker that cannot be written stays as it was (logged),
        and an older marker only makes the check at start weaker, never wrong."""
        if self._segment is None:
            return
        first = int(self._segment.name[: -len(SUFFIX)])
        sync = self.fsync_policy != "no"
        try:
            if sync:
                fsync_directory(self.directory)  # the new segment's entry before the marker
            write_marker(self.directory, Marker(first, last), sync=sync)
        except OSError as error:
            log.warning("cannot update the journal marker: %s", error.strerror or error)

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def append(self, records: list[m.Mutation]) -> None:
        """Write one transaction. Raises CheckpointError (the world then undoes it)."""
        if self.failed is not None:
            raise CheckpointError(self.failed)
        frame = encode_frame(self.next_lsn, records)
        if self.before_write is not None:
            self.before_write(self.next_lsn)
        try:
            written = os.write(self._fd, frame)
            if written != len(frame):
                raise OSError(28, f"short write ({written} of {len(frame)} bytes)")
        except OSError as error:
            # The segment may now end in a partial frame: recovery truncates a torn tail.
            if self.not_written is not None:
                self.not_written(self.next_lsn)
            self._fail(f"journal write failed: {error.strerror or error}")
            raise CheckpointError(self.failed or "journal write failed") from None
        self.next_lsn += 1
        if self.fsync_policy == "always":
            self._sync_now()
        else:
            self._unsynced = True

    def _sync_now(self) -> None:
        # The frame is already in the file: keep the change (memory and file agree), and
        # refuse every later one, since whether it reached the disk is now unknown.
        try:
            self._report(timed_fsync(self._fd))
        except OSError as error:
            self._fail(f"journal fsync failed: {error.strerror or error}")

    def _report(self, seconds: float) -> None:
        if self.on_fsync is not None:
            self.on_fsync(seconds)

    def _fail(self, reason: str) -> None:
        if self.failed is None:
            self.failed = reason + "; the world refuses changes until a checkpoint can be written"
            log.error("%s", self.failed)
            self.on_failure(self.failed)

    def resume_after(self, position: int) -> None:
        """Start again after a failure, once a verified checkpoint holds the world as of
        ``position`` (the last LSN written): every segment is now covered by it (the one
        that failed may end in a partial frame), so they go, and a new segment starts at
        ``position + 1``. Never touches the failed segment's fd again (an fsync that failed
        is never retried: the new checkpoint, a new file, is what made the data safe).
        Raises OSError if the new segment cannot be opened (the journal stays failed)."""
        if self.failed is None:
            return
        self._close_fd()
        for _first, path in list_segments(self.directory):
            path.unlink(missing_ok=True)
        self.next_lsn = position + 1
        self._unsynced = False
        self._segment = None
        self._open_segment()
        self.failed = None
        self.mark_segment()

    async def sync(self) -> None:
        """fsync what was written since the last sync, in a worker thread. Never retried."""
        if not self._unsynced or self.failed is not None or self._fd < 0:
            return
        async with self._sync_lock:
            self._unsynced = False
            try:
                self._report(await asyncio.to_thread(timed_fsync, self._fd))
            except OSError as error:
                self._fail(f"journal fsync failed: {error.strerror or error}")

    async def sync_now(self) -> None:
        """fsync everything written so far, whatever the policy (a hot upgrade's freeze)."""
        self._unsynced = True
        await self.sync()

    async def run_sync_loop(self, interval: float = 1.0) -> None:
        """The ``everysec`` policy: sync once a second until cancelled."""
        if self.fsync_policy != "everysec":
            return
        while True:
            await asyncio.sleep(interval)
            await self.sync()

    def rotate(self) -> int:
        """Start a new segment; return the position (last LSN) the old segments hold.
        Then call ``mark_segment`` (off the loop)."""
        if self.failed is None:
            try:
                if self._unsynced:
                    self._report(timed_fsync(self._fd))
                    self._unsynced = False
                self._open_segment()
            except OSError as error:
                self._fail(f"journal rotation failed: {error.strerror or error}")
        return self.position

    def drop_through(self, lsn: int) -> int:
        """Delete segments whose frames all have LSN <= ``lsn``. Returns how many."""
        segments = list_segments(self.directory)
        dropped = 0
        for _first, path in segments[: covered_count(segments, lsn)]:
            if path == self._segment:
                break
            path.unlink(missing_ok=True)
            dropped += 1
        return dropped

    def close(self) -> None:
        """fsync (unless the policy is ``no`` or the journal failed) and close."""
        if self._fd >= 0 and self.failed is None and self.fsync_policy != "no":
            try:
                os.fsync(self._fd)
            except OSError as error:
                self._fail(f"journal fsync failed: {error.strerror or error}")
        if self._fd >= 0 and self.failed is None:
            self.mark_segment(self.position)
        self._close_fd()


def timed_fsync(fd: int) -> float:
    """fsync ``fd``; the seconds it took. Raises OSError."""
    started = time.perf_counter()
    os.fsync(fd)
    return time.perf_counter() - started

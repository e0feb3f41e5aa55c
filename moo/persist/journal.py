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

Frame: ``FRAME_MAGIC (2) | length (u32) | crc32 (u32) | lsn (u64) | payload``, where
the length counts the payload and the crc covers lsn and payload. The payload is the
msgpack list of the transaction's mutation records, each holding its full new value.
Segment files are named ``<first lsn, 16 digits>.journal``.

Torn write or damage? Reading stops at the first frame that does not check. When nothing
valid follows it in the newest segment, it is cut as a torn write (with a log line) only
if a write cut short could have left exactly those bytes; anything else is damage, and
recovery refuses to start (``--force-recover`` sets it aside). A frame is one
``os.write`` appended at the end of the file, so a torn write leaves:

- a prefix of the frame (a crash mid-write, a full disk, a signal): fewer bytes than the
  head, which must then be the start of ``FRAME_MAGIC``, or a head whose length runs
  past the end of the file, and the bytes that are there are not the whole frame (when
  they are, under the frame's own CRC, it is the length field that is damaged);
- zeros at the end (a power loss after the file's size reached the disk but not its last
  data): from a 512-byte sector boundary (or from the frame's start) to the end of file.

So a complete, full-length last frame whose CRC fails, with no zeroed sector at its end,
is damage: a torn write cannot produce it, and cutting it would drop an acknowledged
change without a word. A sector lost in the middle of an unsynced tail (the disk wrote a
later one first) is refused too: it needs ``--force-recover``, never a silent cut. The
rule errs one way only: a damaged frame that happens to end in zero bytes reaching back
over a sector boundary passes for torn (for a frame ending in one zero byte, about one
damaged frame in 512); no torn write is ever taken for damage.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from moo.config import FSYNC_POLICIES
from moo.errors import CheckpointError
from moo.files import fsync_directory
from moo.persist.marker import Marker, write_marker
from moo.world import mutations as m
from moo.world.codec import decoder, encoder

log = logging.getLogger(__name__)

FRAME_MAGIC = b"\xd0\x0d"
JOURNAL_FORMAT = 1  # bump when the frame layout or the record encoding changes
FRAME_HEAD = 18  # magic 2 + length 4 + crc 4 + lsn 8
MAX_PAYLOAD = 64 << 20
SUFFIX = ".journal"
SECTOR = 512  # the smallest unit a power loss can leave unwritten

_records_decoder = decoder(list[m.Mutation])


def encode_frame(lsn: int, records: list[m.Mutation]) -> bytes:
    payload = encoder.encode(records)
    tail = lsn.to_bytes(8, "big") + payload
    return (
        FRAME_MAGIC + len(payload).to_bytes(4, "big") + zlib.crc32(tail).to_bytes(4, "big") + tail
    )


def segment_name(first_lsn: int) -> str:
    return f"{first_lsn:016d}{SUFFIX}"


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    """(first lsn, path) of every segment, oldest first; [] if ``directory`` is not there."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.glob(f"*{SUFFIX}"):
        stem = path.name[: -len(SUFFIX)]
        if stem.isdigit():
            found.append((int(stem), path))
    return sorted(found)


def covered_count(segments: list[tuple[int, Path]], lsn: int) -> int:
    """How many of ``segments`` (oldest first) hold only frames with LSN <= ``lsn``, judged
    by names: a segment is covered when the next one starts at or before ``lsn + 1``.
    They are always the leading ones, and never the newest."""
    count = 0
    for _segment, (following, _path) in itertools.pairwise(segments):
        if following - 1 > lsn:
            break
        count += 1
    return count


def segments_after(directory: Path, lsn: int) -> list[tuple[int, Path]]:
    """(first lsn, path) of the segments that may hold frames after ``lsn`` (the newest
    always): what recovery from position ``lsn`` reads."""
    segments = list_segments(directory)
    return segments[covered_count(segments, lsn) :]


@dataclass
class ReadReport:
    """What reading the journal found."""

    frames: int = 0
    last_lsn: int = 0
    torn_tail: tuple[Path, int] | None = None  # (segment, offset where the good part ends)
    corrupt: list[str] = field(default_factory=list)  # damage followed by good frames
    damage: tuple[Path, int] | None = None  # where the first damage is (segment, offset)
    skipped: list[str] = field(default_factory=list)  # damage only in frames already covered


def _parse_frame(data: bytes, offset: int) -> tuple[int, bytes, int] | None:
    """(lsn, payload, next offset) for a whole, valid frame at ``offset``; else None."""
    if data[offset : offset + 2] != FRAME_MAGIC or offset + FRAME_HEAD > len(data):
        return None
    length = int.from_bytes(data[offset + 2 : offset + 6], "big")
    end = offset + FRAME_HEAD + length
    if length > MAX_PAYLOAD or end > len(data):
        return None
    crc = int.from_bytes(data[offset + 6 : offset + 10], "big")
    tail = data[offset + 10 : end]
    if zlib.crc32(tail) != crc:
        return None
    return int.from_bytes(tail[:8], "big"), tail[8:], end


def _good_frame_after(data: bytes, offset: int) -> int | None:
    """The offset of the next valid frame after a bad spot, if any (a resync scan)."""
    position = data.find(FRAME_MAGIC, offset + 1)
    while position >= 0:
        if _parse_frame(data, position) is not None:
            return position
        position = data.find(FRAME_MAGIC, position + 1)
    return None


def could_be_torn(data: bytes, offset: int) -> bool:
    """Whether the bad bytes from ``offset`` to the end of a segment could be a frame write
    cut short (the rule in the module docstring); False means damage."""
    tail = data[offset:]
    if len(tail) < FRAME_HEAD:
        if FRAME_MAGIC.startswith(tail[:2]):
            return True
    elif tail[:2] == FRAME_MAGIC:
        length = int.from_bytes(tail[2:6], "big")
        if length <= MAX_PAYLOAD and FRAME_HEAD + length > len(tail):
            crc = int.from_bytes(tail[6:10], "big")
            if zlib.crc32(tail[10:]) != crc:
                return True
    zeros_from = len(data.rstrip(b"\0"))
    if zeros_from <= offset:
        return True
    boundary = -(-zeros_from // SECTOR) * SECTOR
    return boundary < len(data)


def read_journal(
    directory: Path, after_lsn: int, report: ReadReport
) -> Iterator[tuple[int, list[m.Mutation]]]:
    """Yield (lsn, records) for every frame with lsn > ``after_lsn``, in order.

    A bad frame with nothing valid after it, at the end of the newest segment, that a
    torn write could have left (``could_be_torn``) is a torn tail: it is recorded in
    ``report.torn_tail`` and reading stops. Any other bad frame is damage, recorded in
    ``report.corrupt`` and ``report.damage``; reading stops there too and the caller
    decides whether to refuse to start.
    """
    segments = list_segments(directory)
    covered = covered_count(segments, after_lsn)
    expected = None
    for index, (_first, path) in enumerate(segments):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            start = offset
            parsed = _parse_frame(data, offset)
            if parsed is None:
                if index < covered:
                    # Everything in this segment is at or before the checkpoint: not needed.
                    report.skipped.append(f"{path.name}: damage at byte {start}, already covered")
                    expected = None
                    break
                newest = index == len(segments) - 1
                last = _good_frame_after(data, offset) is None
                if newest and last and could_be_torn(data, offset):
                    report.torn_tail = (path, offset)
                else:
                    where = "its last frame" if newest and last else "a frame"
                    report.corrupt.append(f"{path.name}: {where} at byte {offset} is damaged")
                    report.damage = (path, offset)
                return
            lsn, payload, offset = parsed
            if expected is not None and lsn != expected:
                report.corrupt.append(f"{path.name}: lsn {lsn} where {expected} was expected")
                report.damage = (path, start)
                return
            if lsn <= after_lsn:
                expected = lsn + 1
                report.last_lsn = lsn
                continue
            if report.frames == 0 and lsn != after_lsn + 1:
                # The frames right after the checkpoint are missing (a lost segment):
                # replaying later ones onto the older world would silently corrupt it.
                report.corrupt.append(
                    f"{path.name}: the journal resumes at {lsn} but the checkpoint needs "
                    f"{after_lsn + 1} next (a segment is missing)"
                )
                report.damage = (path, start)
                return
            expected = lsn + 1
            report.last_lsn = lsn
            try:
                records = _records_decoder.decode(payload)
            except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as error:
                report.corrupt.append(f"{path.name}: frame {lsn} does not decode: {error}")
                report.damage = (path, start)
                return
            report.frames += 1
            yield lsn, records


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


def truncate_torn_tail(path: Path, offset: int) -> None:
    """Cut a segment back to its last whole frame (after a crash mid-append)."""
    with path.open("r+b") as f:
        f.truncate(offset)
        f.flush()
        os.fsync(f.fileno())

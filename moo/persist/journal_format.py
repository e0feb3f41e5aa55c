"""The journal's files: frame format, segment names, and reading them back (torn or damaged).

The writer (``moo/persist/journal.py``) appends frames made by ``encode_frame`` to segment
files named by ``segment_name``; recovery (``recovery.py``), ``moo checkpoint``
(``manage.py``, ``restore.py``, ``archive.py``) and the tests read them back here:

1. ``list_segments`` / ``segments_after`` find the segment files a position needs
   (``covered_count``: judged by names alone);
2. ``read_journal`` yields each transaction after a position, checking every frame
   (``parse_frame``) and the LSNs' order, into a ``ReadReport``;
3. a bad frame is a torn tail (``could_be_torn``, cut with ``truncate_torn_tail``) or
   damage, by the rule below.

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

import itertools
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from moo.world import mutations as m
from moo.world.codec import decoder, encoder

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


def parse_frame(data: bytes, offset: int) -> tuple[int, bytes, int] | None:
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
        if parse_frame(data, position) is not None:
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
            parsed = parse_frame(data, offset)
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


def truncate_torn_tail(path: Path, offset: int) -> None:
    """Cut a segment back to its last whole frame (after a crash mid-append)."""
    with path.open("r+b") as f:
        f.truncate(offset)
        f.flush()
        os.fsync(f.fileno())

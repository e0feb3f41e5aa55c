"""Checkpoint files: a consistent snapshot of the live world, written without stopping it.

Design, chosen by measurement on this machine (shared/research/python_limits.md):
a forked child costs ~23 ms/GB of stall in the parent (44 ms at 1M objects, over the
30 ms budget) and a pickling child copies 75-90% of the heap; a serialiser in a thread
holds the GIL for the whole encode (0.1-6 s stalls). So the snapshot runs *on the event
loop* in small slices, and stays point-in-time consistent by copy-before-write:

1. ``start()`` (at a quiet point, between commands) notes ``next_id``, the object count
   and the journal position, and registers a change hook with the world.
2. The hook runs just before any object is first changed in a transaction; if the
   snapshot has not written that object yet (its id is at or past the write cursor), it
   encodes the object's current (old) state and keeps those bytes. Objects created later
   have ids >= the noted ``next_id`` and are not part of the snapshot.
3. ``write()`` walks ids 0..next_id-1 in slices of about ``slice_seconds`` (2 ms), writes
   each object's saved bytes or its current encoding (it cannot have changed), yields to
   the loop between slices, then fsyncs, renames into place and fsyncs the directory.
   Objects with no saved bytes are encoded 256 to one ``encode`` call (a msgpack array
   is its header then its items, so the items are the bytes one call per object gave):
   at 1M objects one call per object cost ~1 s of Python around the encoder.

The file is the world as it was at ``start()``: exactly the state the journal position
describes, so recovery replays the journal from there.

File layout (little to parse before trusting anything):

    MAGIC (8 bytes)  header length (u32)  header (msgpack)  crc32 of header (u32)  padding
    ... up to HEADER_SIZE bytes, then the body: msgpack array of objects, ascending id,
    then (format 2, only when MOO tasks are queued) the tasks: msgpack array of
    ``QueuedTask`` records (``world/tasks.py``), ``tasks_length`` bytes under ``tasks_crc``.

A file with no queued tasks is written in format 1, byte for byte what a server before
tasks wrote and reads; one with tasks is format 2, which such a server refuses by name
(its journal records of tasks are new to it as well). The tasks are copied at ``start()``
(their records are immutable), so they are of the same moment as the objects. They are not
part of the world digest: the digest stays the objects' (``World.digest``).

Every byte of the header block is checked before anything in it is trusted: the magic, the
length (a wrong one puts the CRC in the wrong place), the packed header under its CRC32,
and the padding, which must be all zeros (what every writer of this format wrote). Known
bytes need no checksum, so the whole header is covered without a format change: files of
format 1 written before this check are read exactly as before, and a server without it
still reads the files this one writes (a hot-upgrade rollback keeps working).

Loading keeps each object's property values as the file's bytes (``MooObject.props``
decodes them on first read), so the file stays in memory while any object is unread: at
1M objects the load took 3.8 s and the world 1.3 KB an object when every value was
decoded, 1.5 s and ~650 bytes this way; a checkpoint copies those bytes back unchanged.

The header holds the format version, the world digest, object count, next_id, journal
position, creation time and server version. The digest is SHA-256 over next_id and the
body (``codec.world_hasher``), so it is the body's checksum and equals ``World.digest()``
of the world it holds. Loading never runs code (msgpack into typed Structs, no pickle).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import msgspec

from moo import __version__
from moo.errors import CheckpointError
from moo.files import fsync_directory
from moo.world.codec import array_header, decoder, digest_encoder, encoder, world_hasher
from moo.world.model import MooObject
from moo.world.tasks import QueuedTask
from moo.world.world import World

MAGIC = b"MOOCKPT\x01"
FORMAT_VERSION = 2
TASKLESS_FORMAT = 1  # what a snapshot with no queued tasks is written as
HEADER_SIZE = 4096
READ_BLOCK = 1 << 22


class SnapshotHeader(msgspec.Struct, frozen=True, omit_defaults=True):
    format: int
    digest: str
    object_count: int
    next_id: int
    journal_position: int
    created: float
    server_version: str
    body_length: int
    tasks_length: int = 0
    tasks_crc: int = 0


_header_decoder = msgspec.msgpack.Decoder(SnapshotHeader)
_tasks_decoder = decoder(list[QueuedTask])
_raw_list_decoder = msgspec.msgpack.Decoder(list[msgspec.Raw])
_object_decoder = decoder(MooObject)


def _encode_header(header: SnapshotHeader) -> bytes:
    packed = msgspec.msgpack.encode(header)
    block = MAGIC + len(packed).to_bytes(4, "big") + packed + zlib.crc32(packed).to_bytes(4, "big")
    if len(block) > HEADER_SIZE:
        raise CheckpointError("checkpoint header too large")
    return block + b"\0" * (HEADER_SIZE - len(block))


def parse_header(block: bytes, path: Path) -> SnapshotHeader:
    """The header from a file's first HEADER_SIZE bytes. Raises CheckpointError naming ``path``."""
    if len(block) < HEADER_SIZE or not block.startswith(MAGIC):
        raise CheckpointError(f"{path}: not a checkpoint file (bad magic or too short)")
    length = int.from_bytes(block[8:12], "big")
    if length > HEADER_SIZE - 16:
        raise CheckpointError(f"{path}: damaged header (length {length})")
    packed = block[12 : 12 + length]
    crc = int.from_bytes(block[12 + length : 16 + length], "big")
    if zlib.crc32(packed) != crc:
        raise CheckpointError(f"{path}: damaged header (checksum mismatch)")
    if block[16 + length : HEADER_SIZE].count(0) != HEADER_SIZE - 16 - length:
        raise CheckpointError(f"{path}: damaged header (its padding is not all zeros)")
    try:
        header = _header_decoder.decode(packed)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise CheckpointError(f"{path}: damaged header ({error})") from None
    if header.format > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {header.format} is newer than this server reads "
            f"({FORMAT_VERSION}); upgrade the server"
        )
    return header


def read_header(path: Path) -> SnapshotHeader:
    """Read and check only the header. Raises CheckpointError; never returns a bad header."""
    try:
        with path.open("rb") as f:
            block = f.read(HEADER_SIZE)
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read ({error.strerror})") from None
    return parse_header(block, path)


def verify(path: Path) -> SnapshotHeader:
    """Check the header and the body's checksum (streamed: memory stays small).

    Returns the header; raises CheckpointError naming the file and what is wrong.
    """
    header = read_header(path)
    hasher = world_hasher(header.next_id, header.object_count)
    total = 0
    try:
        with path.open("rb") as f:
            f.seek(HEADER_SIZE + 5)  # the body's array header is part of the hasher's prime
            left = max(header.body_length - 5, 0)
            while left and (block := f.read(min(READ_BLOCK, left))):
                hasher.update(block)
                total += len(block)
                left -= len(block)
            tasks = f.read()
            f.seek(HEADER_SIZE)
            array = f.read(5)
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read ({error.strerror})") from None
    _check_body(path, header, total + 5 + len(tasks), array, hasher.hexdigest())
    _check_tasks(path, header, tasks)
    return header


def _check_body(path: Path, header: SnapshotHeader, length: int, array: bytes, digest: str) -> None:
    """``length``: every byte after the header block (the body and the tasks)."""
    expected = header.body_length + header.tasks_length
    if length != expected or array != array_header(header.object_count):
        raise CheckpointError(
            f"{path}: truncated or padded body ({length} bytes, header says {expected})"
        )
    if digest != header.digest:
        raise CheckpointError(f"{path}: body checksum mismatch (the file is damaged)")


def _check_tasks(path: Path, header: SnapshotHeader, data: bytes | memoryview) -> None:
    if len(data) != header.tasks_length or zlib.crc32(data) != header.tasks_crc:
        raise CheckpointError(f"{path}: queued tasks checksum mismatch (the file is damaged)")


def _load_tasks(path: Path, header: SnapshotHeader, data: memoryview) -> dict[int, QueuedTask]:
    """The queued tasks of a checked file (none in format 1). Raises CheckpointError."""
    _check_tasks(path, header, data)
    if not header.tasks_length:
        return {}
    try:
        tasks = _tasks_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as error:
        raise CheckpointError(f"{path}: queued tasks do not decode ({error})") from None
    return {task.id: task for task in tasks}


def load(path: Path) -> tuple[World, SnapshotHeader]:
    """Verify and load a checkpoint into a new World, reading the file once (``verify``
    then a decode read it twice: a second 200 MB read at 1M objects). Raises
    CheckpointError, and nothing else, whatever the file holds: the body's checksum is
    checked before any decode error is reported, so a damaged file says so."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read ({error.strerror})") from None
    header = parse_header(data[:HEADER_SIZE], path)
    # Views, not slices: slicing copied the whole body (~200 ms at 200 MB, 1M objects).
    rest = memoryview(data)[HEADER_SIZE:]
    body = rest[: header.body_length]
    array = bytes(body[:5])
    if len(rest) != header.body_length + header.tasks_length or array != array_header(
        header.object_count
    ):
        _check_body(path, header, len(rest), array, "")  # raises: truncated or padded
    # The checksum in a thread while this one decodes (hashlib lets go of the GIL for a
    # buffer this size): ~0.2 s less at 1M objects. Nothing decoded is used before the
    # checksum is known good.
    hasher = world_hasher(header.next_id, header.object_count)
    hashing = threading.Thread(target=hasher.update, args=(body[5:],), name="checkpoint-hash")
    hashing.start()
    try:
        world: World | None = _decode(body, header.next_id)
        failure = ""
    except Exception as error:  # damaged bytes can fail any way: reported after the checksum
        world, failure = None, str(error)
    finally:
        hashing.join()
    _check_body(path, header, len(rest), array, hasher.hexdigest())
    if world is None:
        raise CheckpointError(f"{path}: body does not decode ({failure})")
    if len(world.objects) != header.object_count or any(o >= header.next_id for o in world.objects):
        raise CheckpointError(f"{path}: object list does not match its header")
    tasks = _load_tasks(path, header, rest[header.body_length :])
    world.tasks = tasks
    return world, header


def _decode(body: memoryview, next_id: int) -> World:
    """The world in a snapshot's body. Raises what msgspec or ``World.load`` raise.

    Each object is decoded on its own and compacted before the next: one decode of the
    whole list made every empty container first and freed it after, and the freed blocks,
    scattered among the live objects, stayed in the RSS (~230 bytes per object).
    """
    decode = _object_decoder.decode
    world = World()
    raws = _raw_list_decoder.decode(body)
    world.load((decode(raw) for raw in raws), next_id)
    return world


@dataclass
class SnapshotStats:
    path: Path
    header: SnapshotHeader
    seconds: float
    slices: int


class SnapshotWriter:
    """One consistent snapshot of a live world, written in slices between commands."""

    def __init__(
        self, world: World, path: Path, journal_position: int, *, slice_seconds: float = 0.002
    ) -> None:
        self.world = world
        self.path = path
        self.journal_position = journal_position
        self.slice_seconds = slice_seconds
        self._limit = 0
        self._count = 0
        self._cursor = 0  # every id below it is written
        self._saved: dict[int, bytes] = {}
        self._tasks: list[QueuedTask] = []
        self._started = 0.0
        self._active = False

    def start(self) -> None:
        """Fix the snapshot's moment. Call between commands (no transaction open)."""
        if self.world.in_transaction:
            raise CheckpointError("a snapshot must start between commands")
        self._limit = self.world.next_id
        self._count = len(self.world.objects)
        self._tasks = list(self.world.tasks.values())
        self._cursor = 0
        self._started = time.time()
        self.world.add_change_hook(self._before_change)
        self._active = True

    def _before_change(self, oid: int) -> None:
        if self._cursor <= oid < self._limit and oid not in self._saved:
            obj = self.world.objects.get(oid)
            if obj is not None:
                self._saved[oid] = digest_encoder.encode(obj)

    def _stop(self) -> None:
        if self._active:
            self.world.remove_change_hook(self._before_change)
            self._active = False
        self._saved.clear()

    async def write(self) -> SnapshotStats:
        """Write the file atomically (temp, fsync, rename, fsync dir). Raises CheckpointError.

        On failure the temp file is removed and any previous checkpoint is untouched.
        """
        if not self._active:
            self.start()
        began = time.perf_counter()
        temp = self.path.with_name(self.path.name + ".tmp")
        slices = 0
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(b"\0" * HEADER_SIZE)
                hasher = world_hasher(self._limit, self._count)
                f.write(array_header(self._count))
                written = 0
                oid = 0
                loop = asyncio.get_running_loop()
                pending: asyncio.Future[None] | None = None

                def sink(chunk: bytes) -> None:
                    hasher.update(chunk)  # both release the GIL for a chunk this size
                    f.write(chunk)

                try:
                    while oid < self._limit:
                        chunk, oid, count = self._encode_slice(oid)
                        if pending is not None:
                            await pending
                        # Hashing and writing slice k in a thread while the loop encodes
                        # slice k+1: ~0.5 s less on the loop at 1M objects (196 MB).
                        pending = loop.run_in_executor(None, sink, chunk)
                        written += count
                        slices += 1
                        await asyncio.sleep(0)
                    if pending is not None:
                        await pending
                finally:  # never close the file under a write still running
                    if pending is not None and not pending.done():
                        await asyncio.gather(pending, return_exceptions=True)
                self._stop()
                if written != self._count:
                    raise CheckpointError(
                        f"snapshot wrote {written} objects but the world had {self._count}"
                    )
                body_length = f.tell() - HEADER_SIZE
                tasks = encoder.encode(self._tasks) if self._tasks else b""
                f.write(tasks)
                header = SnapshotHeader(
                    format=FORMAT_VERSION if tasks else TASKLESS_FORMAT,
                    digest=hasher.hexdigest(),
                    object_count=self._count,
                    next_id=self._limit,
                    journal_position=self.journal_position,
                    created=self._started,
                    server_version=__version__,
                    body_length=body_length,
                    tasks_length=len(tasks),
                    tasks_crc=zlib.crc32(tasks),
                )
                f.seek(0)
                f.write(_encode_header(header))
                f.flush()
                await asyncio.to_thread(os.fsync, f.fileno())
            os.replace(temp, self.path)
            await asyncio.to_thread(fsync_directory, self.path.parent)
        except OSError as error:
            self._stop()
            _remove_quietly(temp)
            raise CheckpointError(
                f"writing {self.path.name} failed: {error.strerror or error}"
            ) from None
        except BaseException:
            self._stop()
            _remove_quietly(temp)
            raise
        return SnapshotStats(self.path, header, time.perf_counter() - began, slices)

    def _encode_slice(self, oid: int) -> tuple[bytes, int, int]:
        """Encode objects from ``oid`` on for about ``slice_seconds``; (bytes, next oid, count)."""
        get = self.world.objects.get
        saved = self._saved
        encode = digest_encoder.encode
        parts: list[bytes] = []
        deadline = time.perf_counter() + self.slice_seconds
        limit = self._limit
        count = 0
        while oid < limit:
            stop = min(oid + 256, limit)
            if saved and any(current in saved for current in range(oid, stop)):
                for current in range(oid, stop):
                    data = saved.pop(current, None)
                    if data is None:
                        obj = get(current)
                        if obj is None:
                            continue
                        data = encode(obj)
                    parts.append(data)
                    count += 1
            else:
                batch = [obj for obj in map(get, range(oid, stop)) if obj is not None]
                if batch:
                    data = encode(batch)
                    parts.append(data[len(array_header_of(len(batch))) :])
                    count += len(batch)
            oid = stop
            if time.perf_counter() >= deadline:
                break
        self._cursor = oid
        return b"".join(parts), oid, count


def array_header_of(count: int) -> bytes:
    """The msgpack array header msgspec writes for ``count`` items (its shortest form)."""
    if count < 16:
        return bytes((0x90 | count,))
    if count < 1 << 16:
        return b"\xdc" + count.to_bytes(2, "big")
    return array_header(count)


def _remove_quietly(path: Path) -> None:
    """Remove a temp file if it is there; cleanup must never mask the real error."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)

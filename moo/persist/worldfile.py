"""The world saved as one file at a clean stop, loaded at start: the foundation's persistence.

A crash loses everything since the last clean stop; the durable-world work
(checkpoint generations and a journal) replaces this. Format: the magic line
``MOOWORLD 2``, the SHA-256 of the body (32 bytes), then the body: msgpack
``[next_id, [objects...]]``. A file whose checksum does not match is refused, so
a damaged file never loads as a slightly different world. Loading never runs code.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import msgspec

from moo.errors import CheckpointError
from moo.world.codec import decoder, encoder
from moo.world.model import MooObject
from moo.world.world import World

MAGIC = b"MOOWORLD 2\n"
DIGEST_SIZE = 32
FILENAME = "world.mpk"

_body_decoder = decoder(tuple[int, list[MooObject]])


def save(world: World, data_dir: Path) -> Path:
    """Write the world atomically (temp file, fsync, rename, fsync dir). Returns the path.

    Raises OSError when the disk refuses; the previous file is then untouched.
    """
    path = data_dir / FILENAME
    temp = path.with_suffix(".tmp")
    body = encoder.encode((world.next_id, list(world.objects.values())))
    with temp.open("wb") as f:
        f.write(MAGIC)
        f.write(hashlib.sha256(body).digest())
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)
    dir_fd = os.open(data_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def load(data_dir: Path) -> World | None:
    """The saved world, or None when there is none. Raises CheckpointError if it is damaged."""
    path = data_dir / FILENAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if not data.startswith(MAGIC):
        raise CheckpointError(f"{path} is not a world file (bad magic)")
    stored = data[len(MAGIC) : len(MAGIC) + DIGEST_SIZE]
    body = data[len(MAGIC) + DIGEST_SIZE :]
    if hashlib.sha256(body).digest() != stored:
        raise CheckpointError(f"{path} is damaged: its checksum does not match its contents")
    try:
        next_id, objects = _body_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as error:
        raise CheckpointError(f"{path} is damaged: {error}") from None
    world = World()
    world.objects = {obj.id: obj for obj in objects}
    world.next_id = next_id
    world.rebuild_indexes()
    return world

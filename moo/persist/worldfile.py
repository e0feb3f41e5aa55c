"""The world saved as one file at a clean stop, loaded at start: the foundation's persistence.

A crash loses everything since the last clean stop; the durable-world work
(checkpoint generations and a journal) replaces this. Format: the magic line
``MOOWORLD 1``, then msgpack ``[next_id, [objects...]]``. Loading never runs code.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from moo.errors import CheckpointError
from moo.world.codec import decoder, encoder
from moo.world.model import MooObject
from moo.world.world import World

MAGIC = b"MOOWORLD 1\n"
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
    try:
        next_id, objects = _body_decoder.decode(data[len(MAGIC) :])
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as error:
        raise CheckpointError(f"{path} is damaged: {error}") from None
    world = World()
    world.objects = {obj.id: obj for obj in objects}
    world.next_id = next_id
    world.rebuild_indexes()
    return world

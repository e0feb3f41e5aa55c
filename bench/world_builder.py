"""Big bench worlds, built offline through the world's API (not telnet): checkpoint.py and
upgrade.py share them.

1. ``populate(world, n)``: a bench class under ``$thing`` defines 8 properties; then N/100
   rooms and N things (owner #2, 100 to a room, each with its own values: str, int,
   float, lists, ObjRef), 10,000 things per transaction (one journal frame each).
   Progress goes to stderr every 10 s, with a warning if a batch slows down as the world
   grows (something that should be O(1) is not).
2. ``build_world(data_dir, n)``: ``Store.open`` on an empty data dir gives the core world;
   ``populate`` it, write the ``initial`` checkpoint, close. GC is off while populating:
   not what is measured.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

from moo.config import Persist
from moo.persist.store import Store
from moo.world.loader import build_core_world
from moo.world.values import ObjRef
from moo.world.world import World

WIZARD = 2
PER_TRANSACTION = 10_000
PER_ROOM = 100
PROPS = ("label", "weight", "price", "tags", "origin", "counter", "history", "maker")
DEFAULTS: tuple[Any, ...] = ("", 0, 0.0, [], ObjRef(-1), 0, [], ObjRef(-1))

clock = time.monotonic


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def thing_values(i: int, room: int, cls: int) -> tuple[Any, ...]:
    return (
        f"bench thing {i}, one of many",
        i % 1000,
        i * 0.25,
        ["bench", f"t{i % 50}"],
        ObjRef(room),
        i,
        [i, "made", ObjRef(cls)],
        ObjRef(WIZARD),
    )


def populate(world: World, n: int) -> list[int]:
    """Add the bench class, N/100 rooms and N things; returns the things' ids (step 1)."""
    began = clock()
    with world.transaction():
        cls = world.create(world.sys("thing"), WIZARD, "Bench Class")
        for name, default in zip(PROPS, DEFAULTS, strict=True):
            world.define_prop(cls, name, default, WIZARD, "rc")
    room_parent = world.sys("room")
    things: list[int] = []
    room = -1
    last_note = first_batch = 0.0
    while len(things) < n:
        batch_began = clock()
        with world.transaction():
            for i in range(len(things), min(n, len(things) + PER_TRANSACTION)):
                if i % PER_ROOM == 0:
                    room = world.create(room_parent, WIZARD, f"Bench Room {i // PER_ROOM}")
                oid = world.create(cls, WIZARD, f"bench thing {i}", location=room)
                for name, value in zip(PROPS, thing_values(i, room, cls), strict=True):
                    world.set_prop(oid, name, value)
                things.append(oid)
        batch = clock() - batch_began
        first_batch = first_batch or batch
        if clock() - last_note > 10 or len(things) == n:
            last_note = clock()
            note(
                f"  built {len(things)}/{n} things in {clock() - began:.1f} s "
                f"(last {PER_TRANSACTION} in {batch:.2f} s)"
            )
            if batch > 3 * first_batch and batch > 1.0:
                note(
                    f"  warning: a batch now takes {batch / first_batch:.1f}x the first one: "
                    f"something grows with the world (py-spy dump --pid {os.getpid()})"
                )
    return things


async def build_world(data_dir: Path, n: int) -> dict[str, Any]:
    """Build an N-thing world in ``data_dir`` and checkpoint it (step 2); returns figures.

    Raises RuntimeError if the checkpoint fails, CheckpointError if the store does.
    """
    gc.disable()
    began = clock()
    try:
        store = Store.open(data_dir, Persist(checkpoint_interval_seconds=0), build_core_world)
        populate(store.world, n)
    finally:
        gc.enable()
    build_seconds = clock() - began
    initial = await store.checkpoint("initial", "bench")
    if not initial.ok:
        raise RuntimeError(f"initial checkpoint failed: {initial.error}")
    world_objects = len(store.world.objects)
    await store.close(final_reason=None)
    return {
        "objects": n,
        "world_objects": world_objects,
        "build_seconds": round(build_seconds, 2),
        "checkpoint_bytes": initial.bytes,
    }

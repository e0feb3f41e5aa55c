"""``moo import FILE``: a LambdaMOO textdump as a new data directory's world.

1. A data directory that already holds a world is refused (its checkpoints are never
   overwritten); ``--force`` moves it aside to ``DIR.replaced-<time>/`` first.
2. The dump is read and imported (``app.textdump_world``: a damaged file is refused with
   its line number, before anything is written; a directory this command made is removed
   again if a later step fails).
3. The data directory is made with that world as ``moo serve`` makes one on a first start
   (``Store.open``) and checkpointed once, so ``moo serve --data-dir DIR`` starts from it
   (and ``core_db`` no longer matters for it). The summary says what was imported.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from moo import paths
from moo.app import textdump_world
from moo.config import Config
from moo.errors import MooError
from moo.persist import lock
from moo.persist.recovery import list_checkpoints
from moo.persist.store import Store
from moo.world.world import World


def run_import(config: Config, source: Path, force: bool, out: Callable[[str], None]) -> int:
    """Steps 1 to 3. Raises MooError."""
    data = config.data_dir
    if list_checkpoints(data / "checkpoints"):
        if not force:
            raise MooError(f"{data} already holds a world (use --force to move it aside)")
        aside = data.with_name(f"{data.name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
        data.rename(aside)
        out(f"moved the world that was in {data} to {aside}")
    world = textdump_world(source)  # a damaged file is refused before anything is made
    made = not data.exists() or not any(data.iterdir())
    paths.prepare(data)
    held = lock.acquire(data)
    try:
        outcome = asyncio.run(_import(config, world))
    except BaseException:
        if made:  # nothing half-made is left behind
            shutil.rmtree(data, ignore_errors=True)
        raise
    finally:
        os.close(held)
    world_objects, checkpoint = outcome
    out(f"imported {source} into {data}: {world_objects} objects, checkpoint {checkpoint}")
    out(f"start it with: moo serve --data-dir {data} --wizard-password <password>")
    return 0


async def _import(config: Config, world: World) -> tuple[int, str]:
    store = Store.open(config.data_dir, config.persist, lambda: world)
    try:
        done = await store.checkpoint("initial", "server")
        if not done.ok:
            raise MooError(f"the first checkpoint failed: {done.error}")
        return len(store.world.objects), done.path.name if done.path is not None else "?"
    finally:
        await store.close(final_reason=None)

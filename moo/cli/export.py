"""``moo export FILE``: a data directory's world as a LambdaMOO textdump.

1. The world is recovered read-only (the newest checkpoint that verifies and the journal
   after it, ``recover(..., readonly=True)``), so a running server may go on writing: the
   file is the world as of the last change written to disk.
2. ``export_world`` maps it onto LambdaMOO's structures (moo/textdump/exporter.py) and
   ``write_textdump`` writes the text; strings go out as LambdaMOO keeps them, one byte per
   character (Latin-1): a character past Latin-1 becomes ``?`` and is counted.
3. The file is written beside its name and renamed into place, so a failure leaves no
   half-written dump. What LambdaMOO cannot hold is printed (and the count of it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from moo.config import Config
from moo.errors import MooError
from moo.persist.recovery import recover
from moo.textdump.exporter import export_world
from moo.textdump.writer import write_textdump
from moo.world.world import World

SHOWN = 20
"""Lines of the report printed one by one; the rest are counted."""


def run_export(config: Config, target: Path, out: Callable[[str], None]) -> int:
    """Steps 1 to 3. Raises MooError (no world, a recovery that would lose data, a file
    that cannot be written)."""
    data = config.data_dir

    def no_world() -> World:
        raise MooError(f"{data} holds no world yet (no checkpoint): nothing to export")

    recovered = recover(data / "checkpoints", data / "journal", no_world, readonly=True)
    dump, report = export_world(recovered.world)
    text = write_textdump(dump)
    encoded = text.encode("latin-1", errors="replace")
    replaced = sum(1 for char in text if ord(char) > 0xFF)
    temp = target.with_name(target.name + ".tmp")
    try:
        temp.write_bytes(encoded)
        os.replace(temp, target)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise MooError(f"cannot write {target}: {error.strerror or error}") from None
    out(
        f"exported {report.objects} objects, {report.verbs} verbs ({report.programs} with"
        f" programs), {report.recycled} recycled numbers to {target} ({len(encoded)} bytes)"
    )
    for line in report.dropped[:SHOWN]:
        out(f"  not in the file: {line}")
    if len(report.dropped) > SHOWN:
        out(f"  ... and {len(report.dropped) - SHOWN} more")
    if replaced:
        out(f"  {replaced} character(s) past Latin-1 written as '?'")
    if report.tasks_not_exported:
        out(f"  {report.tasks_not_exported} queued or suspended task(s) not exported")
    return 0

"""Recovery at start: the newest checkpoint that verifies, then the journal from its position.

1. Checkpoints in ``DATA_DIR/checkpoints/`` are tried newest first; one that fails its
   checks is skipped with a log line naming it and why, and the previous one is used.
2. The journal is replayed from the chosen checkpoint's position. A torn frame at the
   very end (a crash mid-append, by journal_format.py's rule) is cut off, with a log line.
   Any other damage, or a gap in the sequence, refuses the start (``RecoveryError``) unless
   ``force`` is given: then replay stops at the damage and the damaged segments are set
   aside (renamed ``*.damaged``), and the log says what was lost.
3. An empty data directory means a new world from ``core_db/`` (``fresh``). A journal or
   checkpoints with no usable checkpoint refuse the start unless ``force``.
4. The journal's marker (journal.py, step 5) says where the writer was. A newest segment
   that is gone, or a journal that ends before the last LSN the writer wrote, refuses
   the start unless ``force``; then the log and the notes say what is missing.

A refused recovery changes nothing on disk: a torn tail is cut only once every check
has passed.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from moo.errors import CheckpointError
from moo.persist import journal_format as jf
from moo.persist import marker as mk
from moo.persist import snapshot
from moo.world.world import World

log = logging.getLogger(__name__)

CHECKPOINT_SUFFIX = ".mck"


class RecoveryError(CheckpointError):
    """The data directory cannot be recovered without losing data; start refused."""


@dataclass
class Recovered:
    world: World
    fresh: bool
    position: int  # the last LSN applied (the journal continues after it)
    checkpoint: Path | None
    replayed: int = 0
    notes: list[str] = field(default_factory=list)


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """(generation, path) of every checkpoint file, oldest first; [] if ``directory`` is not
    there."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.glob(f"ckpt-*{CHECKPOINT_SUFFIX}"):
        number = path.name[5 : -len(CHECKPOINT_SUFFIX)]
        if number.isdigit():
            found.append((int(number), path))
    return sorted(found)


def checkpoint_path(directory: Path, generation: int) -> Path:
    return directory / f"ckpt-{generation:08d}{CHECKPOINT_SUFFIX}"


def recover(
    checkpoints: Path,
    journal_dir: Path,
    build_fresh: Callable[[], World],
    *,
    force: bool = False,
    readonly: bool = False,
) -> Recovered:
    """Rebuild the world from disk. Raises RecoveryError when that would lose data silently.

    ``readonly`` (a hot-upgrade replacement loading while the running server still
    writes): change nothing on disk; an incomplete last frame is where reading stops
    (the writer may be mid-append), and damage always refuses.
    """
    notes: list[str] = []
    world: World | None = None
    position = 0
    chosen: Path | None = None
    candidates = list_checkpoints(checkpoints)
    for _generation, path in reversed(candidates):
        try:
            world, header = snapshot.load(path)
        except CheckpointError as error:
            notes.append(f"skipped damaged checkpoint {path.name}: {error}")
            log.error("skipping checkpoint: %s", error)
            continue
        position, chosen = header.journal_position, path
        break
    segments = jf.list_segments(journal_dir)
    fresh = False
    if world is None:
        journal_from_start = bool(segments) and segments[0][0] == 1
        if (candidates or segments) and not journal_from_start and not force:
            raise RecoveryError(
                "no checkpoint in the data directory verifies"
                + (f" ({len(candidates)} tried)" if candidates else "")
                + " and the journal does not start at the beginning; refusing to start with "
                "a world that would lose data. Use --force-recover to start from the core "
                "world plus whatever journal remains."
            )
        world = build_fresh()
        fresh = not candidates and not segments
        if not fresh:
            notes.append("no usable checkpoint: rebuilt the core world and replayed the journal")
    marker = mk.read_marker(journal_dir)
    missing = _missing_newest(marker, segments)
    if missing is not None:
        _refuse_or_note(missing, force and not readonly, notes)
    replayed = 0
    report = jf.ReadReport()
    if segments:
        replayed, last_lsn, report = _replay(world, journal_dir, position, force, notes, readonly)
        position = max(position, last_lsn)
    if missing is None and not report.corrupt:  # forced past damage: already said
        behind = _missing_after_replay(marker, position)
        if behind is not None:
            _refuse_or_note(behind, force and not readonly, notes)
    if report.torn_tail is not None and not readonly:
        path, offset = report.torn_tail
        jf.truncate_torn_tail(path, offset)
        note = f"journal {path.name}: cut a torn record at byte {offset} (a crash mid-write)"
        notes.append(note)
        log.warning("%s", note)
    return Recovered(world, fresh, position, chosen, replayed, notes)


def _missing_newest(marker: mk.Marker | None, segments: list[tuple[int, Path]]) -> str | None:
    """What is missing, judged before replay: the segment the marker names (or a later
    one) is gone. None when nothing is known to be missing."""
    if marker is None or marker.last is not None:
        return None  # a clean close is judged by position (_missing_after_replay)
    if any(first >= marker.segment for first, _path in segments):
        return None
    return f"the journal's newest segment {jf.segment_name(marker.segment)} is missing"


def _missing_after_replay(marker: mk.Marker | None, position: int) -> str | None:
    """What is missing, judged after replay: the world reached ``position`` but the
    writer had written further. None when nothing is known to be missing."""
    if marker is None:
        return None
    written = marker.last if marker.last is not None else marker.segment - 1
    if position >= written:
        return None
    return (
        f"the journal ends at {position} but the server had written up to {written} "
        f"(segment {jf.segment_name(marker.segment)} or the ones before it are missing)"
    )


def _refuse_or_note(missing: str, force: bool, notes: list[str]) -> None:
    """Raise RecoveryError for journal the writer wrote that is not here, or, forced,
    note and log that every change in it is lost."""
    if not force:
        raise RecoveryError(
            f"{missing}: starting would silently lose every change written there. Put the "
            "missing journal back, or use --force-recover to start without it."
        )
    note = f"forced recovery: {missing}; every change it held is lost"
    notes.append(note)
    log.error("%s", note)


def _replay(
    world: World,
    journal_dir: Path,
    position: int,
    force: bool,
    notes: list[str],
    readonly: bool = False,
) -> tuple[int, int, jf.ReadReport]:
    """Apply the journal after ``position``; (frames applied, last valid LSN seen, what
    reading found). A torn tail is left for the caller to cut."""
    report = jf.ReadReport()
    applied = 0
    for _lsn, records in jf.read_journal(journal_dir, position, report):
        for record in records:
            world.apply(record)
        applied += 1
    for note in report.skipped:
        notes.append(f"journal {note} (a checkpoint already holds those records)")
        log.warning("journal %s; a checkpoint already holds those records", note)
    if report.corrupt:
        detail = "; ".join(report.corrupt)
        if not force or readonly:
            raise RecoveryError(
                f"the journal is damaged ({detail}); starting would silently drop the "
                "changes it holds from there on. Use --force-recover to start with what "
                "precedes the damage (the damaged segments are kept aside)."
            )
        _set_aside_from_damage(journal_dir, report)
        notes.append(f"forced recovery: stopped at journal damage ({detail})")
        log.error("forced recovery: stopped at journal damage (%s)", detail)
    return applied, report.last_lsn, report  # apply() keeps the indexes as it goes, as live


def catch_up(world: World, journal_dir: Path, after: int, through: int) -> int:
    """Apply the journal's frames ``after`` < lsn <= ``through`` (a replacement catching up
    with the running server's final position). Returns the frames applied.

    Raises RecoveryError when the journal does not hold exactly those frames. Reads only.
    """
    if through <= after:
        return 0
    report = jf.ReadReport()
    applied = 0
    last = after
    for lsn, records in jf.read_journal(journal_dir, after, report):
        if lsn > through:
            break
        for record in records:
            world.apply(record)
        applied += 1
        last = lsn
    if report.corrupt:
        raise RecoveryError(f"the journal is damaged: {'; '.join(report.corrupt)}")
    if last != through:
        raise RecoveryError(f"the journal ends at {last} but the running server is at {through}")
    return applied  # apply() keeps the indexes as it goes, as it does live


def _set_aside_from_damage(journal_dir: Path, report: jf.ReadReport) -> None:
    """Keep the good frames before the damage where they are; set the rest aside.

    The damaged segment is copied whole to ``*.damaged`` and then cut at the damage,
    and every later segment is renamed ``*.damaged``: the journal left behind ends
    exactly where replay stopped, so the next start (even after another crash) finds
    no gap.
    """
    if report.damage is None:
        return
    damaged, offset = report.damage
    kept = damaged.with_name(damaged.name + ".damaged")
    shutil.copyfile(damaged, kept)
    os.chmod(kept, 0o600)
    jf.truncate_torn_tail(damaged, offset)
    later = False
    for _first, path in jf.list_segments(journal_dir):
        if later:
            path.rename(path.with_name(path.name + ".damaged"))
        later = later or path == damaged

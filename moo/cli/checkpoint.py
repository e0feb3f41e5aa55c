"""``moo checkpoint ...``: prints what moo.persist's manage, cleanup, restore and archive return.

The argparse wiring is in ``cli.py``. Exit codes: 0 done, 1 a check failed or the command
was refused (``moo checkpoint: <why>`` on stderr), 2 a usage error (a bad ID, age,
``--keep`` or config file). ``--data-dir`` defaults to the config's ``data_dir`` (``data``
without a config), the same directory ``moo serve`` uses; retention defaults come from
``persist.keep_checkpoints`` and ``persist.max_checkpoint_bytes``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime

from moo.config import Config, load
from moo.errors import ConfigError, MooError
from moo.persist import archive, cleanup, manage, restore
from moo.persist.manage import DataDir, Ident

Out = Callable[[str], None]


class UsageError(MooError):
    """A bad argument value: exit 2."""


def when(epoch: float) -> str:
    """Local time with its UTC offset, one token: ``2026-05-09T09:35:25+02:00``."""
    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


def human(size: int) -> str:
    """``512B``, ``12.0KiB``, ``3.4MiB``: one token, for tables."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size}B" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    raise AssertionError("unreachable")


def table(rows: list[list[str]], right: set[int]) -> list[str]:
    """Rows padded to column widths; columns in ``right`` right-aligned; the last is free."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row[:-1])
        ]
        lines.append("  ".join([*cells, row[-1]]))
    return lines


def _ident(text: str) -> Ident:
    try:
        return manage.parse_id(text)
    except ValueError as error:
        raise UsageError(str(error)) from None


def cmd_list(args: argparse.Namespace, data: DataDir, config: Config, out: Out) -> int:
    listing = manage.list_entries(data)
    rows = [["ID", "CREATED", "OBJECTS", "SIZE", "JOURNAL", "REASON", "BY", "STATUS"]]
    for e in listing.entries:
        h, r = e.header, e.record
        rows.append(
            [
                str(e.generation),
                when(h.created) if h else "-",
                str(h.object_count) if h else "-",
                human(e.size),
                str(h.journal_position) if h else "-",
                r.reason if r else "-",
                (r.requested_by or "-") if r else "-",
                "ok" if e.damage is None else f"DAMAGED: {e.damage}",
            ]
        )
    for line in table(rows, right={0, 2, 3, 4}):
        out(line)
    if listing.records_note:
        print(f"moo checkpoint: records not shown: {listing.records_note}", file=sys.stderr)
    return 0


def cmd_show(args: argparse.Namespace, data: DataDir, config: Config, out: Out) -> int:
    details = manage.show(data, _ident(args.id))
    e, h = details.entry, details.entry.header
    out(f"checkpoint {e.generation}")
    lines: list[tuple[str, object]] = [("file", e.path), ("size", f"{e.size} bytes")]
    if h is None:
        lines.append(("header", f"DAMAGED: {e.damage}"))
    else:
        lines += [
            ("header", "ok (run `verify` for the full checksum)"),
            ("format", h.format),
            ("digest", h.digest),
            ("objects", h.object_count),
            ("next id", h.next_id),
            ("journal position", h.journal_position),
            ("created", when(h.created)),
            ("server version", h.server_version),
            ("body length", h.body_length),
        ]
    if e.record is None:
        lines.append(("record", details.records_note or "none in the records database"))
    for field in fields(e.record) if e.record else ():
        value = getattr(e.record, field.name)
        if value is not None and field.name in ("started", "finished"):
            value = when(value)
        elif value is not None and field.name == "duration":
            value = f"{value:.3f} s"
        elif value is not None and field.name == "max_stall":
            value = f"{value * 1000:.1f} ms"
        lines.append((f"record {field.name.replace('_', ' ')}", "-" if value is None else value))
    lines += _coverage_lines(h.journal_position if h else 0, details.coverage)
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        out(f"  {label + ':':<{width + 1}} {value}")
    return 0


def _coverage_lines(position: int, c: manage.Coverage | None) -> list[tuple[str, object]]:
    if c is None:
        return [("roll forward", "unknown: the header is damaged")]
    segments = ", ".join(f"{name} ({size} bytes)" for name, size in c.segments) or "none"
    after = f"lsn {position + 1}..{c.last_lsn}" if c.frames else ""
    if c.problem is not None:
        roll = f"NOT POSSIBLE: {c.problem}"
    else:
        roll = "complete: every frame after it is on disk"
        if c.torn_tail:
            roll += " (the newest segment ends in a partial frame: a write in progress?)"
    return [
        ("journal segments", segments),
        ("frames after it", f"{c.frames} {after}".strip()),
        ("roll forward", roll),
    ]


def cmd_verify(args: argparse.Namespace, data: DataDir, config: Config, out: Out) -> int:
    results = manage.verify(data, None if args.id is None else _ident(args.id))
    for v in results:
        status = "OK" if v.error is None else f"FAILED: {v.error}"
        out(f"{v.generation}  {v.path.name}  {status}")
    failed = [v.path.name for v in results if v.error is not None]
    if failed:
        print(f"moo checkpoint: verification failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def cmd_rm(args: argparse.Namespace, data: DataDir, config: Config, out: Out) -> int:
    removed = cleanup.remove(data, _ident(args.id))
    records = f" and {removed.records_deleted} record(s)" if removed.records_deleted else ""
    out(f"removed checkpoint {removed.generation} ({removed.path.name}){records}")
    return 0


def cmd_prune(args: argparse.Namespace, data: DataDir, config: Config, out: Out) -> int:
    keep = max(1, config.persist.keep_checkpoints) if args.keep is None else args.keep
    if keep < 1:
        raise UsageError(f"--keep: expected a whole number >= 1, got {keep}")
    try:
        max_age = None if args.max_age is None else cleanup.parse_age(args.max_age)
    except ValueError as error:
        raise UsageError(str(error)) from None
    pruned = cleanup.prune(
        data,
        keep=keep,
        max_age=max_age,
        max_bytes=config.persist.max_checkpoint_bytes,
        dry_run=args.dry_run,
    )
    verb = "would remove" if pruned.dry_run else "removed"
    for e in pruned.removed:
        out(f"{verb} checkpoint {e.generation} ({e.path.name}, {human(e.size)})")
    kept = ", ".join(str(e.generation) for e in pruned.kept)
    out(f"kept {len(pruned.kept)} checkpoint(s): {kept} (newest that verifies: {pruned.protected})")
    return 0


def cmd_usage(args: argparse.Namespace, data: DataDir, config: Config, out: Out) -> int:
    rows = [["", "FILES", "BYTES", ""]]
    rows += [[r.name, str(r.count), str(r.bytes), human(r.bytes)] for r in cleanup.usage(data)]
    for line in table(rows, right={1, 2}):
        out(line.rstrip())
    return 0


def cmd_archive(args: argparse.Namespace, data: DataDir, config: Config, out: Out) -> int:
    done = archive.archive(data, _ident(args.id), args.file)
    out(
        f"archived checkpoint {done.generation} ({done.header.object_count} objects) and "
        f"{len(done.segments)} journal segment(s) to {done.path} ({human(done.bytes)})"
    )
    return 0


def cmd_extract(args: argparse.Namespace, data: DataDir, config: Config, out: Out) -> int:
    done = archive.extract(args.file, data, force=args.force)
    for note in done.notes:
        out(f"note: {note}")
    if done.replaced is not None:
        out(f"the world that was in {data.root} is now in {done.replaced}")
    out(
        f"extracted checkpoint {done.generation} and {len(done.segments)} journal segment(s) "
        f"into {data.root}: {done.header.object_count} objects in the checkpoint, "
        f"{done.replayed} journal frame(s) after it; world digest {done.digest}"
    )
    return 0


def cmd_restore(args: argparse.Namespace, data: DataDir, config: Config, out: Out) -> int:
    done = restore.restore(data, _ident(args.id))
    if done.aside is None:
        out(f"checkpoint {done.generation} is already the newest, with no journal after it")
        return 0
    cut = f", a copy of {done.cut_segment} (the kept one is cut)" if done.cut_segment else ""
    out(
        f"restored checkpoint {done.generation}: moved {len(done.checkpoints)} newer "
        f"checkpoint(s) and {len(done.segments)} journal segment(s){cut} to {done.aside}; "
        "the next `moo serve` starts from this checkpoint"
    )
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, DataDir, Config, Out], int]] = {
    "list": cmd_list,
    "show": cmd_show,
    "verify": cmd_verify,
    "rm": cmd_rm,
    "prune": cmd_prune,
    "usage": cmd_usage,
    "archive": cmd_archive,
    "extract": cmd_extract,
    "restore": cmd_restore,
}


def run(args: argparse.Namespace, out: Out = print) -> int:
    """Run one ``moo checkpoint`` action. Returns the exit code; errors go to stderr."""
    try:
        config = load(args.config)
        data = DataDir(args.data_dir or config.data_dir, config.persist.records_url)
        return COMMANDS[args.action](args, data, config, out)
    except (UsageError, ConfigError) as error:
        print(f"moo checkpoint: {error}", file=sys.stderr)
        return 2
    except MooError as error:
        print(f"moo checkpoint: {error}", file=sys.stderr)
        return 1

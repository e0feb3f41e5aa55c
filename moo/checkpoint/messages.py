"""The $checkpointer's words: announcements, warnings, status and the history table.

The Started and Finished lines follow the MOO checkpointer these commands come from
(shared/seeds/moo-checkpointer.txt), two spaces after "[Checkpointer]" included.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from moo.checkpoint.timeparse import format_duration, format_when
from moo.persist.records import CheckpointRecord

PREFIX = "[Checkpointer]  "


def when(epoch: float, tz: ZoneInfo) -> str:
    return format_when(datetime.fromtimestamp(epoch, UTC), tz)


def size(count: int) -> str:
    return f"{count:,} byte{'s' if count != 1 else ''}"


def rate(grown: int, seconds: float) -> str:
    """Growth per the largest unit that shows at least 1 byte: '1 byte/minute'."""
    if seconds <= 0:
        return "n/a"
    for unit, length in (("second", 1), ("minute", 60), ("hour", 3600), ("day", 86400)):
        per = abs(grown) / seconds * length
        if per >= 1 or unit == "day":
            value = round(per)
            return f"{value:,} byte{'s' if value != 1 else ''}/{unit}"
    raise AssertionError("unreachable")


def estimate(records: Sequence[CheckpointRecord]) -> tuple[float, float] | None:
    """Average duration and lag of the last few successful checkpoints (None: no history)."""
    ok = [r for r in records if r.status == "ok" and r.duration is not None][:5]
    if not ok:
        return None
    duration = sum(r.duration or 0.0 for r in ok) / len(ok)
    lag = sum(r.max_stall or 0.0 for r in ok) / len(ok)
    return duration, lag


def started(epoch: float, tz: ZoneInfo, guess: tuple[float, float] | None) -> str:
    if guess is None:
        tail = "there is no history yet to say how long it should take or how much lag it causes."
        return f"{PREFIX}Started at {when(epoch, tz)}; {tail}"
    duration, lag = guess
    return (
        f"{PREFIX}Started at {when(epoch, tz)}, it should take about {format_duration(duration)}"
        f" and cause {format_duration(lag)} of lag."
    )


def finished(record: CheckpointRecord, previous: CheckpointRecord | None, tz: ZoneInfo) -> str:
    took = format_duration(record.duration or 0.0)
    text = (
        f"{PREFIX}Finished at {when(record.finished or record.started, tz)} and took {took}."
        f"  The DB size was {size(record.bytes or 0)}."
    )
    if previous is not None and previous.bytes is not None and previous.finished is not None:
        grown = (record.bytes or 0) - previous.bytes
        span = (record.finished or record.started) - previous.finished
        verb = "grew" if grown >= 0 else "shrank"
        text += (
            f"  It {verb} {size(abs(grown))} in approximately {format_duration(span)}"
            f" ({rate(grown, span)})."
        )
    return text + f"  The checkpoint caused {format_duration(record.max_stall or 0.0)} of lag."


def failed(started_at: float, error: str, retry_at: float, tz: ZoneInfo) -> str:
    return (
        f"{PREFIX}The checkpoint started at {when(started_at, tz)} FAILED: {error}.  "
        f"The next try is at {when(retry_at, tz)}."
    )


def warning(lead: float, at: float, tz: ZoneInfo) -> str:
    return f"{PREFIX}A checkpoint will start in {format_duration(lead)} (at {when(at, tz)})."


def stale(since: float | None, now: float, tz: ZoneInfo) -> str:
    if since is None:
        return f"{PREFIX}WARNING: no checkpoint of this world has ever succeeded."
    return (
        f"{PREFIX}WARNING: no checkpoint has succeeded for {format_duration(now - since)}"
        f" (the last one finished at {when(since, tz)})."
    )


def history(records: Sequence[CheckpointRecord], tz: ZoneInfo, limit: int = 10) -> list[str]:
    """The @list-checkpoints table of the newest ``limit`` records (growth is measured
    against the next older successful one, even beyond the rows shown)."""
    if not records:
        return ["No checkpoints have been recorded yet."]
    lines = [
        f"{'When':<28} {'Why':<9} {'Who':<12} {'Took':>7} {'Size':>12} {'Growth':>10}"
        f" {'Lag':>8}  Status"
    ]
    for index, record in enumerate(records[:limit]):
        older = next((r for r in records[index + 1 :] if r.status == "ok"), None)
        growth = ""
        if record.bytes is not None and older is not None and older.bytes is not None:
            growth = f"{record.bytes - older.bytes:+,}"
        took = f"{record.duration:.2f}s" if record.duration is not None else "-"
        lag = f"{(record.max_stall or 0) * 1000:.1f}ms" if record.max_stall is not None else "-"
        status = record.status if record.status != "failed" else f"FAILED: {record.error or '?'}"
        who = (record.requested_by or "-")[:12]
        lines.append(
            f"{when(record.started, tz):<28} {record.reason:<9} {who:<12}"
            f" {took:>7} {record.bytes or 0:>12,} {growth:>10} {lag:>8}  {status}"
        )
    return lines

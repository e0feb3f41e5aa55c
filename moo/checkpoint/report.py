"""@status-checkpoint: what the $checkpointer knows, in the order the seed's help lists it."""

from __future__ import annotations

from moo.checkpoint import messages
from moo.checkpoint.service import Checkpointer
from moo.checkpoint.timeparse import format_duration


def status_lines(cp: Checkpointer) -> list[str]:
    now = cp.clock()
    tz = cp.tz
    lines = []
    upcoming = cp.next_checkpoint()
    if upcoming is None:
        lines.append("Next checkpoint: none scheduled (regular checkpoints are off).")
    else:
        lines.append(
            f"Next checkpoint: in {format_duration(max(0.0, upcoming.at - now))}"
            f" (at {messages.when(upcoming.at, tz)}): {upcoming.why}."
        )
    last = cp.last_success()
    if last is not None and last.finished is not None:
        lines.append(
            f"Last saved: {format_duration(now - last.finished)} ago"
            f" (at {messages.when(last.finished, tz)}; reason: {last.reason})."
        )
    else:
        lines.append("Last saved: never.")
    attempt = cp.last_attempt()
    if attempt is not None and attempt.status == "failed":
        lines.append(
            f"Last attempt: FAILED at {messages.when(attempt.finished or attempt.started, tz)}"
            f" ({attempt.error or 'unknown error'})."
        )
    if cp.running_since is not None:
        busy = cp.busy_reply() or ""
        lines.append(
            f"In progress: yes, started {format_duration(now - cp.running_since)} ago. {busy}"
        )
    else:
        lines.append("In progress: no.")
    settings = cp.settings
    lines.append(
        f"Interval: {format_duration(settings.interval)}; after a failed checkpoint:"
        f" {format_duration(settings.failed_interval)}."
    )
    guess = messages.estimate(cp.history)
    if guess is not None:
        lines.append(
            f"Recent checkpoints take about {format_duration(guess[0])} and cause"
            f" {format_duration(guess[1])} of lag."
        )
    if last is not None and last.bytes is not None:
        lines.append(
            f"World size at the last checkpoint: {messages.size(last.bytes)}"
            f" ({last.object_count or 0:,} objects)."
        )
    stale = cp.stale_warning()
    if stale is not None:
        lines.append(stale)
    return lines

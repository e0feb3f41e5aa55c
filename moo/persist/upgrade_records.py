"""Hot-upgrade records: one row per upgrade attempt in the records database.

The ``upgrades`` table is defined in records_schema.py (one schema, one version number);
this module holds what is done with it, so that records.py stays about checkpoints
and server runs.

How an upgrade is recorded:

1. The old server, before it starts the replacement: ``begin_sync`` writes a row with
   outcome ``running`` and returns its id.
2. When the handoff has ended either way: ``finish_sync`` sets the outcome (``ok`` or
   ``failed``), the level reached, the freeze time, the sessions carried and the
   replacement's version and pid.
3. At a cold start (never in a replacement, whose own upgrade row is still running):
   ``fail_interrupted_sync`` marks rows left ``running`` by a process that died.
4. ``recent_sync`` and ``last_ok_sync`` read them back.

Every method is sync and runs one transaction through ``Records.transaction()``;
from the event loop: ``await records.call(log.begin_sync, started=..., ...)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from moo.errors import CheckpointError
from moo.persist.records import Records, upgrades

FINISHED_OUTCOMES = frozenset({"ok", "failed"})
LEVELS = frozenset({1, 2, 3})


@dataclass(frozen=True, slots=True)
class UpgradeRecord:
    id: int
    started: float
    finished: float | None
    requested_by: str | None
    command: list[str] | None
    command_before: list[str] | None
    from_version: str | None
    from_pid: int | None
    to_version: str | None
    to_pid: int | None
    level: int | None
    outcome: str
    freeze_ms: float | None
    sessions: int | None
    error: str | None


def _record(row: sa.Row[Any]) -> UpgradeRecord:
    values = dict(row._mapping)
    values["command"] = _decode_command(values["id"], values["command"])
    values["command_before"] = _decode_command(values["id"], values["command_before"])
    return UpgradeRecord(**values)


def _decode_command(upgrade_id: int, text: str | None) -> list[str] | None:
    """The stored JSON command line as a list; raises CheckpointError if it is not one."""
    if text is None:
        return None
    try:
        command = json.loads(text)
    except ValueError:
        command = None
    if not isinstance(command, list) or not all(isinstance(arg, str) for arg in command):
        raise CheckpointError(f"upgrade record {upgrade_id}: command is not a JSON list of strings")
    return command


class UpgradeLog:
    """The ``upgrades`` rows of one Records database. Thread-safe as Records is."""

    def __init__(self, records: Records) -> None:
        self._records = records

    def begin_sync(
        self,
        *,
        started: float,
        requested_by: str | None,
        command: list[str],
        from_version: str | None,
        from_pid: int | None,
        command_before: list[str] | None = None,
    ) -> int:
        """Record an upgrade as running; returns its id.

        ``command`` is the replacement's command line and ``command_before`` the
        program it replaces (what a rollback runs), both stored as JSON.
        Raises CheckpointError if the database fails. Atomic (one INSERT).
        """
        stmt = sa.insert(upgrades).values(
            started=started,
            requested_by=requested_by,
            command=json.dumps(command),
            command_before=None if command_before is None else json.dumps(command_before),
            from_version=from_version,
            from_pid=from_pid,
            outcome="running",
        )
        return self._records.insert_sync(stmt)

    def finish_sync(
        self,
        upgrade_id: int,
        *,
        finished: float,
        outcome: str,
        level: int | None = None,
        freeze_ms: float | None = None,
        sessions: int | None = None,
        to_version: str | None = None,
        to_pid: int | None = None,
        error: str | None = None,
    ) -> None:
        """Record how a running upgrade ended.

        Returns None. Raises CheckpointError for an outcome other than ok/failed, a level
        other than 1, 2, 3 or None, an unknown id, an upgrade that is not running (finished
        twice, or failed by fail_interrupted_sync), or a database failure. Atomic (one
        UPDATE).
        """
        if outcome not in FINISHED_OUTCOMES:
            raise CheckpointError(f"an upgrade finishes 'ok' or 'failed', not {outcome!r}")
        if level is not None and level not in LEVELS:
            raise CheckpointError(f"an upgrade level is 1, 2 or 3, not {level!r}")
        self._records.finish_running_sync(
            upgrades,
            upgrades.c.outcome,
            upgrade_id,
            "upgrade record",
            {
                "finished": finished,
                "outcome": outcome,
                "level": level,
                "freeze_ms": freeze_ms,
                "sessions": sessions,
                "to_version": to_version,
                "to_pid": to_pid,
                "error": error,
            },
        )

    def recent_sync(self, limit: int = 10) -> list[UpgradeRecord]:
        """Up to ``limit`` upgrades, newest (highest id) first.

        Raises CheckpointError if the database fails or a stored command is not a JSON
        list of strings. One read transaction.
        """
        stmt = sa.select(upgrades).order_by(upgrades.c.id.desc()).limit(limit)
        with self._records.transaction() as conn:
            rows = conn.execute(stmt).all()
        return [_record(row) for row in rows]

    def last_ok_sync(self) -> UpgradeRecord | None:
        """The newest upgrade with outcome ok, or None.

        Raises CheckpointError as recent_sync does. One read transaction.
        """
        stmt = (
            sa.select(upgrades)
            .where(upgrades.c.outcome == "ok")
            .order_by(upgrades.c.id.desc())
            .limit(1)
        )
        with self._records.transaction() as conn:
            row = conn.execute(stmt).one_or_none()
        return None if row is None else _record(row)

    def fail_interrupted_sync(self, error: str) -> int:
        """Mark every upgrade still 'running' as failed with ``error``; returns how many.

        Call at a cold start only: a replacement started by a hot upgrade would fail the
        very upgrade that started it. ``finished`` stays NULL (the end is unknown).
        Raises CheckpointError. Atomic (one UPDATE).
        """
        stmt = (
            sa.update(upgrades)
            .where(upgrades.c.outcome == "running")
            .values(outcome="failed", error=error)
        )
        with self._records.transaction() as conn:
            return conn.execute(stmt).rowcount

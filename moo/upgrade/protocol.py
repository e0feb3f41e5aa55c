"""What a replacement says in HELLO, and how the running server picks the level from it.

The three levels (shared/seeds/checkpoint-restore-three-level-fallback.md):

1. **Sessions**: listeners, every connection, its telnet state, unread input and unsent
   output move to the replacement; nobody notices more than a pause.
2. **Listeners only**, when the replacement cannot read this session-state version:
   no connection attempt is refused, but connected players are told and closed after a
   final checkpoint.
3. **Restart**, when it cannot take listening sockets either: a final checkpoint, the
   old server exits, the replacement starts cold (a few seconds without a listener).

A replacement that speaks another handoff protocol (``HANDOFF_PROTOCOL``, checked when
its HELLO is decoded: ``moo/protocol/upgrade.py``), cannot read this world's checkpoint
or journal format, or fails a self-check is refused outright: the old server carries on.
One that speaks another SSH gate protocol cannot talk to the running gate, so it gets
level 3 (the old server stops the gate; the replacement starts its own).

Behind a front (an engine's upgrade) the levels say little: the front holds every
connection and the SSH gate, so no socket moves and nobody is closed, and the session,
telnet and gate versions do not matter (the front hands the new engine its sessions
through the link, as to any engine). Only the world's formats do; the messages there say
that the players stay connected on the front and how long the world was frozen
(``front_summary``, ``front_plan_note``), never "level N" or "sessions carried".
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from moo import __version__
from moo.errors import ProtocolError
from moo.net.session import SESSION_STATE_VERSION
from moo.net.telnet_state import STATE_VERSION as TELNET_STATE_VERSION
from moo.persist.journal_format import JOURNAL_FORMAT
from moo.persist.snapshot import FORMAT_VERSION as CHECKPOINT_FORMAT
from moo.persist.snapshot import TASKLESS_FORMAT
from moo.protocol.gate import GATE_PROTOCOL
from moo.protocol.upgrade import HANDOFF_PROTOCOL as HANDOFF_PROTOCOL
from moo.protocol.upgrade import Hello

SESSIONS, LISTENERS, RESTART = "sessions", "listeners", "restart"

CHECKPOINT_FORMATS = tuple(range(TASKLESS_FORMAT, CHECKPOINT_FORMAT + 1))
"""What this server may have written (format 2 only when tasks are queued): a replacement
must read them all, and the journal's task records too, so one that reads format 1 only
(a release before saved tasks) is refused."""


def reads() -> dict[str, list[int]]:
    """The format versions this program reads."""
    return {
        "checkpoint": list(CHECKPOINT_FORMATS),
        "journal": [JOURNAL_FORMAT],
        "session_state": [SESSION_STATE_VERSION],
        "telnet_state": [TELNET_STATE_VERSION],
        "gate": [GATE_PROTOCOL],
    }


def hello(checks: dict[str, str], load_seconds: float) -> Hello:
    """The replacement's HELLO: ``checks`` maps each self-check to "ok" or what failed."""
    return Hello(
        protocol=HANDOFF_PROTOCOL,
        version=__version__,
        pid=os.getpid(),
        reads=reads(),
        accepts=[SESSIONS, LISTENERS, RESTART],
        checks=checks,
        load_seconds=load_seconds,
    )


def summary(version: str, pid: int, level: int, sessions: int, pause_ms: float) -> str:
    """The line both processes log and tell the requester when an upgrade succeeds."""
    return (
        f"Upgrade done: version {version} (pid {pid}) now serves; level {level}, "
        f"{sessions} session(s) carried, frozen {pause_ms:.1f} ms."
    )


def front_summary(version: str, pid: int, connected: int, pause_ms: float) -> str:
    """``summary`` for an engine behind a front: ``connected``, the front's connections
    (all of them stayed; none moved)."""
    return (
        f"Upgrade done: version {version} (pid {pid}) now runs the world behind the front; "
        f"the world was frozen {pause_ms:.1f} ms, and the {connected} connection(s) on the "
        "front stayed connected throughout."
    )


def front_plan_note(plan: Plan, connected: int) -> str:
    """How an engine's replacement takes over, for the requester once it has loaded."""
    if plan.level == 3:
        return (
            "it can only start cold: this engine stops after a final checkpoint, then it "
            f"starts; the {connected} connection(s) wait on the front"
        )
    return f"it takes the world over at the freeze; the {connected} connection(s) stay on the front"


@dataclass(frozen=True)
class Plan:
    level: int
    why: str  # why not level 1 ("" at level 1)
    version: str
    pid: int


def choose_level(message: Hello, *, behind_front: bool = False) -> Plan:
    """The level to hand over at (``behind_front``: an engine's replacement, which takes
    no socket). Raises ProtocolError (why) for an incompatible replacement."""
    if message.protocol != HANDOFF_PROTOCOL:  # decode_hello refuses it first
        theirs = message.protocol
        raise ProtocolError(
            f"it speaks handoff protocol {theirs!r}; this server speaks {HANDOFF_PROTOCOL}"
        )
    version, pid = message.version, message.pid
    failed = [f"{name}: {result}" for name, result in message.checks.items() if result != "ok"]
    if failed:
        raise ProtocolError("its self-checks failed: " + "; ".join(failed))
    found = message.reads
    written = (("checkpoint", CHECKPOINT_FORMATS), ("journal", (JOURNAL_FORMAT,)))
    for what, formats in written:  # each format this server may have written
        for ours in formats:
            if ours not in found.get(what, []):
                raise ProtocolError(f"it cannot read this world's {what} format (version {ours})")
    accepts = message.accepts
    if behind_front:  # the front keeps the sockets, the sessions and the gate
        if SESSIONS in accepts:
            return Plan(1, "", version, pid)
        if LISTENERS in accepts:
            return Plan(2, "it takes no sessions", version, pid)
        if RESTART in accepts:
            return Plan(3, "it accepts only a restart", version, pid)
        raise ProtocolError("it accepts no way of taking over")
    if GATE_PROTOCOL not in found.get("gate", []):
        if RESTART in accepts:
            why = f"it does not speak SSH gate protocol {GATE_PROTOCOL}"
            return Plan(3, why, version, pid)
        raise ProtocolError(f"it does not speak SSH gate protocol {GATE_PROTOCOL}")
    sessions_ok = (
        SESSION_STATE_VERSION in found.get("session_state", [])
        and TELNET_STATE_VERSION in found.get("telnet_state", [])
        and SESSIONS in accepts
    )
    if sessions_ok:
        return Plan(1, "", version, pid)
    if LISTENERS in accepts:
        why = f"it cannot read session state version {SESSION_STATE_VERSION}"
        return Plan(2, why, version, pid)
    if RESTART in accepts:
        return Plan(3, "it can take neither sessions nor listening sockets", version, pid)
    raise ProtocolError("it accepts no way of taking over")

"""The replacement's side of a hot upgrade (``moo serve ... --upgrade-fd N``; handoff.py
is the running server's side).

1. Load while the old server keeps serving: the newest checkpoint and the journal, read
   only (Store.load_readonly); open the records; import the verbs; warm dateparser.
2. Self-checks (the world has its system object; every verb the world uses has code in
   this program), then HELLO. A load failure is sent as ERROR with the reason; exit 1.
3. FREEZE: the data-dir lock and listener fds; catch up with the journal to the old
   server's final position (``recovery.catch_up``). Then the sessions, each with its
   socket, until DONE (transfer.py; none at level 2).
4. Build the server with everything adopted but nothing read or written yet, answer
   READY, and wait for GO. If the channel closes first, the old server called it off:
   exit without touching a socket (closing our copies does not close theirs).
5. GO: become the data directory's writer (Store.take_over: journal, run record), answer
   SERVING (the old server's point of no return), bind verbs new in this code, start
   the checkpointer, thaw every connection and listener, tell players ``message_after``
   and the wizards the figures, record the upgrade, and tell systemd
   ``MAINPID=``/``READY=1``.

RESTART instead of FREEZE (level 3): wait until the old server has exited, then start
cold like ``moo serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moo.accounts import Passwords
from moo.app import core_world_builder
from moo.config import Config
from moo.errors import MooError, ProtocolError
from moo.gc_control import loading_world
from moo.net.connection import Codec, Connection
from moo.net.gate_process import AdoptedGate
from moo.net.gate_protocol import GateServerCodec
from moo.net.listeners import Listener
from moo.net.session import Session
from moo.net.telnet_codec import TelnetCodec
from moo.persist.records import Records
from moo.persist.recovery import Recovered, catch_up
from moo.persist.store import Store
from moo.server import Server
from moo.upgrade import channel as ch
from moo.upgrade import transfer
from moo.world import verb_registry
from moo.world.loader import unbindable
from moo.world.world import World

log = logging.getLogger(__name__)


@dataclass
class Takeover:
    """What the old server handed over, before GO."""

    freeze: dict[str, Any]
    lock_fd: int
    listener_fds: dict[str, int]
    sessions: list[tuple[dict[str, Any], int]] = field(default_factory=list)


@dataclass
class Loaded:
    recovered: Recovered
    records: Records
    load_seconds: float


def self_checks(world: World) -> dict[str, str]:
    """Each check's result: "ok" or what is wrong (any failure refuses the upgrade)."""
    checks = {"world": "ok" if 0 in world.objects else "the world has no system object #0"}
    verb_registry.load_verb_modules()
    missing = sorted(
        {
            verb.impl
            for obj in world.objects.values()
            for verb in obj.verbs
            if verb.impl.startswith("py:") and not _has_code(verb.impl)
        }
    )
    checks["verbs"] = (
        "ok"
        if not missing
        else f"{len(missing)} verb(s) the world uses have no code here: {', '.join(missing[:5])}"
    )
    problems = unbindable(world)
    checks["new_verbs"] = "ok" if not problems else "; ".join(problems[:3])
    return checks


def _has_code(impl: str) -> bool:
    try:
        verb_registry.resolve(impl)
    except MooError:
        return False
    return True


async def load(config: Config) -> Loaded:
    """Step 1. Raises MooError (CheckpointError) or OSError."""
    started = time.monotonic()
    with loading_world():
        recovered = Store.load_readonly(config.data_dir, core_world_builder(config))
    records = Store.open_records(config.data_dir, config.persist)
    from moo.checkpoint import timeparse

    await asyncio.to_thread(timeparse.warm_up)
    return Loaded(recovered, records, time.monotonic() - started)


async def receive_freeze(
    control: ch.Channel, loaded: Loaded, data_dir: Path
) -> Takeover | dict[str, Any]:
    """Step 3 up to the sessions: the Takeover (caught up with the journal), or the
    RESTART message. Raises ProtocolError, MooError."""
    message, fds = await control.receive()
    if message.get("t") == "restart":
        for fd in fds:
            os.close(fd)
        return message
    if message.get("t") != "freeze":
        raise ProtocolError(f"expected FREEZE, got {message.get('t')!r}")
    names = [str(name) for name in message.get("listeners", [])]
    if len(fds) != len(names) + 1:
        raise ProtocolError(f"FREEZE came with {len(fds)} fds for {len(names)} listeners")
    takeover = Takeover(message, fds[0], dict(zip(names, fds[1:], strict=True)))
    position = int(message["position"])
    recovered = loaded.recovered
    caught = catch_up(recovered.world, data_dir / "journal", recovered.position, position)
    recovered.position = position
    log.info("caught up %d journal transaction(s) to position %d", caught, position)
    return takeover


async def receive_sessions(control: ch.Channel, server: Server, takeover: Takeover) -> int:
    """Step 3's sessions, each rebuilt (frozen) as its batch arrives. Returns how many."""
    takeover.sessions = await transfer.receive_sessions(
        control, functools.partial(adopt_sessions, server)
    )
    return len(takeover.sessions)


def adopt_sessions(server: Server, batch: list[tuple[dict[str, Any], int]]) -> None:
    """Step 4: rebuild connections and sessions, frozen."""
    loop = asyncio.get_running_loop()
    limits = server.config.limits
    now = time.monotonic()
    for item, fd in batch:
        state = item["conn"]
        codec: Codec
        if state.get("kind") == "ssh":
            codec = GateServerCodec.from_state(state["codec"])
        else:
            codec = TelnetCodec.from_state(state["codec"])
        conn = Connection.adopt(loop, fd, state, codec, server, limits)
        session = Session.from_state(
            item["session"],
            conn,
            rate=limits.commands_per_second,
            burst=limits.command_burst,
            now=now,
        )
        server.adopt_session(conn, session)


def adopt_listeners(server: Server, takeover: Takeover) -> None:
    loop = asyncio.get_running_loop()
    for name, fd in takeover.listener_fds.items():
        sock = socket.socket(fileno=fd)
        sock.setblocking(False)
        kind = "ssh" if name == "ssh-gate" else "telnet"
        listener = Listener(loop, sock, name, functools.partial(server.accept, kind=kind))
        server.listeners[name] = listener  # started by server.thaw() after GO


def build_server(
    config: Config, takeover: Takeover, world: World, passwords: Passwords
) -> tuple[Server, AdoptedGate | None]:
    """The server, frozen, with the listeners; sessions follow (``receive_sessions``)."""
    server = Server(config, world, passwords)
    server.frozen = True
    adopt_listeners(server, takeover)
    gate_pid = takeover.freeze.get("gate_pid")
    gate = AdoptedGate(gate_pid) if isinstance(gate_pid, int) else None
    return server, gate


async def send_error(control: ch.Channel, reason: str) -> None:
    with contextlib.suppress(OSError, ProtocolError):
        await control.send({"t": "error", "reason": reason[:2000]})
    log.error("hot upgrade: %s", reason)

"""The replacement's side of a hot upgrade (``moo serve ... --upgrade-fd N``; handoff.py
is the running server's side).

1. Load while the old server keeps serving: the newest checkpoint and the journal, read
   only (Store.load_readonly); open the records; import the verbs; warm dateparser.
2. Self-checks (the world has its system object; every verb the world uses has code in
   this program), then HELLO. A load failure is sent as ERROR with the reason; exit 1.
3. Level 1, PRECOPY: every session with its socket while the old server still serves,
   each rebuilt frozen (``Prebuilt``; transfer.py); answer PREBUILT.
4. FREEZE: the data-dir lock and listener fds; catch up with the journal to the old
   server's final position (``recovery.catch_up``). Then what changed since the
   pre-copy: sessions rebuilt on the sockets already here, new ones with theirs, the
   ones gone closed; until DONE (none at level 2). The server gets them all, frozen.
5. Answer READY, and wait for GO. If the channel closes first, the old server called it
   off: exit without touching a socket (closing our copies does not close theirs).
6. GO: become the data directory's writer (Store.take_over: journal, run record), answer
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from moo.accounts import Passwords
from moo.app import core_world_builder
from moo.config import Config
from moo.errors import MooError, ProtocolError
from moo.gc_control import loading_world
from moo.net.connection import Codec, Connection
from moo.net.gate_process import AdoptedGate
from moo.net.gate_protocol import GateServerCodec
from moo.net.listeners import AcceptHandler, Listener
from moo.net.session import Session
from moo.net.telnet_codec import TelnetCodec
from moo.net.web import WebListener
from moo.persist.records import Records
from moo.persist.recovery import Recovered, catch_up
from moo.persist.store import Store
from moo.protocol import upgrade as msg
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

    freeze: msg.Freeze
    lock_fd: int
    listener_fds: dict[str, int]


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


async def receive_precopy(control: ch.Channel, server: Server, message: msg.Precopy) -> Prebuilt:
    """Step 3: the PRECOPY (``message``) and every session with its socket, built
    frozen while the old server still serves. Raises ProtocolError, ValueError..."""
    prebuilt = Prebuilt(message.now)
    received = await transfer.receive(control, functools.partial(prebuilt.build, server))
    if received.sessions != prebuilt.count:
        raise ProtocolError(f"DONE says {received.sessions} sessions; {prebuilt.count} came")
    return prebuilt


def receive_freeze(
    message: msg.Message, fds: list[int], loaded: Loaded, data_dir: Path
) -> Takeover | msg.Restart:
    """Step 4 up to the sessions: the Takeover (caught up with the journal), or the
    RESTART message. Raises ProtocolError, MooError."""
    if isinstance(message, msg.Restart):
        for fd in fds:
            os.close(fd)
        return message
    if not isinstance(message, msg.Freeze):
        for fd in fds:
            os.close(fd)
        raise ProtocolError(f"expected FREEZE, got {message.__struct_config__.tag!r}")
    names = message.listeners
    if len(fds) != len(names) + 1:
        raise ProtocolError(f"FREEZE came with {len(fds)} fds for {len(names)} listeners")
    takeover = Takeover(message, fds[0], dict(zip(names, fds[1:], strict=True)))
    position = message.position
    recovered = loaded.recovered
    caught = catch_up(recovered.world, data_dir / "journal", recovered.position, position)
    recovered.position = position
    log.info("caught up %d journal transaction(s) to position %d", caught, position)
    return takeover


async def receive_changes(control: ch.Channel, server: Server, prebuilt: Prebuilt) -> int:
    """Step 4's sessions: what changed since the pre-copy (or, at level 2, nothing), then
    every session goes to the server, frozen. Returns how many."""
    received = await transfer.receive(
        control,
        functools.partial(prebuilt.build, server),
        functools.partial(prebuilt.rebuild, server),
    )
    for sid in received.gone:
        prebuilt.drop(sid)
    if received.sessions != prebuilt.count:
        raise ProtocolError(f"DONE says {received.sessions} sessions; {prebuilt.count} are here")
    return prebuilt.hand_to(server)


class Prebuilt:
    """The sessions rebuilt so far, by id, frozen and not yet the server's. Their ages
    were taken at the pre-copy's ``now`` (CLOCK_MONOTONIC, which processes share)."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.sessions: dict[int, tuple[Connection, Session]] = {}

    @property
    def count(self) -> int:
        return len(self.sessions)

    def build(self, server: Server, batch: list[tuple[msg.Item, int]]) -> None:
        for item, fd in batch:
            conn, session = _rebuild(server, item, fd, self.now)
            conn.watch_while_frozen()  # the thaw then registers only those with input
            self.sessions[session.id] = (conn, session)

    def rebuild(self, server: Server, items: list[msg.Item]) -> None:
        """Sessions that changed since the pre-copy, on the sockets already here."""
        for item in items:
            sid = int(item["session"]["id"])
            if sid not in self.sessions:
                raise ProtocolError(f"an update for session {sid}, which was never sent")
            fd = self.sessions[sid][0].detach()
            conn, session = _rebuild(server, item, fd, self.now)
            self.sessions[sid] = (conn, session)

    def hand_to(self, server: Server) -> int:
        """Every session to the server (which from then on alone holds them); how many."""
        count = len(self.sessions)
        for conn, session in self.sessions.values():
            server.adopt_session(conn, session)
        self.sessions.clear()
        return count

    def drop(self, sid: int) -> None:
        """A session closed by the old server since the pre-copy: close our copy."""
        entry = self.sessions.pop(sid, None)
        if entry is None:
            raise ProtocolError(f"session {sid} is gone, but was never sent")
        os.close(entry[0].detach())


def _rebuild(server: Server, item: msg.Item, fd: int, now: float) -> tuple[Connection, Session]:
    """One connection and session, frozen, from its exported state and socket."""
    limits = server.config.limits
    state = item["conn"]
    codec: Codec
    if state.get("kind") == "ssh":
        codec = GateServerCodec.from_state(state["codec"])
    else:
        codec = TelnetCodec.from_state(state["codec"])
    conn = Connection.adopt(asyncio.get_running_loop(), fd, state, codec, server, limits)
    session = Session.from_state(
        item["session"],
        conn,
        rate=limits.commands_per_second,
        burst=limits.command_burst,
        now=now,
    )
    return conn, session


def new_server(config: Config, world: World, passwords: Passwords) -> Server:
    """The server, frozen: sessions and listeners are added as they come."""
    server = Server(config, world, passwords)
    server.frozen = True
    return server


def take_listeners(
    server: Server, takeover: Takeover, handler: Callable[[str], AcceptHandler]
) -> AdoptedGate | None:
    """The listeners and the SSH gate from FREEZE (the listeners start at the thaw);
    ``handler(name)`` is what each listener does with a new socket (app.py)."""
    loop = asyncio.get_running_loop()
    for name, fd in takeover.listener_fds.items():
        sock = socket.socket(fileno=fd)
        sock.setblocking(False)
        if name == "web":
            server.listeners[name] = WebListener(sock, name, server, server.config.limits)
            continue
        listener = Listener(loop, sock, name, handler(name))
        server.listeners[name] = listener  # started by server.thaw() after GO
    gate_pid = takeover.freeze.gate_pid
    return AdoptedGate(gate_pid) if gate_pid is not None else None


async def send_error(control: ch.Channel, reason: str, *, before_hello: bool = False) -> None:
    """ERROR to the running server; ``before_hello``: in HELLO's encoding (JSON)."""
    error = msg.Error(reason[:2000])
    with contextlib.suppress(OSError, ProtocolError):
        await (control.send_hello(error) if before_hello else control.send(error))
    log.error("hot upgrade: %s", reason)

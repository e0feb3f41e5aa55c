"""Server: owns the world, the listeners, the connections and their sessions.

The flow of a typed line:

1. A ``Listener`` accepts a socket; a ``Connection`` with a telnet codec (or an
   SSH-gate frame codec; on the telnet-tls listener, a TLS stage before the telnet
   codec) reads it; each connection gets a ``Session``. A browser's WebSocket
   (moo/net/web.py), or in an engine a connection the front holds, asks
   ``open_session`` for one.
2. ``connection_events`` (a web transport or the front link: ``line_received``) queues
   each complete line on its session. A session with too many waiting lines stops
   being read (the kernel then slows the client down).
3. ``_run_commands`` takes one line per ready session per round, so a flood
   from one client cannot starve the others, and spends each session's token
   budget (``limits.commands_per_second``): a client over budget waits.
4. A line from a logged-in player goes to the ``Dispatcher``; a line on the
   welcome screen goes to the ``LoginScreen`` (asynchronous: password hashing
   runs in a thread, and the session's later lines wait for it). With metrics on,
   ``on_command`` is given each player command's run time (moo/ops/metrics.py).

Commands run one at a time on the event loop, so between two callbacks the
world is always at a quiet point (no command half done).

``Server`` is built in layers (moo/serving/), each a class in its own module that uses
only the ones below it; ``Server`` inherits them all, so every ``server.method()`` is
found on the one object, with no call in between (the hot paths cost what they did):

- ``base.py``         ``ServerBase``: the attributes ``__init__`` sets, the
  ``LineTracker`` (a front's link), the sessions' transports, background tasks;
- ``line_input.py``   ``ServerLineInput``: steps 2-4, ``.flush``, and MOO's connection
  builtins (``force_input``, ``flush_input``, connection options);
- ``connections.py``  ``ServerConnections``: step 1, the clients' events (MSSP, GMCP,
  SSH logins), a connection's end;
- ``hot_upgrade.py``  ``ServerHotUpgrade``: ``freeze``, ``thaw``, exporting and adopting
  sessions, ``let_go`` (driven by moo/upgrade/);
- ``verb_host.py``    ``ServerVerbHost``: the rest of what verbs may ask (``boot``,
  ``read_lines``, ``change_password``, ``request_checkpoint`` ...);
- this module         ``Server``: ``__init__``, start and stop, the login host
  (``attach``), ``notify`` / ``notify_many``, and who is connected.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from moo.accounts import LoginThrottle, Passwords
from moo.commands.context import ConnectedPlayer
from moo.commands.dispatch import Dispatcher
from moo.commands.reading import LineReaders
from moo.config import Config
from moo.gc_control import FullCollections
from moo.lang.options import limits_from_config
from moo.lang.scheduler import Scheduler
from moo.login import LoginScreen
from moo.net.connection import Connection
from moo.net.fanout import Pacer, send_to_many
from moo.net.listeners import Listener
from moo.net.session import Session, Transport
from moo.net.web import GOING_AWAY, WebListener
from moo.serving.base import LineToken, LineTracker
from moo.serving.line_input import COMMANDS_PER_TURN
from moo.serving.verb_host import ServerVerbHost
from moo.who import who_lines
from moo.world.values import ObjRef
from moo.world.world import World

if TYPE_CHECKING:
    from moo.checkpoint.service import Checkpointer
    from moo.upgrade.handoff import Upgrader

log = logging.getLogger(__name__)

# LineToken, LineTracker and COMMANDS_PER_TURN lived here before moo/serving/: still importable.
__all__ = ["COMMANDS_PER_TURN", "LineToken", "LineTracker", "Server"]


class Server(ServerVerbHost):
    """The running world server. ``start()``, then ``wait_closed()``; ``stop()`` ends it."""

    def __init__(self, config: Config, world: World, passwords: Passwords) -> None:
        self.config = config
        self.world = world
        self.checkpointer: Checkpointer | None = None
        self.passwords = passwords
        self.moo_tasks = Scheduler(world, self)  # MOO tasks: commands, ;, forks, suspends
        self.dispatcher = Dispatcher(world, self, self.moo_tasks)
        self.line_readers = LineReaders(world, self)
        self.login = LoginScreen(world, passwords, LoginThrottle(config.login), self)
        self.listeners: dict[str, Listener | WebListener] = {}
        self.sessions: dict[Transport, Session] = {}
        self.line_tracker: LineTracker | None = None
        self.front_addresses: dict[str, str] = {}  # an engine's: its front's listeners
        self.gate_controls: set[Connection] = set()
        self._by_player: dict[int, Session] = {}
        self._ready: deque[Session] = deque()
        self._run_scheduled = False
        self._next_sid = 1
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop_requested = asyncio.Event()
        self.stop_everything = False  # an engine stops its front too (@shutdown)
        self.stop_message = ""
        self._loop = asyncio.get_running_loop()
        self._sweeper: asyncio.TimerHandle | None = None
        self.full_collections = FullCollections(self._loop, config.full_gc_interval_seconds)
        self.pacer = Pacer(self._loop)  # sends lines many hear in slices (notify_many)
        self.frozen = False
        self.upgrader: Upgrader | None = None
        self.started_at = time.time()  # MSSP's UPTIME
        self.tls_context: ssl.SSLContext | None = None  # for the telnet-tls listener
        self.on_command: Callable[[float], None] | None = None  # seconds each command took
        world.add_observer(self._after_commit)
        self.moo_tasks.foreground, self.moo_tasks.background = limits_from_config(config.lang)

    # ------------------------------------------------------------ lifecycle

    def add_listener(self, listener: Listener | WebListener) -> None:
        self.listeners[listener.name] = listener
        listener.start()

    def start_housekeeping(self) -> None:
        self._sweeper = self._loop.call_later(5.0, self._sweep_idle)
        self.full_collections.start()
        self.moo_tasks.restore_saved()  # queued MOO tasks saved in the world

    @property
    def stopping(self) -> bool:
        return self._stop_requested.is_set()

    async def wait_stop_requested(self) -> None:
        await self._stop_requested.wait()

    def request_shutdown(self, message: str, by: int) -> None:
        """Begin a clean shutdown (``@shutdown``, SIGTERM, SIGINT)."""
        if self._stop_requested.is_set():
            return
        who = self.world.objects[by].name if by in self.world.objects else "the server"
        text = f"*** Shutdown requested by {who}" + (f": {message}" if message else "") + " ***"
        self.tell_everyone(text)
        log.info("shutdown requested by %s: %s", who, message or "(no message)")
        self.stop_everything = True
        self.stop_message = text
        self._stop_requested.set()

    def request_stop(self, why: str) -> None:
        """Stop this engine only (SIGTERM to an engine, or its front went away): the front
        keeps every player connected for the next engine. Nobody is told."""
        if not self._stop_requested.is_set():
            log.info("%s", why)
            self._stop_requested.set()

    async def close_connections(self, timeout: float = 2.0) -> None:
        """Stop listening, flush and close every connection (waits at most ``timeout``)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        self.full_collections.stop()
        for listener in self.listeners.values():
            listener.pause()
        webs = self.web_transports()
        for web in webs:
            web.close("server shutting down", GOING_AWAY)  # the page reconnects
        await self.close_and_wait(
            [*self.connections(), *self.gate_controls], "server shutting down", timeout
        )
        deadline = time.monotonic() + timeout
        while any(not web.closed for web in webs) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for listener in self.listeners.values():
            listener.close()
        for task in list(self._tasks):
            task.cancel()

    # ---------------------------------------------------------- login host

    def attach(self, session: Session, player: int, *, created: bool = False) -> None:
        """Make ``session`` the connection of ``player`` (replacing an older one).

        A world whose #0 has a ``user_connected`` verb (LambdaCore) says itself what a
        login shows: the server calls ``#0:user_connected``, ``user_reconnected`` or
        ``user_created`` with the player, as LambdaMOO does, in place of its own "has
        connected." and ``look``."""
        old = self._by_player.get(player)
        redirected = old is not None and old is not session
        if old is not None and redirected:
            old.tell("*** Redirected to another connection ***")
            old.player = None
            old.transport.close("redirected")
        session.player = player
        session.login.stage = "connected"
        self._by_player[player] = session
        session.tell(
            "*** Redirected ***"
            if redirected
            else f"*** Connected as {self.world.objects[player].name} ***"
        )
        self.send_room_info(session)
        if self.world_hooks_connections():
            hook = "reconnected" if redirected else "created" if created else "connected"
            self.dispatcher.run_server_verb(player, f"user_{hook}", [ObjRef(player)])
        else:
            if not redirected:
                self._announce_presence(player, "has connected.")
            self.dispatcher.run(player, "look")
        if self.checkpointer is not None:
            self.checkpointer.player_connected(player)

    def world_hooks_connections(self) -> bool:
        """Whether the world's own verbs greet and see off its players (#0 has a callable
        ``user_connected``, as LambdaCore's does)."""
        return self.dispatcher.verbs.callable(0, "user_connected") is not None

    def resume_session(self, session: Session, player: int) -> None:
        """``session`` is ``player``'s again after an engine restart (no announcement:
        for everyone else the player never left)."""
        session.player = player
        session.login.stage = "connected"
        self._by_player[player] = session

    def connected_wizards(self) -> list[int]:
        wizards = []
        for player in self._by_player:
            obj = self.world.objects.get(player)
            if obj is not None and obj.is_wizard:
                wizards.append(player)
        return wizards

    def tell_everyone(self, text: str) -> None:
        """A line to every connection, logged in or on the welcome screen."""
        for session in list(self.sessions.values()):
            session.tell(text)

    async def announce(self, text: str, per_turn: int = 100) -> None:
        """``tell_everyone``, ``per_turn`` connections at a time with commands running in
        between: 1000 notices at once held every player up ~14 ms."""
        sessions = list(self.sessions.values())
        for start in range(0, len(sessions), per_turn):
            for session in sessions[start : start + per_turn]:
                session.tell(text)
            await asyncio.sleep(0)

    def alarm_wizards(self, text: str) -> None:
        """Tell every connected wizard something is wrong with the server."""
        for player in self.connected_wizards():
            self.notify(player, f"*** Server alarm: {text} ***")

    def end_session(self, session: Session, message: str) -> None:
        session.tell(message)
        session.transport.close("quit")

    def who_lines(self) -> list[str]:
        return who_lines(self.world, self.connected_players())

    # ------------------------------------------------------------ verb host

    def notify(self, player: int, text: str) -> None:
        session = self._by_player.get(player)
        if session is not None:
            session.tell(text)

    def notify_many(self, players: Iterable[int], text: str) -> None:
        """The same text to many players (a room hearing a ``say``): encoded once for every
        telnet connection, each then adding only what is its own (MCCP2, held replies), and
        sent in the pacer's slices (moo/net/fanout.py)."""
        local: list[Transport] = []
        remote: list[Transport] = []
        tracker = self.line_tracker
        for player in players:
            session = self._by_player.get(player)
            if session is None or session.transport.closed:
                continue
            transport = session.transport
            if tracker is not None and not isinstance(transport, Connection):
                remote.append(transport)  # behind a front: one message for them all
            else:
                local.append(transport)
        send_to_many(local, text + "\n", self.pacer)
        if remote and tracker is not None:
            tracker.tell_many(remote, text)

    def is_connected(self, player: int) -> bool:
        return player in self._by_player

    def connected_players(self) -> list[ConnectedPlayer]:
        now = time.monotonic()
        return [
            ConnectedPlayer(p, s.connected_seconds(now), s.idle_seconds(now), s.transport.kind)
            for p, s in self._by_player.items()
        ]

    # -------------------------------------------------------------- helpers

    def _announce_presence(self, player: int, what: str) -> None:
        """ "X has connected." to the others in X's room: one ``notify_many`` (behind a
        front, one ``OutMany`` sent in the front's paced slices), not a ``notify`` each:
        in a room of 1000 that was 1000 ``Out`` messages per login, each flushed to its
        socket in one burst of the front's loop while the players playing waited."""
        obj = self.world.objects.get(player)
        if obj is None or not self.world.valid(obj.location):
            return
        others = [oid for oid in self.world.objects[obj.location].contents if oid != player]
        self.notify_many(others, f"{obj.name} {what}")

    def _sweep_idle(self) -> None:
        """Close welcome-screen connections idle past ``login.idle_timeout_seconds``."""
        now = time.monotonic()
        limit = self.config.login.idle_timeout_seconds
        for session in list(self.sessions.values()):
            if session.player is None and not session.busy and session.idle_seconds(now) > limit:
                session.tell("*** Timed out waiting for a login ***")
                session.transport.close("login timeout")
        self._sweeper = self._loop.call_later(5.0, self._sweep_idle)

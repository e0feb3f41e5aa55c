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
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from moo.accounts import LoginThrottle, Passwords
from moo.commands.context import ConnectedPlayer, LineReader
from moo.commands.dispatch import Dispatcher
from moo.commands.reading import LineReaders
from moo.config import Config
from moo.gc_control import FullCollections
from moo.lang.options import limits_from_config
from moo.lang.scheduler import Scheduler
from moo.login import LoginScreen
from moo.mud_protocols import handle_gmcp, moved_players, mssp_table, room_info, wants
from moo.net import events as ev
from moo.net.connection import Codec, Connection
from moo.net.fanout import Pacer, send_to_many
from moo.net.gate_protocol import GateServerCodec
from moo.net.listeners import Listener
from moo.net.session import Session, Transport
from moo.net.telnet_codec import TelnetCodec
from moo.net.tls import TlsStage
from moo.net.web import GOING_AWAY, SERVICE_RESTART, WebListener, WebTransport
from moo.who import who_lines
from moo.world.world import World

if TYPE_CHECKING:
    from moo.checkpoint.service import Checkpointer
    from moo.upgrade.handoff import Upgrader

log = logging.getLogger(__name__)

COMMANDS_PER_TURN = 256

LineToken = tuple[int, int]
"""A numbered line from the front: (connection id, line number)."""


class LineTracker(Protocol):
    """The engine's link to the front, told where each line's work starts and ends so
    it can say which lines are done (moo/engine/link.py). Absent for local sockets."""

    def line_started(self, transport: Transport, trailer: str | None) -> LineToken | None:
        """``trailer``: what the session says after the line's output (its SUFFIX)."""
        ...

    def trailer_sent(self, token: LineToken | None) -> bool:
        """True if the line's commit already sent its trailer (with its answer)."""
        ...

    def line_left(self) -> None: ...

    def commit_output_begins(self) -> None: ...

    def line_done(self, token: LineToken | None) -> None: ...

    def tell_many(self, transports: list[Transport], text: str) -> None:
        """``text`` and a newline to each of ``transports`` (the front's sessions)."""
        ...


class Server:
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

    async def close_and_wait(
        self, conns: list[Connection], reason: str, timeout: float = 2.0
    ) -> None:
        """Flush and close ``conns``, frozen or not; wait until they are closed (at most
        ``timeout``)."""
        for conn in conns:
            conn.close(reason, even_if_frozen=True)
        deadline = time.monotonic() + timeout
        while any(not conn.closed for conn in conns) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    # ---------------------------------------------------------- connections

    def connections(self) -> list[Connection]:
        """The sessions' sockets held by this process (none in an engine: the front's)."""
        return [t for t in self.sessions if isinstance(t, Connection)]

    def web_transports(self) -> list[WebTransport]:
        """The WebSockets this process serves (an engine's web sessions are the front's)."""
        return [t for t in self.sessions if isinstance(t, WebTransport)]

    def accept(self, sock: Any, peer: str, *, kind: str) -> None:
        """A new client socket from a listener."""
        codec: Codec
        tls: TlsStage | None = None
        if kind == "ssh":
            codec = GateServerCodec(max_line_bytes=self.config.limits.max_line_bytes)
        else:
            codec = TelnetCodec(max_line_bytes=self.config.limits.max_line_bytes)
        if kind == "telnet-tls":
            assert self.tls_context is not None, "a telnet-tls listener without a TLS context"
            tls = TlsStage(self.tls_context)
        conn = Connection(
            self._loop, sock, codec, self, self.config.limits, kind=kind, peer=peer, tls=tls
        )
        limits = self.config.limits
        session = Session(
            self._next_sid, conn, rate=limits.commands_per_second, burst=limits.command_burst
        )
        self._next_sid += 1
        self.sessions[conn] = session
        if len(self.sessions) > limits.max_connections:
            conn.start()
            session.tell("Sorry, the server is full. Please try again later.")
            conn.close("server full")
            return
        if kind == "ssh":
            conn.start()
        else:
            welcome = "\n".join(self.login.welcome()) + "\n"
            conn.start(conn.codec.encode_text(welcome))

    def open_session(self, transport: Transport, *, welcome: bool = True) -> Session | None:
        """A session for a connection this server does not read itself, shown the welcome:
        a browser's WebSocket (None: refused, the server is full or frozen for a hot
        upgrade), or in an engine one the front holds (never refused: the front admits)."""
        limits = self.config.limits
        session = Session(
            self._next_sid, transport, rate=limits.commands_per_second, burst=limits.command_burst
        )
        self._next_sid += 1
        if isinstance(transport, WebTransport):
            web = transport
            if self.frozen:  # a hot upgrade is under way: the page tries again in a moment
                web.close("the server is being upgraded", SERVICE_RESTART)
                return None
            if len(self.sessions) >= limits.max_connections:
                session.tell("Sorry, the server is full. Please try again later.")
                web.close("server full")
                return None
        self.sessions[transport] = session
        if welcome and transport.kind != "ssh":
            session.tell_lines(self.login.welcome())
        return session

    def session_ended(self, transport: Transport, reason: str) -> None:
        """A transport that is not a socket of ours (a WebSocket) has closed."""
        self.connection_closed(transport, reason)

    def connection_events(self, conn: Connection, events: list[ev.Event]) -> None:
        session = self.sessions.get(conn)
        if session is None:
            return
        for event in events:
            if isinstance(event, ev.ControlHello):
                self.sessions.pop(conn, None)
                self.gate_controls.add(conn)
                log.info("ssh gate (pid %d) connected", event.pid)
                return
        self.session_events(session, events)

    def session_events(self, session: Session, events: list[ev.Event]) -> None:
        """What a session's client did: lines to queue, SSH logins, GMCP, MSSP."""
        for event in events:
            if isinstance(event, ev.LineReceived):
                self.line_received(session, event.text)
            elif isinstance(event, ev.LineTooLong):
                self.line_too_long(session, event.length)
            elif isinstance(event, ev.AuthRequest):
                self._spawn(self._ssh_auth(session, event))
            elif isinstance(event, ev.SessionOpen):
                self._ssh_open(session)
            elif isinstance(event, ev.PeerClosed):
                session.transport.close(event.reason or "closed by client")
                return
            elif isinstance(event, ev.GmcpReceived):
                self._gmcp_received(session, event)
            elif isinstance(event, ev.MsspRequested):
                session.transport.send_mssp(self._mssp())

    # ------------------------------------------------------------ MSSP, GMCP

    def _mssp(self) -> dict[str, str | list[str]]:
        telnet = self.listeners.get("telnet")
        address = telnet.address if telnet is not None else self.front_addresses.get("telnet", "")
        port = address.rsplit(":", 1)[-1]
        return mssp_table(
            self.world,
            players=len(self._by_player),
            started=self.started_at,
            port=int(port) if port.isdigit() else None,
        )

    def _gmcp_received(self, session: Session, event: ev.GmcpReceived) -> None:
        for package, payload in handle_gmcp(session, event.package, event.data):
            session.transport.send_gmcp(package, payload)
        if event.package.lower().startswith("core.supports") and session.player is not None:
            self.send_room_info(session)

    def send_room_info(self, session: Session) -> None:
        """GMCP ``Room.Info`` for where the session's player is, if its client wants it."""
        transport = session.transport
        if session.player is None or not transport.gmcp_enabled or not wants(session, "Room.Info"):
            return
        location = self.world.objects[session.player].location
        transport.send_gmcp("Room.Info", room_info(self.world, location))

    def _after_commit(self, records: list[Any]) -> None:
        """World observer: players who moved get ``Room.Info``. Never raises (an observer
        that raises would undo the change)."""
        try:
            for player in moved_players(records, self._by_player):
                self.send_room_info(self._by_player[player])
        except Exception:
            log.exception("GMCP Room.Info failed")

    def line_received(self, session: Session, text: str) -> None:
        """A typed line, queued on its session (every transport's lines come here)."""
        session.pending.append(text)
        session.last_input = time.monotonic()
        if len(session.pending) == 1:
            self._mark_ready(session)
        if len(session.pending) >= self.config.limits.max_pending_lines:
            session.transport.pause_reading()

    def line_too_long(self, session: Session, length: int) -> None:
        limit = self.config.limits.max_line_bytes
        session.tell(
            f"That line was too long ({length} bytes; the limit is {limit}), so it was ignored."
        )

    def connection_closed(self, conn: Transport, reason: str) -> None:
        if isinstance(conn, Connection):
            self.gate_controls.discard(conn)
        session = self.sessions.pop(conn, None)
        if session is None:
            return
        session.closed = True
        session.pending.clear()
        player = session.player
        if player is not None and self._by_player.get(player) is session:
            del self._by_player[player]
            self.line_readers.drop(player)
            self._announce_presence(player, "has disconnected.")
            log.info("#%d disconnected (%s)", player, reason)

    # -------------------------------------------------------------- commands

    def _mark_ready(self, session: Session) -> None:
        self._ready.append(session)
        if not self._run_scheduled:
            self._run_scheduled = True
            self._loop.call_soon(self._run_commands)

    def _run_commands(self) -> None:
        self._run_scheduled = False
        if self.frozen:
            return  # thaw() (or the replacement, after a hot upgrade) picks the queue up
        ready = self._ready
        now = time.monotonic()
        for _ in range(min(len(ready), COMMANDS_PER_TURN)):
            session = ready.popleft()
            if session.closed or session.busy or not session.pending:
                continue
            wait = session.budget.take(now)
            if wait > 0:
                self._loop.call_later(wait, self._mark_ready, session)
                continue
            line = session.pending.popleft()
            if len(session.pending) < self.config.limits.max_pending_lines // 2:
                session.transport.resume_reading()
            tracker = self.line_tracker
            if tracker is None:
                self._run_line(session, line, None)
            else:
                token = tracker.line_started(session.transport, session.output_suffix)
                finished = self._run_line(session, line, token)
                tracker.line_left()
                if finished:
                    tracker.line_done(token)
            if session.pending and not session.busy and not session.closed:
                ready.append(session)
        if ready and not self._run_scheduled:
            self._run_scheduled = True
            self._loop.call_soon(self._run_commands)

    def _run_line(self, session: Session, line: str, token: LineToken | None) -> bool:
        """Run one line; False if its work goes on asynchronously (a login), in which
        case the line tracker hears it is done when it is."""
        if self._handle_builtin(session, line):
            return True
        if session.player is None:
            session.busy = True
            session.in_flight = (line, session.login.stage, session.login.name)
            self._spawn(self._login_line(session, line, token))
            return False
        if session.output_prefix is not None:
            session.tell(session.output_prefix)
        started = time.perf_counter()
        if self.line_readers.waiting(session.player):
            self.line_readers.feed(session.player, line)
        else:
            self.dispatcher.run(session.player, line)
        if self.on_command is not None:
            self.on_command(time.perf_counter() - started)
        suffix = session.output_suffix
        if suffix is not None and not (self.line_tracker and self.line_tracker.trailer_sent(token)):
            session.tell(suffix)
        return True

    def _handle_builtin(self, session: Session, line: str) -> bool:
        """LambdaMOO's intrinsic commands, answered by the server itself."""
        word, _, rest = line.strip().partition(" ")
        upper = word.upper()
        if upper in ("PREFIX", "OUTPUTPREFIX"):
            session.output_prefix = rest or None
            return True
        if upper in ("SUFFIX", "OUTPUTSUFFIX"):
            session.output_suffix = rest or None
            return True
        return False

    async def _login_line(self, session: Session, line: str, token: LineToken | None) -> None:
        try:
            await self.login.handle(session, line, session.transport.peer.rsplit(":", 1)[0])
        finally:
            session.busy = False
            session.in_flight = None
            if self.line_tracker is not None:
                self.line_tracker.line_done(token)
            if session.pending and not session.closed:
                self._mark_ready(session)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    # ------------------------------------------------------------- hot upgrade

    @property
    def quiet(self) -> bool:
        """Nothing is in flight (no password check, SSH auth or password change): a hot
        upgrade may freeze now. Commands themselves run whole between loop callbacks."""
        return not self._tasks

    def freeze(self) -> None:
        """Stop accepting, reading, writing and running commands; lose nothing but the web
        sessions: a WebSocket cannot move to another process, so each is closed (1012: the
        page reconnects by itself) and ended now, so that "has disconnected" reaches the
        others before their sessions are exported."""
        self.frozen = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        self.full_collections.pause()
        for listener in self.listeners.values():
            listener.pause()
        for web in self.web_transports():
            web.close("the server is being upgraded", SERVICE_RESTART)
            self.session_ended(web, "hot upgrade")
        for conn in [*self.connections(), *self.gate_controls]:
            conn.freeze()

    def thaw(self) -> None:
        """Undo ``freeze`` (the handoff failed, or this process just adopted everything)."""
        self.frozen = False
        limit = self.config.limits.max_pending_lines
        for conn in [*self.connections(), *self.gate_controls]:
            conn.thaw()
            session = self.sessions.get(conn)
            if session is not None and len(session.pending) >= limit:
                conn.pause_reading()
        for listener in self.listeners.values():
            listener.start()
        self.start_housekeeping()
        if self._ready and not self._run_scheduled:
            self._run_scheduled = True
            self._loop.call_soon(self._run_commands)

    async def close_untransferable(self, message: str, timeout: float = 2.0) -> int:
        """Before a hot upgrade: tell every connection that cannot be handed over (TLS)
        ``message`` and close it; wait for them to go (at most ``timeout``). How many."""
        conns = [conn for conn in self.connections() if not conn.transferable and not conn.closed]
        for conn in conns:
            self.sessions[conn].tell(message)
        await self.close_and_wait(conns, "upgrade (TLS cannot be handed over)", timeout)
        return len(conns)

    def export_sessions(self, now: float) -> Iterator[tuple[dict[str, object], int]]:
        """(state, fd) of every live client connection that can be handed over (not
        TLS: ``close_untransferable``), for a hot upgrade, each exported as it is
        reached, its ages taken at ``now``."""
        for conn, session in list(self.sessions.items()):
            if isinstance(conn, Connection) and not conn.closed and conn.transferable:
                yield {"session": session.export_state(now), "conn": conn.export_state()}, conn.fd

    def adopt_session(self, conn: Connection, session: Session) -> None:
        """Take on a session handed over by the previous server (not yet reading)."""
        self.sessions[conn] = session
        self._next_sid = max(self._next_sid, session.id + 1)
        if session.player is not None:
            self._by_player[session.player] = session
        if session.pending:
            self._ready.append(session)

    def let_go(self) -> None:
        """After a handoff: close this process's copies of every socket without a word
        (the replacement holds its own); the gate's control link reconnects to it."""
        for conn in [*self.connections(), *self.gate_controls]:
            if not conn.closed:
                os.close(conn.detach())
        self.sessions.clear()
        self.gate_controls.clear()
        self._by_player.clear()
        for listener in self.listeners.values():
            listener.close()
        for task in list(self._tasks):
            task.cancel()

    # ------------------------------------------------------------------ ssh

    async def _ssh_auth(self, session: Session, request: ev.AuthRequest) -> None:
        conn = session.transport
        source = f"ssh:{request.user.lower()}"
        if request.method == "password":
            player, reason = await self.login.check_password(request.user, request.secret, source)
        elif request.method == "publickey":
            player, reason = self.login.check_key(request.user, request.secret, source)
        else:
            player, reason = None, f"unsupported method {request.method!r}"
        if conn.closed:
            return
        conn.send_auth_result(player is not None, reason)
        if player is None:
            conn.close("ssh authentication failed")
            return
        session.login.stage, session.login.name = "ssh-authenticated", str(player)

    def _ssh_open(self, session: Session) -> None:
        if session.login.stage != "ssh-authenticated":
            session.transport.close("ssh session opened before authentication")
            return
        player = int(session.login.name)
        session.login.stage, session.login.name = "welcome", ""
        if self.world.valid(player):
            self.attach(session, player)

    # ---------------------------------------------------------- login host

    def attach(self, session: Session, player: int) -> None:
        """Make ``session`` the connection of ``player`` (replacing an older one)."""
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
        if not redirected:
            self._announce_presence(player, "has connected.")
        self.send_room_info(session)
        self.dispatcher.run(player, "look")
        if self.checkpointer is not None:
            self.checkpointer.player_connected(player)

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

    @property
    def output_is_held(self) -> bool:
        """Behind a front, output is held there until the journal has what came before."""
        return self.line_tracker is not None

    def commit_output_begins(self) -> None:
        if self.line_tracker is not None:
            self.line_tracker.commit_output_begins()

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

    def boot(self, player: int, reason: str) -> bool:
        session = self._by_player.get(player)
        if session is None:
            return False
        session.tell(f"*** You have been booted: {reason} ***" if reason else "*** Booted ***")
        session.transport.close("booted")
        return True

    def disconnect(self, player: int, reason: str) -> None:
        session = self._by_player.get(player)
        if session is not None:
            session.tell(reason)
            session.transport.close("quit")

    def terminal_info(self, player: int) -> str | None:
        """One line on ``player``'s connection (``@terminal``)."""
        session = self._by_player.get(player)
        if session is None:
            return None
        transport = session.transport
        window = transport.window
        size = f"{window[0]}x{window[1]}" if window else "unknown"
        kind = {"ssh": "ssh", "telnet-tls": "telnet over TLS", "web": "web"}.get(
            transport.kind, "telnet"
        )
        return (
            f"Connection: {kind}; window: {size}; "
            f"terminal: {transport.terminal_type or 'unknown'}; "
            f"echo: {'hidden' if transport.echo_off else 'normal'}."
        )

    def read_lines(self, player: int, reader: LineReader) -> None:
        self.line_readers.park(player, reader)

    def connected_ids(self) -> list[int]:
        return list(self._by_player)

    def run_verb(self, oid: int, name: str) -> bool:
        """Run verb ``name`` of ``oid`` as its owner would (for $checkpointer.prepare)."""
        return self.dispatcher.run_verb(oid, name)

    def change_password(self, player: int, old: str, new: str) -> None:
        self._spawn(self._change_password(player, old, new))

    async def _change_password(self, player: int, old: str, new: str) -> None:
        stored = self.world.prop(player, "password", "")
        if not await self.passwords.verify(stored, old):
            self.notify(player, "That is not your current password; nothing was changed.")
            return
        hashed = await self.passwords.hash(new)
        if self.world.valid(player):
            self.world.set_prop(player, "password", hashed)
            self.notify(player, "Password changed.")

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

"""The front's hub: every player connection, and the one link to the engine.

The flow of a typed line through the front:

1. A ``Listener`` accepts a socket; a ``Connection`` runs its codec (telnet, or the SSH
   gate's frames) and hands events here. A browser's WebSocket (``WebTransport``,
   moo/net/web.py) hands its lines here as well: the hub is its ``WebHost``. Each
   connection gets a front-wide id.
2. Each complete line is numbered (1, 2, ... per connection) and kept in the
   connection's ``unacked`` queue, then sent to the engine as ``Line`` (in one frame per
   loop turn). While no engine is attached, lines only wait in the queue.
3. The engine's answers arrive as groups closed by ``Seal`` (moo/protocol/front.py). A
   group is held until a ``Durable`` at or past its journal position; then its output is
   written, its session records kept, and the lines it names are forgotten.
4. If the engine goes (its link closes: a crash, ``kill -9``, a restart), every
   connection stays open and is told once that the world is restarting. The unsealed tail
   of its answers is dropped. The next engine's hello says how far it recovered: held
   groups at or before that are released, the rest dropped, and ``Attach`` gives it every
   connection with its session record and its lines not yet done, which it runs.

The hub holds no world state: only connections, numbered lines, session records the
engine released, and output not yet written.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
from collections import deque
from dataclasses import dataclass, field

from moo.config import Config
from moo.net import events as ev
from moo.net.connection import Codec, Connection
from moo.net.fanout import Pacer, send_to_many
from moo.net.gate_protocol import GateServerCodec
from moo.net.link import Link
from moo.net.telnet_codec import TelnetCodec
from moo.net.tls import TlsStage
from moo.net.web import GOING_AWAY, WebTransport
from moo.protocol import front as msg

log = logging.getLogger(__name__)

RESTARTING = "*** The world is restarting; your commands will run in a moment. ***"

Client = Connection | WebTransport
"""A player's connection: a socket with its codec, or a browser's WebSocket."""


@dataclass
class FrontConn:
    """One player connection as the front keeps it."""

    id: int
    conn: Client
    next_number: int = 1
    unacked: deque[msg.InLine] = field(default_factory=deque)
    session: msg.SessionRecord | None = None
    paused: bool = False  # reading stopped: too many lines wait
    # Said while no engine was attached (sent after the next Attach), and SSH login steps
    # not yet answered (sent again to a new engine if this one dies first).
    waiting: list[msg.ToEngine] = field(default_factory=list)
    auth: msg.AuthAsk | None = None
    ssh_open: bool = False

    def facts(self) -> msg.Facts:
        conn = self.conn
        window = conn.window or (0, 0)
        return msg.Facts(
            self.id,
            conn.terminal_type,
            min(window[0], 65535),
            min(window[1], 65535),
            conn.gmcp_enabled,
        )

    def record(self) -> msg.ConnRecord:
        facts = self.facts()
        return msg.ConnRecord(
            self.id,
            self.conn.kind,
            self.conn.peer,
            self.session,
            list(self.unacked),
            facts.terminal,
            facts.cols,
            facts.rows,
            facts.gmcp,
            self.conn.echo_off,
        )


@dataclass
class Group:
    """A sealed group of the engine's answers, held until its changes are durable."""

    lsn: int
    messages: list[msg.Held]
    lines: list[tuple[int, int]]
    undo_from: int | None = None


class Front:
    """Connections, numbered lines, held output and the engine link (one at a time)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.limits = config.limits
        self.loop = asyncio.get_running_loop()
        self.pacer = Pacer(self.loop)  # sends lines many hear in slices (OutMany)
        self.conns: dict[int, FrontConn] = {}
        self._by_conn: dict[Client, FrontConn] = {}
        self.gate_controls: set[Connection] = set()
        self.addresses: dict[str, str] = {}  # player listeners: name -> HOST:PORT
        self.tls_context: ssl.SSLContext | None = None  # for the telnet-tls listener
        self._next_id = 1
        self.link: Link[msg.ToFront] | None = None
        self.engine_pid: int | None = None  # a TCP engine's is its own machine's pid
        self.engine_address: str | None = None  # HOST:PORT of an engine over TCP
        self._link_peer: str | None = None  # the link's, until its engine says hello
        self.attached = False
        self.attached_event = asyncio.Event()
        self.durable = 0
        self._unsealed: list[msg.Held] = []
        self._held: deque[Group] = deque()
        self._to_engine: list[msg.ToEngine] = []
        self._written: list[Connection] = []  # by the engine's frame being applied
        self._send_scheduled = False
        self._told_restarting: set[int] = set()
        self.stop_requested = asyncio.Event()  # @shutdown (the engine's Stop), or a signal
        self.stop_reason = ""
        self.exit_code = 0
        self.successor: int | None = None  # a hot upgrade's engine, expected next
        self._waiting_links: deque[tuple[socket.socket, str]] = deque()  # came early

    # ---------------------------------------------------------- connections

    def accept(self, sock: socket.socket, peer: str, *, kind: str) -> None:
        """A new client socket from a listener (telnet, or the SSH gate's socket)."""
        codec: Codec
        if kind == "ssh":
            codec = GateServerCodec(max_line_bytes=self.limits.max_line_bytes)
        else:
            codec = TelnetCodec(max_line_bytes=self.limits.max_line_bytes)
        tls = None
        if kind == "telnet-tls":
            assert self.tls_context is not None, "a telnet-tls listener without a TLS context"
            tls = TlsStage(self.tls_context)
        conn = Connection(self.loop, sock, codec, self, self.limits, kind=kind, peer=peer, tls=tls)
        conn.start()
        self._admit(conn)

    def _admit(self, conn: Client) -> FrontConn | None:
        """Number a new connection and tell the engine (None: refused, the front is full)."""
        if len(self.conns) >= self.limits.max_connections:
            conn.send_text("Sorry, the server is full. Please try again later.\n")
            conn.close("server full")
            return None
        fc = FrontConn(self._next_id, conn)
        self._next_id += 1
        self.conns[fc.id] = fc
        self._by_conn[conn] = fc
        if self.attached:
            self._send(msg.Opened(fc.id, conn.kind, conn.peer))
            if conn.terminal_type is not None:  # known from the start: a browser's
                self._send(fc.facts())
        elif conn.kind != "ssh" and self.successor is None:
            conn.send_text(RESTARTING + "\n")
            self._told_restarting.add(fc.id)
        return fc

    # The ``WebHost`` of the web listener: a browser's lines go where telnet lines go.

    def open_session(self, transport: WebTransport) -> FrontConn | None:
        return self._admit(transport)

    def line_received(self, fc: FrontConn, text: str) -> None:
        self._line(fc, text)

    def line_too_long(self, fc: FrontConn, length: int) -> None:
        self._tell(fc, msg.TooLong(fc.id, length))

    def session_ended(self, transport: WebTransport, reason: str) -> None:
        self.connection_closed(transport, reason)

    def connection_events(self, conn: Connection, events: list[ev.Event]) -> None:
        fc = self._by_conn.get(conn)
        if fc is None:
            if conn in self.gate_controls:
                return
            for event in events:
                if isinstance(event, ev.PeerClosed):
                    conn.close(event.reason or ev.CLIENT_CLOSED)
            return
        for event in events:
            if isinstance(event, ev.LineReceived):
                self._line(fc, event.text)
            elif isinstance(event, ev.LineTooLong):
                self._tell(fc, msg.TooLong(fc.id, event.length))
            elif isinstance(event, ev.WindowSize | ev.TerminalType):
                self._send(fc.facts())
            elif isinstance(event, ev.GmcpReceived):
                self._send(fc.facts())
                self._tell(fc, msg.GmcpIn(fc.id, event.package, event.data))
            elif isinstance(event, ev.MsspRequested):
                self._tell(fc, msg.MsspAsk(fc.id))
            elif isinstance(event, ev.AuthRequest):
                fc.auth = msg.AuthAsk(fc.id, event.user, event.method, event.secret)
                self._send(fc.auth)
            elif isinstance(event, ev.SessionOpen):
                fc.ssh_open = True
                self._send(fc.facts())
                self._send(msg.SshOpen(fc.id))
            elif isinstance(event, ev.ControlHello):
                self._forget(fc)
                self.gate_controls.add(conn)
                log.info("ssh gate (pid %d) connected", event.pid)
                return
            elif isinstance(event, ev.PeerClosed):
                conn.close(event.reason or ev.CLIENT_CLOSED)
                return

    def _tell(self, fc: FrontConn, message: msg.ToEngine) -> None:
        """Send ``message`` now, or after the next Attach if no engine is attached."""
        if self.attached:
            self._send(message)
        else:
            fc.waiting.append(message)

    def _line(self, fc: FrontConn, text: str) -> None:
        line = msg.InLine(fc.next_number, text)
        fc.next_number += 1
        fc.unacked.append(line)
        if len(fc.unacked) >= self.limits.max_pending_lines and not fc.paused:
            fc.paused = True
            fc.conn.pause_reading()
        if self.attached:
            self._send(msg.Line(fc.id, line.number, text))
        elif fc.id not in self._told_restarting and self.successor is None:
            self._told_restarting.add(fc.id)
            fc.conn.send_text(RESTARTING + "\n")

    def connection_closed(self, conn: Client, reason: str) -> None:
        self.gate_controls.discard(conn)
        fc = self._by_conn.get(conn)
        if fc is None:
            return
        self._forget(fc)
        self._send(msg.Closed(fc.id, reason))

    def _forget(self, fc: FrontConn) -> None:
        self.conns.pop(fc.id, None)
        self._by_conn.pop(fc.conn, None)
        self._told_restarting.discard(fc.id)

    # -------------------------------------------------------------- to engine

    def _send(self, message: msg.ToEngine) -> None:
        if not self.attached:
            return  # the engine learns everything from Attach when one comes
        self._to_engine.append(message)
        if not self._send_scheduled:
            self._send_scheduled = True
            self.loop.call_soon(self._flush_to_engine)

    def _flush_to_engine(self) -> None:
        self._send_scheduled = False
        messages, self._to_engine = self._to_engine, []
        if messages and self.link is not None and self.attached:
            self.link.send(msg.encode(messages))  # the turn's end for them

    # ------------------------------------------------------------ engine link

    def engine_connected(self, sock: socket.socket, peer: str) -> None:
        """A listener callback: an engine connected to the front's socket. While another
        is attached (a hot upgrade's replacement comes as the old one leaves) it waits."""
        if self.link is not None:
            self._waiting_links.append((sock, peer))
            return
        self._link_peer = None if sock.family == socket.AF_UNIX else peer
        self.link = Link(
            self.loop,
            sock,
            msg.decode_to_front,
            self._from_engine,
            self._engine_closed,
            max_frame=msg.MAX_FRAME,
            on_read_done=self._engine_read_done,
        )

    def _from_engine(self, messages: list[msg.ToFront]) -> None:
        for message in messages:
            if isinstance(message, msg.Seal):
                group = Group(message.lsn, self._unsealed, message.lines, message.undo_from)
                self._held.append(group)
                self._unsealed = []
            elif isinstance(message, msg.Durable):
                self.durable = max(self.durable, message.lsn)
            elif isinstance(message, msg.EngineHello):
                self._hello(message)
            elif isinstance(message, msg.Handover):
                self.successor = message.pid
                log.info("engine pid %s hands over to its replacement", self.engine_pid)
            elif isinstance(message, msg.Void):
                self._void(message.lsn)
            elif isinstance(message, msg.Stop):
                self.stop_reason = message.reason
                self.stop_requested.set()
            else:
                self._unsealed.append(message)
        self._release()

    def _engine_read_done(self) -> None:
        """The frames of one read from the engine are applied: what they wrote to each
        connection is sent now, in one send each, not in the next loop turn."""
        written, self._written = self._written, []
        for conn in written:
            conn.flush_now()

    def _hello(self, hello: msg.EngineHello) -> None:
        if self.attached:
            log.warning("engine sent a second hello: closing its link")
            if self.link is not None:
                self.link.close("second hello")
            return
        self.engine_pid = hello.pid
        self.engine_address = self._link_peer
        self.successor = None
        self.durable = hello.durable
        self._release()
        dropped = len(self._held)
        self._held.clear()  # written by a dead engine past what the new one recovered
        if dropped:
            log.info("%d answer group(s) of the previous engine were never durable", dropped)
        records = [fc.record() for fc in self.conns.values()]
        assert self.link is not None
        attach = msg.Attach(hello.attach_version, os.getpid(), records, dict(self.addresses))
        self.link.queue(msg.encode([attach]))
        self.attached = True
        for fc in self.conns.values():
            if fc.auth is not None:
                self._send(fc.auth)
            if fc.ssh_open:
                self._send(msg.SshOpen(fc.id))
            for message in fc.waiting:
                self._send(message)
            fc.waiting.clear()
        self._told_restarting.clear()
        self.attached_event.set()
        waiting = sum(len(record.lines) for record in records)
        log.info(
            "engine pid %d%s attached at journal position %d: %d connection(s), %d line(s) to run",
            hello.pid,
            "" if self.engine_address is None else f" (on {self.engine_address})",
            hello.durable,
            len(records),
            waiting,
        )

    def _engine_closed(self, reason: str) -> None:
        was_attached = self.attached
        handed_over = self.successor is not None
        self.link = None
        self.attached = False
        self.attached_event.clear()
        self._to_engine.clear()
        self._unsealed.clear()  # never sealed: the engine did not finish that work
        if was_attached and self.stop_requested.is_set():
            log.info("engine link closed (%s): the front is stopping", reason)
        elif was_attached and handed_over:
            log.info("engine link closed (%s): its replacement attaches next", reason)
        elif was_attached:
            log.warning("engine link closed (%s): connections stay open", reason)
            for fc in list(self.conns.values()):
                if fc.conn.kind != "ssh" or fc.session is not None:
                    self._told_restarting.add(fc.id)
                    fc.conn.send_text(RESTARTING + "\n")
        if self._waiting_links:
            self.engine_connected(*self._waiting_links.popleft())

    @property
    def local_engine_pid(self) -> int | None:
        """The attached engine's pid if it is a process of this machine (on the Unix
        socket): one ``run/engine.pid`` may name and a signal may reach. A TCP engine's
        pid is its own machine's: here it may be an unrelated process."""
        return self.engine_pid if self.attached and self.engine_address is None else None

    def state(self) -> dict[str, object]:
        """What ``moo status`` says of the front (run/front.state)."""
        engine = "attached" if self.attached else "handing over" if self.successor else "down"
        return {
            "engine": engine,
            "engine_pid": self.engine_pid if self.attached else None,
            "engine_address": self.engine_address if self.attached else None,
            "connections": len(self.conns),
            "lines_waiting": sum(len(fc.unacked) for fc in self.conns.values()),
            "answers_held": len(self._held),
        }

    # ---------------------------------------------------------- held output

    def _release(self) -> None:
        held = self._held
        while held and held[0].lsn <= self.durable:
            self._apply(held.popleft())

    def _void(self, lsn: int) -> None:
        """The journal write of ``lsn`` failed (a full disk): nothing will make it durable,
        so the groups sealed with it are released now (the engine undid the change and
        says so in the next group) instead of holding every later answer back."""
        for group in self._held:
            if group.lsn == lsn:
                if group.undo_from is not None:
                    kept, undone = (
                        group.messages[: group.undo_from],
                        group.messages[group.undo_from :],
                    )
                    group.messages = kept + [
                        m for m in undone if not isinstance(m, msg.Out | msg.OutMany)
                    ]
                group.lsn = self.durable

    def _apply(self, group: Group) -> None:
        conns = self.conns
        for message in group.messages:
            if isinstance(message, msg.OutMany):
                self._out_many(message)
                continue
            fc = conns.get(message.id)
            if fc is None:
                continue
            conn = fc.conn
            if isinstance(conn, Connection):
                self._written.append(conn)
            if isinstance(message, msg.Out):
                conn.send_text(message.text)
            elif isinstance(message, msg.Echo):
                conn.set_echo(message.server_echoes)
            elif isinstance(message, msg.State):
                fc.session = message.session
                if message.session.stage == "connected":
                    fc.ssh_open = False
            elif isinstance(message, msg.Drop):
                conn.close(message.reason)
            elif isinstance(message, msg.GmcpOut):
                conn.send_gmcp(message.package, message.payload)
            elif isinstance(message, msg.MsspOut):
                conn.send_mssp(message.table)
            elif isinstance(message, msg.AuthOut):
                fc.auth = None
                conn.send_auth_result(message.ok, message.reason)
        for conn_id, number in group.lines:
            fc = conns.get(conn_id)
            if fc is None:
                continue
            unacked = fc.unacked
            while unacked and unacked[0].number <= number:
                unacked.popleft()
            if fc.paused and len(unacked) < self.limits.max_pending_lines // 2:
                fc.paused = False
                fc.conn.resume_reading()

    def _out_many(self, message: msg.OutMany) -> None:
        """A line many hear: buffered for each at once (order kept), sent in the pacer's
        slices so the loop answers commands in between (moo/net/fanout.py)."""
        conns = self.conns
        send_to_many(
            (fc.conn for i in message.ids if (fc := conns.get(i)) is not None),
            message.text,
            self.pacer,
        )

    # -------------------------------------------------------------- closing

    async def close_connections(self, reason: str, timeout: float = 2.0) -> None:
        """Flush and close every connection (waits at most ``timeout``)."""
        conns: list[Client] = [fc.conn for fc in self.conns.values()]
        conns += self.gate_controls
        for conn in conns:
            if isinstance(conn, WebTransport):
                conn.close(reason, GOING_AWAY)  # the page reconnects by itself
            else:
                conn.close(reason, even_if_frozen=True)
        deadline = self.loop.time() + timeout
        while any(not conn.closed for conn in conns) and self.loop.time() < deadline:
            await asyncio.sleep(0.02)

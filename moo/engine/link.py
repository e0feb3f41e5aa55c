"""The engine's side of the front link: sessions whose sockets the front holds.

1. ``connect_front`` opens the front's socket and says hello with the journal position
   the engine recovered to; the front answers ``Attach`` with every connection, its
   session record (as this engine's predecessor last released it) and its lines not yet
   done. ``FrontLink.attach`` rebuilds the sessions and queues those lines.
2. Messages from the front become the server's session events (``Server.session_events``),
   each line with its number kept on its ``RemoteTransport``.
3. What sessions say (``send_text``, echo, close, ...) is buffered as messages. The
   buffer is sealed with the journal position its changes end at, which is what makes
   the front hold it until that position is durable (moo/protocol/front.py):
   - at each journal write, just before it (``before_journal_write``): the group and
     the line being run are sent to the front synchronously, so a crash after the write
     finds the front holding the answer, and a crash before it finds the line not done;
   - at the end of each loop turn, for the rest (work that changed nothing), with the
     position last written, followed by ``Durable``.
4. Session records go to the front as they change (login steps, output markers), in the
   same groups as the output of the line that changed them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from moo.errors import ProtocolError
from moo.net import events as ev
from moo.net.link import Link
from moo.net.session import Session
from moo.protocol import front as msg

if TYPE_CHECKING:
    from moo.server import LineToken, Server

log = logging.getLogger(__name__)

HELLO_TIMEOUT = 10.0
EARLY_FLUSH_LINES = 16
"""A busy turn's answers go to the front every this many lines, not only at its end, so
the front writes them while the engine runs the rest (measured: see bench/commands.py
--front compare)."""


class RemoteTransport:
    """A session's connection as the engine sees it: messages to the front."""

    def __init__(self, link: FrontLink, record: msg.ConnRecord | msg.Opened) -> None:
        self.link = link
        self.id = record.id
        self.kind = record.kind
        self.peer = record.peer
        self.closed = False
        self.closing = False
        self.numbers: deque[int] = deque()  # of the session's pending lines, in order
        self.terminal_type: str | None = None
        self.window: tuple[int, int] | None = None
        self.gmcp_enabled = False
        self.echo_off = False
        if isinstance(record, msg.ConnRecord):
            self.terminal_type = record.terminal
            self.window = (record.cols, record.rows) if record.cols or record.rows else None
            self.gmcp_enabled = record.gmcp
            self.echo_off = record.echo_off

    def send_text(self, text: str) -> None:
        if not self.closed:
            self.link.emit(msg.Out(self.id, text))

    def set_echo(self, server_echoes: bool) -> None:
        self.echo_off = server_echoes  # the client stops echoing: a password is typed
        self.link.emit(msg.Echo(self.id, server_echoes))

    def send_gmcp(self, package: str, payload: str) -> None:
        self.link.emit(msg.GmcpOut(self.id, package, payload))

    def send_mssp(self, table: dict[str, str | list[str]]) -> None:
        self.link.emit(msg.MsspOut(self.id, table))

    def send_auth_result(self, ok: bool, reason: str) -> None:
        self.link.emit(msg.AuthOut(self.id, ok, reason))
        self.link.touch(self)  # the login step that follows goes in the same group

    def pause_reading(self) -> None:
        """The front bounds each connection's waiting lines itself."""

    def resume_reading(self) -> None:
        """See ``pause_reading``."""

    def close(self, reason: str) -> None:
        """Closed by the front once what was said before (and in this turn) is written;
        ``closed`` becomes true when the front says it is (as a socket's would)."""
        if not self.closed and not self.closing:
            self.closing = True
            self.link.emit(msg.Drop(self.id, reason))

    def facts(self, facts: msg.Facts) -> None:
        self.terminal_type = facts.terminal
        self.window = (facts.cols, facts.rows) if facts.cols or facts.rows else None
        self.gmcp_enabled = facts.gmcp


def record_of(session: Session, now: float) -> msg.SessionRecord:
    return msg.SessionRecord(
        session.player,
        session.login.stage,
        session.login.name,
        session.output_prefix,
        session.output_suffix,
        sorted(session.gmcp_supports),
        now - session.connected_at,
    )


class FrontLink:
    """The engine's one link to the front; the server's line tracker."""

    def __init__(self, server: Server, position: Callable[[], int]) -> None:
        self.server = server
        self.position = position  # the journal's last written LSN
        self.loop = asyncio.get_running_loop()
        self.link: Link[msg.ToEngine] | None = None
        self.transports: dict[int, RemoteTransport] = {}
        self._out: list[msg.ToFront] = []
        self._done: list[tuple[int, int]] = []
        self._sent_records: dict[int, tuple[object, ...]] = {}
        self._touched: set[RemoteTransport] = set()
        self._current: LineToken | None = None
        self._trailer: str | None = None
        self._trailer_sent = False
        self._commit_mark: int | None = None  # where the committing command's answer starts
        self._sealed_early: LineToken | None = None
        self._durable_sent = -1
        self._flush_scheduled = False
        self.attached = asyncio.Event()
        self.lost = asyncio.Event()
        self._leaving = False  # this engine closes the link itself
        self.front_version = msg.OLDEST_FRONT_PROTOCOL  # what the front's Attach says

    # ------------------------------------------------------------------ start

    async def connect(self, path: str) -> None:
        """Connect to the front at ``path`` and attach. Raises OSError, ProtocolError."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await self.loop.sock_connect(sock, path)
        except OSError:
            sock.close()
            raise
        await self.attach_on(sock)

    async def attach_on(self, sock: socket.socket) -> None:
        """Attach over ``sock``, connected to the front (over TCP: authenticated by
        moo/net/link_tcp.py). Raises ProtocolError."""
        self.link = Link(
            self.loop, sock, msg.decode_to_engine, self._from_front, self._closed,
            max_frame=msg.MAX_FRAME,
        )  # fmt: skip
        hello = msg.engine_hello(os.getpid(), self.position())
        self._durable_sent = hello.durable
        self.link.queue(msg.encode([hello]))
        try:
            await asyncio.wait_for(self.attached.wait(), HELLO_TIMEOUT)
        except TimeoutError:
            self.link.close("no attach")
            raise ProtocolError("the front did not answer the engine's hello") from None
        if self.lost.is_set():
            raise ProtocolError("the front closed the link during attach")

    def _attach(self, attach: msg.Attach) -> None:
        server = self.server
        self.front_version = min(attach.version, msg.FRONT_PROTOCOL)
        now = time.monotonic()
        for record in attach.conns:
            transport = RemoteTransport(self, record)
            self.transports[record.id] = transport
            state = record.session
            session = server.open_session(transport, welcome=state is None)
            assert session is not None  # the front admits connections, never the engine
            if state is None:
                self.touch(transport)
            else:
                self._sent_records[record.id] = _key(state)
                self._restore(session, state, now)
            for line in record.lines:
                self._line(session, transport, line.number, line.text)
        server.line_tracker = self
        server.front_addresses = dict(attach.addresses)
        self.attached.set()
        log.info("attached to the front (pid %d): %d connection(s)", attach.pid, len(attach.conns))

    def _restore(self, session: Session, state: msg.SessionRecord, now: float) -> None:
        session.login.stage = state.stage
        session.login.name = state.name
        session.output_prefix = state.prefix
        session.output_suffix = state.suffix
        session.gmcp_supports = set(state.gmcp_supports)
        session.connected_at = now - state.connected_for
        player = state.player
        if player is not None and state.stage == "connected":
            if self.server.world.valid(player):
                self.server.resume_session(session, player)
            else:  # made by a command the journal never got: back to the welcome screen
                session.login.stage, session.login.name = "welcome", ""
                session.tell_lines(self.server.login.welcome())
        assert isinstance(session.transport, RemoteTransport)
        self.touch(session.transport)

    # ----------------------------------------------------------- from front

    def _from_front(self, messages: list[msg.ToEngine]) -> None:
        server = self.server
        for message in messages:
            if isinstance(message, msg.Line):
                transport = self.transports.get(message.id)
                session = server.sessions.get(transport) if transport is not None else None
                if transport is not None and session is not None:
                    self._line(session, transport, message.number, message.text)
            elif isinstance(message, msg.Opened):
                transport = RemoteTransport(self, message)
                self.transports[message.id] = transport
                server.open_session(transport)
                self.touch(transport)
            elif isinstance(message, msg.Closed):
                transport = self.transports.pop(message.id, None)
                if transport is not None:
                    transport.closed = True
                    self._touched.discard(transport)
                    self._sent_records.pop(transport.id, None)
                    server.connection_closed(transport, message.reason)
            elif isinstance(message, msg.Attach):
                self._attach(message)
            else:
                self._event(message)

    def _line(self, session: Session, transport: RemoteTransport, number: int, text: str) -> None:
        transport.numbers.append(number)
        self.server.session_events(session, [ev.LineReceived(text)])

    def _event(self, message: msg.ToEngine) -> None:
        transport = self.transports.get(getattr(message, "id", 0))
        if transport is None:
            return
        session = self.server.sessions.get(transport)
        if session is None:
            return
        event: ev.Event
        if isinstance(message, msg.Facts):
            transport.facts(message)
            return
        self.touch(transport)
        if isinstance(message, msg.TooLong):
            event = ev.LineTooLong(message.length)
        elif isinstance(message, msg.GmcpIn):
            event = ev.GmcpReceived(message.package, message.data)
        elif isinstance(message, msg.MsspAsk):
            event = ev.MsspRequested()
        elif isinstance(message, msg.AuthAsk):
            event = ev.AuthRequest(message.user, message.method, message.secret)
        elif isinstance(message, msg.SshOpen):
            cols, rows = transport.window or (0, 0)
            event = ev.SessionOpen(transport.terminal_type or "", cols, rows)
        else:
            return
        self.server.session_events(session, [event])

    def _closed(self, reason: str) -> None:
        if not self._leaving:
            log.error("the front link closed (%s): this engine stops", reason)
        self.server.line_tracker = None
        self.lost.set()
        self.attached.set()  # wake a connect() still waiting
        self.server.request_stop("the front went away")

    def stop_front(self, reason: str) -> None:
        """``@shutdown``: everything said so far, then ``Stop``, reach the front now."""
        self._flush()
        self._out.append(msg.Stop(reason))
        self._send(now=True)

    def hand_over(self) -> None:
        """A hot upgrade's replacement takes over: everything said so far, then
        ``Handover``, reach the front now (this process exits right after)."""
        self._flush()
        self._out.append(msg.Handover())
        self._send(now=True)

    def close(self) -> None:
        """Send what is left, then close the link (the engine stops)."""
        self._leaving = True
        self._flush()
        if self.link is not None and not self.link.closed:
            self.link.send_now()
            self.link.close("engine stopping")

    # ------------------------------------------------------------ lines

    def line_started(self, transport: object, trailer: str | None) -> LineToken | None:
        if not isinstance(transport, RemoteTransport) or not transport.numbers:
            return None
        token = (transport.id, transport.numbers.popleft())
        self._current = token
        self._trailer = trailer
        self._trailer_sent = False
        return token

    def trailer_sent(self, token: LineToken | None) -> bool:
        return token is not None and token == self._current and self._trailer_sent

    def line_left(self) -> None:
        self._current = None

    def line_dropped(self, transport: object) -> None:
        """The oldest typed line waiting on ``transport`` will never run (``flush_input``):
        it is done, so the front does not send it again after a restart."""
        if isinstance(transport, RemoteTransport) and transport.numbers:
            self.line_done((transport.id, transport.numbers.popleft()))

    def line_done(self, token: LineToken | None) -> None:
        if token is None:
            return
        transport = self.transports.get(token[0])
        if transport is not None:
            self.touch(transport)
        if token == self._sealed_early:
            self._sealed_early = None
            return
        self._done.append(token)
        if len(self._done) >= EARLY_FLUSH_LINES:
            self._flush()  # the front writes these answers while the rest run

    def lines_run(self) -> None:
        """The answers of the lines just run go to the front now rather than after one
        more loop iteration (the rest of the turn's work goes in the next group)."""
        if self._flush_scheduled:
            self._flush()

    # ------------------------------------------------------------ to front

    def emit(self, message: msg.ToFront) -> None:
        self._out.append(message)
        self._schedule()

    def tell_many(self, transports: Sequence[object], text: str) -> None:
        """One ``OutMany`` for a line many sessions hear (a front of protocol 1: an
        ``Out`` each)."""
        ids = [t.id for t in transports if isinstance(t, RemoteTransport) and not t.closed]
        line = text + "\n"
        if len(ids) > 1 and self.front_version >= 2:
            self.emit(msg.OutMany(ids, line))
        else:
            for conn_id in ids:
                self.emit(msg.Out(conn_id, line))

    def touch(self, transport: RemoteTransport) -> None:
        """Something happened on ``transport``'s session: its record may have changed."""
        self._touched.add(transport)
        self._schedule()

    def _note_records(self) -> None:
        """A ``State`` for each touched session whose record changed (login steps, output
        markers, GMCP packages): in the same group as the work that changed it."""
        if not self._touched:
            return
        now = time.monotonic()
        sessions = self.server.sessions
        sent = self._sent_records
        for transport in self._touched:
            session = sessions.get(transport)
            if session is None:
                continue
            key = _key(session)  # most lines change nothing: no record is built for them
            if sent.get(transport.id) != key:
                sent[transport.id] = key
                self._out.append(msg.State(transport.id, record_of(session, now)))
        self._touched.clear()

    def before_journal_write(self, lsn: int) -> None:
        """The journal is about to write ``lsn``: the front gets this work's answers first
        (and the line being run, which the write makes done)."""
        self._note_records()
        lines = list(self._done)
        self._done.clear()
        if self._current is not None:
            # The line is done with this write: all of its answer must be in this group,
            # its trailer (SUFFIX) too, which the server would say after the commit.
            if self._trailer is not None and not self._trailer_sent:
                self._out.append(msg.Out(self._current[0], self._trailer + "\n"))
                self._trailer_sent = True
            lines.append(self._current)
            self._sealed_early = self._current
        undo_from, self._commit_mark = self._commit_mark, None
        self._out.append(msg.Seal(lsn, lines, undo_from))
        self._send(now=True)
        self._schedule()  # Durable follows at the end of the turn

    def commit_output_begins(self) -> None:
        """What is said from here to the commit is the command's own answer: taken back
        if the commit's journal write fails."""
        self._commit_mark = len(self._out)

    def journal_write_failed(self, lsn: int) -> None:
        """The write ``before_journal_write`` announced failed and the change is undone:
        the front drops the command's answer from that group and releases the rest; the
        line is not done yet (its refusal and trailer follow in the next group)."""
        self._out.append(msg.Void(lsn))
        self._send(now=True)
        if self._sealed_early is not None and self._sealed_early == self._current:
            self._sealed_early = None
            self._trailer_sent = False

    def _schedule(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        self._note_records()
        if self._out or self._done:
            self._out.append(msg.Seal(self.position(), self._done))
            self._done = []
        self._send(now=False)

    def _send(self, *, now: bool) -> None:
        position = self.position()
        if position > self._durable_sent and not now:
            self._out.append(msg.Durable(position))
            self._durable_sent = position
        if not self._out:
            return
        messages, self._out = self._out, []
        link = self.link
        if link is None or link.closed:
            return
        if now:
            link.queue(msg.encode(messages))
            link.send_now()
        else:  # the turn's end (or a busy turn's early part): no extra loop iteration
            link.send(msg.encode(messages))


def _key(state: Session | msg.SessionRecord) -> tuple[object, ...]:
    """What of a session's record is worth sending again when it changes (not its age),
    from the session or from a record of it."""
    if isinstance(state, msg.SessionRecord):
        return (
            state.player,
            state.stage,
            state.name,
            state.prefix,
            state.suffix,
            tuple(state.gmcp_supports),
        )
    login = state.login
    supports = state.gmcp_supports
    return (
        state.player,
        login.stage,
        login.name,
        state.output_prefix,
        state.output_suffix,
        tuple(sorted(supports)) if supports else (),
    )

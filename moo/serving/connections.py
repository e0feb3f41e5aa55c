"""Connections: sockets accepted, sessions opened, their events handled, their end.

The layer of ``Server`` (moo/server.py lists them all) for step 1 of its pipeline:

1. ``accept``: a listener's new socket becomes a ``Connection`` with its codec (telnet;
   the SSH gate's frames; telnet behind a ``TlsStage``) and a ``Session``; it is shown
   the welcome, or refused when the server is full. ``open_session`` does the same for
   a transport this process does not read itself (a WebSocket; in an engine, a
   connection its front holds).
2. ``connection_events`` / ``session_events``: what the client did. Lines go to
   ``line_received`` (``line_input.py``); the rest is handled here: a connection that
   says hello as the SSH gate's control link is no session; an SSH login is checked
   (``_ssh_auth``) and its session opened (``_ssh_open`` attaches the player); GMCP and
   MSSP requests are answered. After each commit, ``_after_commit`` sends GMCP
   ``Room.Info`` to players who moved.
3. ``connection_closed`` (``session_ended`` for a transport not ours): the session is
   gone; its player, if still theirs, is announced as disconnected.
"""

from __future__ import annotations

from typing import Any

from moo.mud_protocols import handle_gmcp, moved_players, mssp_table, room_info, wants
from moo.net import events as ev
from moo.net.connection import Codec, Connection
from moo.net.gate_protocol import GateServerCodec
from moo.net.session import Session, Transport
from moo.net.telnet_codec import TelnetCodec
from moo.net.tls import TlsStage
from moo.net.web import SERVICE_RESTART, WebTransport
from moo.serving.base import log
from moo.serving.line_input import ServerLineInput
from moo.world.values import ObjRef


class ServerConnections(ServerLineInput):
    """Accepts connections, opens their sessions and answers what their clients do."""

    # ---------------------------------------------------------- connections

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
                session.transport.close(event.reason or ev.CLIENT_CLOSED)
                return
            elif isinstance(event, ev.GmcpReceived):
                self._gmcp_received(session, event)
            elif isinstance(event, ev.MsspRequested):
                session.transport.send_mssp(self._mssp())

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
            if self.world_hooks_connections():
                # LambdaMOO: the client's own close, or the server's (quit, boot, timeout).
                # None while the world is frozen for a hot upgrade (it refuses changes; the
                # closes are the untransferable connections') or the server stops (as
                # LambdaMOO, which closes everyone at shutdown without telling the world).
                if not self.frozen and not self.stopping:
                    side = "client_" if ev.client_closed(reason) else ""
                    self.dispatcher.run_server_verb(
                        player, f"user_{side}disconnected", [ObjRef(player)]
                    )
            else:
                self._announce_presence(player, "has disconnected.")
            log.info("#%d disconnected (%s)", player, reason)

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

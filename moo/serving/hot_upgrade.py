"""The server's side of a hot upgrade: go still, hand the sessions over, or carry on.

The layer of ``Server`` (moo/server.py lists them all) that moo/upgrade/ drives:

1. ``quiet``: nothing is in flight (no password check, SSH auth or password change), so
   the upgrader may freeze now.
2. ``freeze``: stop accepting, reading, writing and running commands; web sessions are
   closed (a WebSocket cannot move), and ``close_untransferable`` closes TLS ones.
3. ``export_sessions``: each connection's state and descriptor, for the replacement
   process, which ``adopt_session``s them and ``thaw``s.
4. Then ``let_go`` (the handoff worked: close this process's copies without a word), or
   ``thaw`` (it failed: carry on as before, picking up the lines that waited).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from moo.net.connection import Connection
from moo.net.session import Session
from moo.net.web import SERVICE_RESTART
from moo.serving.connections import ServerConnections


class ServerHotUpgrade(ServerConnections):
    """Freezes the server for a hot upgrade, exports or adopts sessions, thaws."""

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

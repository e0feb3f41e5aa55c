"""Typed lines: queued on their session, then run one per session per round.

The layer of ``Server`` (moo/server.py lists them all) for steps 2-4 of its pipeline:

1. ``line_received``: every transport's typed lines come here. The session's flush
   command (LambdaMOO's ``.flush``) drops the lines waiting before it at once; any
   other line joins ``session.pending``, and a session with ``max_pending_lines``
   waiting stops being read.
2. ``_mark_ready`` queues the session; ``_run_commands`` (one loop callback) takes at
   most one line from each ready session, ``COMMANDS_PER_TURN`` sessions a round, and
   spends the session's token budget (a client over budget waits for ``call_later``).
   Behind a front, the ``LineTracker`` hears where each typed line starts and ends.
3. ``_run_line``: PREFIX/SUFFIX are answered here; a line on the welcome screen goes to
   the ``LoginScreen`` in a task (``_login_line``: the session is busy until it is
   done); a logged-in player's line goes to a waiting ``read()`` or to the dispatcher.

MOO's connection builtins live here too, since they act on the same queue:
``force_input``, ``flush_input``, ``connection_options`` and ``set_connection_option``
(``hold-input`` keeps lines for ``read()``), and ``output_delimiters``.
"""

from __future__ import annotations

import time

from moo.lang.options import default_flush_command
from moo.net.session import ForcedLine, Session
from moo.serving.base import LineToken, ServerBase

COMMANDS_PER_TURN = 256
OUT_OF_BAND_PREFIX = "#$#"
"""LambdaMOO's out-of-band prefix: such a line is no command and never a ``read()``'s; it
calls ``#0:do_out_of_band_command`` (MCP and other client protocols speak this way)."""
OUT_OF_BAND_QUOTE_PREFIX = '#$"'
"""A line starting with this loses it and is an ordinary line, even if ``#$#`` follows."""


class ServerLineInput(ServerBase):
    """Queues each session's typed lines and runs them, fairly and within budget."""

    def line_received(self, session: Session, text: str) -> None:
        """A typed line, queued on its session (every transport's lines come here). The
        session's flush command (LambdaMOO's ``.flush``) is not queued: it drops the lines
        waiting before it, at once."""
        if session.player is not None and text and text == self._flush_command(session):
            self.flush_input(session.player, True)
            if self.line_tracker is not None:
                self.line_tracker.line_dropped(session.transport)  # the .flush line itself
            return
        session.pending.append(text)
        session.last_input = time.monotonic()
        if len(session.pending) == 1:
            self._mark_ready(session)
        if len(session.pending) >= self.config.limits.max_pending_lines:
            session.transport.pause_reading()

    def _flush_command(self, session: Session) -> str:
        command = session.flush_command
        if command is None:  # a new connection takes the world's default, as in LambdaMOO
            command = session.flush_command = default_flush_command(self.world)
        return command

    CONNECTION_OPTIONS = ("binary", "hold-input", "disable-oob", "client-echo", "flush-command")

    def connection_options(self, player: int) -> dict[str, object] | None:
        """MOO's ``connection_options()``: LambdaMOO 1.8.1's five, by name (None: not
        connected). ``binary`` is always 0 here (no binary mode)."""
        session = self._by_player.get(player)
        if session is None:
            return None
        return {
            "binary": 0,
            "hold-input": int(session.hold_input),
            "disable-oob": int(session.disable_oob),
            "client-echo": int(session.client_echo),
            "flush-command": self._flush_command(session),
        }

    def set_connection_option(self, player: int, name: str, value: object) -> bool:
        """MOO's ``set_connection_option()``; False for a player not connected or an option
        this server does not offer (``binary``, unknown names).
        ``hold-input``: typed lines wait for ``read()`` instead of running as commands;
        ``disable-oob``: ``#$#`` lines are ordinary lines (``OUT_OF_BAND_PREFIX``);
        ``client-echo`` false asks the client not to echo (telnet WILL ECHO), true lets it;
        ``flush-command``: the line that drops the waiting input (not a string: none)."""
        session = self._by_player.get(player)
        if session is None:
            return False
        truthy = bool(value)  # the builtin gives MOO's truth for the flags
        if name == "hold-input":
            session.hold_input = truthy
            if not truthy and session.pending:
                self._mark_ready(session)
        elif name == "disable-oob":
            session.disable_oob = truthy
        elif name == "client-echo":
            session.client_echo = truthy
            session.set_echo(not truthy)
        elif name == "flush-command":
            session.flush_command = value if isinstance(value, str) else ""
        else:
            return False
        return True

    def force_input(self, player: int, line: str, at_front: bool) -> bool:
        """MOO's ``force_input()``: ``line`` runs as if ``player`` typed it (first in their
        queue if ``at_front``). It is a ``ForcedLine``, so a front's line numbering skips it.
        False when ``player`` is not connected."""
        session = self._by_player.get(player)
        if session is None or session.closed:
            return False
        if at_front:
            session.pending.appendleft(ForcedLine(line))
        else:
            session.pending.append(ForcedLine(line))
        if len(session.pending) == 1:
            self._mark_ready(session)
        return True

    def flush_input(self, player: int, show_messages: bool) -> None:
        """MOO's ``flush_input()``, with LambdaMOO's messages. A typed line dropped here
        is done for a front (it will not be sent again after an engine restart)."""
        session = self._by_player.get(player)
        if session is None:
            return
        dropped = list(session.pending)
        session.pending.clear()
        session.transport.resume_reading()
        tracker = self.line_tracker
        if tracker is not None:
            for line in dropped:
                if line.__class__ is not ForcedLine:
                    tracker.line_dropped(session.transport)
        if not show_messages:
            return
        if not dropped:
            session.tell(">> No pending input to flush...")
            return
        session.tell(">> Flushing the following pending input:")
        session.tell_lines([f">>     {line}" for line in dropped])
        session.tell(">> (Done flushing)")

    def output_delimiters(self, player: int) -> tuple[str, str] | None:
        session = self._by_player.get(player)
        if session is None:
            return None
        return session.output_prefix or "", session.output_suffix or ""

    def line_too_long(self, session: Session, length: int) -> None:
        limit = self.config.limits.max_line_bytes
        session.tell(
            f"That line was too long ({length} bytes; the limit is {limit}), so it was ignored."
        )

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
            if session.hold_input and not self.line_readers.waiting(session.player or -1):
                continue  # held for read(): parking a reader marks it ready again
            wait = session.budget.take(now)
            if wait > 0:
                self._loop.call_later(wait, self._mark_ready, session)
                continue
            line = session.pending.popleft()
            if len(session.pending) < self.config.limits.max_pending_lines // 2:
                session.transport.resume_reading()
            tracker = self.line_tracker
            if tracker is None or line.__class__ is ForcedLine:  # the front never saw it
                self._run_line(session, line, None)
            else:
                out_of_band = self._out_of_band(session, line)
                trailer = None if out_of_band else session.output_suffix
                token = tracker.line_started(session.transport, trailer)
                finished = self._run_line(session, line, token)
                tracker.line_left()
                if finished:
                    tracker.line_done(token)
            if session.pending and not session.busy and not session.closed:
                ready.append(session)
        if self.line_tracker is not None:
            self.line_tracker.lines_run()
        if ready and not self._run_scheduled:
            self._run_scheduled = True
            self._loop.call_soon(self._run_commands)

    def _run_line(self, session: Session, line: str, token: LineToken | None) -> bool:
        """Run one line; False if its work goes on asynchronously (a login), in which
        case the line tracker hears it is done when it is."""
        if self._out_of_band(session, line):
            # LambdaMOO gives a connection not logged in yet a negative player number for
            # this; here there is no player to run it for, so it is dropped (no login
            # command, no error).
            if session.player is not None:
                self.dispatcher.run_out_of_band(session.player, line)
            return True
        if not session.disable_oob and line.startswith(OUT_OF_BAND_QUOTE_PREFIX):
            line = line[len(OUT_OF_BAND_QUOTE_PREFIX) :]
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

    @staticmethod
    def _out_of_band(session: Session, line: str) -> bool:
        """An out-of-band line: no output prefix or suffix around it, as in LambdaMOO."""
        return not session.disable_oob and line.startswith(OUT_OF_BAND_PREFIX)

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

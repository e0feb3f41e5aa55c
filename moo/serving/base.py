"""The bottom layer of ``Server``: what every layer above shares.

``Server`` (moo/server.py, whose docstring lists the layers) is built in layers, each
using only those below it; this one holds:

- the attributes ``Server.__init__`` sets, declared here for the type checker (what each
  holds is said there);
- ``LineTracker``: what the engine's link to its front is told about each typed line;
- the sessions' transports (``connections``, ``web_transports``, ``close_and_wait``) and
  the background tasks (``_spawn``: a login, an SSH auth, a password change).

A few methods that ``Server`` defines are called from below (``attach``,
``_announce_presence``, ``notify``, ``start_housekeeping``): they are declared at the end
of this class, as ``World`` declares ``apply`` (moo/world/transactions.py). ``Server``
overrides them, so a call finds the real one directly.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from moo.accounts import Passwords
from moo.commands.dispatch import Dispatcher
from moo.commands.reading import LineReaders
from moo.config import Config
from moo.gc_control import FullCollections
from moo.lang.scheduler import Scheduler
from moo.login import LoginScreen
from moo.net.connection import Connection
from moo.net.listeners import Listener
from moo.net.session import Session, Transport
from moo.net.web import WebListener, WebTransport
from moo.world.world import World

if TYPE_CHECKING:
    from moo.checkpoint.service import Checkpointer
    from moo.upgrade.handoff import Upgrader

log = logging.getLogger("moo.server")  # every layer logs as the server did before the split

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

    def line_dropped(self, transport: Transport) -> None:
        """A typed line waiting on ``transport`` will not run (flushed)."""
        ...

    def commit_output_begins(self) -> None: ...

    def line_done(self, token: LineToken | None) -> None: ...

    def lines_run(self) -> None:
        """A turn's lines have run: their answers may go to the front now."""
        ...

    def tell_many(self, transports: list[Transport], text: str) -> None:
        """``text`` and a newline to each of ``transports`` (the front's sessions)."""
        ...


class ServerBase:
    """The attributes, transports and tasks every layer of ``Server`` uses."""

    # Set by ``Server.__init__`` (moo/server.py); what each holds is said there.
    config: Config
    world: World
    checkpointer: Checkpointer | None
    passwords: Passwords
    moo_tasks: Scheduler
    dispatcher: Dispatcher
    line_readers: LineReaders
    login: LoginScreen
    listeners: dict[str, Listener | WebListener]
    sessions: dict[Transport, Session]
    line_tracker: LineTracker | None
    front_addresses: dict[str, str]
    gate_controls: set[Connection]
    _by_player: dict[int, Session]
    _ready: deque[Session]
    _run_scheduled: bool
    _next_sid: int
    _tasks: set[asyncio.Task[None]]
    _stop_requested: asyncio.Event
    stop_everything: bool
    stop_message: str
    _loop: asyncio.AbstractEventLoop
    _sweeper: asyncio.TimerHandle | None
    full_collections: FullCollections
    frozen: bool
    upgrader: Upgrader | None
    started_at: float
    tls_context: ssl.SSLContext | None
    on_command: Callable[[float], None] | None

    def connections(self) -> list[Connection]:
        """The sessions' sockets held by this process (none in an engine: the front's)."""
        return [t for t in self.sessions if isinstance(t, Connection)]

    def web_transports(self) -> list[WebTransport]:
        """The WebSockets this process serves (an engine's web sessions are the front's)."""
        return [t for t in self.sessions if isinstance(t, WebTransport)]

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

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    # ------------------------------------------------- defined by Server (server.py)

    def attach(self, session: Session, player: int, *, created: bool = False) -> None:
        """Make ``session`` the connection of ``player``: ``Server.attach``."""
        raise NotImplementedError

    @property
    def stopping(self) -> bool:
        """A shutdown or stop was asked for: ``Server.stopping``."""
        raise NotImplementedError

    def world_hooks_connections(self) -> bool:
        """Whether #0's verbs greet and see off players: ``Server.world_hooks_connections``."""
        raise NotImplementedError

    def _announce_presence(self, player: int, what: str) -> None:
        """Tell ``player``'s room ``what`` they did: ``Server._announce_presence``."""
        raise NotImplementedError

    def notify(self, player: int, text: str) -> None:
        """A line to ``player`` if connected: ``Server.notify``."""
        raise NotImplementedError

    def start_housekeeping(self) -> None:
        """Start the idle sweep and the timed collections: ``Server.start_housekeeping``."""
        raise NotImplementedError

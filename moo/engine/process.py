"""``moo engine``: the world behind a front, with no player sockets of its own.

1. Take the data directory's lock, recover the world (checkpoint + journal) or build it,
   set the wizard's password, start the $checkpointer: as ``moo serve`` does (app.py).
2. Connect to the front's socket (``run/front.sock``; with ``link.front_address`` its
   TCP port, proving we know the link secret: moo/net/link_tcp.py), waiting for it up to
   ``FRONT_WAIT`` seconds, and attach: the front hands over every connection with its
   session record and the lines not yet done (moo/engine/link.py), which now run.
3. Serve as ``moo serve`` does (moo/runtime.py: the admin socket, SIGUSR2, ``@hot-upgrade``;
   the pid in ``run/engine.pid``) until one of:
   - ``@shutdown``: everyone is told, the front is asked to stop too (``Stop``);
   - SIGTERM or SIGINT: this engine stops; the front keeps every connection and waits
     for the next engine (the operator's, or the one it starts itself);
   - the front's link closes: nothing to serve; stop;
   - a hot upgrade: the replacement (``moo engine --upgrade-fd N``) loads the world while
     this engine serves, takes the journal over at the freeze, and attaches to the front
     as this one leaves (``Handover``: players see no restart notice).
4. Stop: the checkpointer (waiting for a checkpoint in progress), the final checkpoint,
   the run record; remove the pid file.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from moo import paths
from moo.app import default_program, open_world
from moo.config import Config
from moo.engine.link import FrontLink
from moo.errors import MooError, ProtocolError
from moo.net.link_auth import LinkRefused
from moo.net.link_tcp import connect_front, engine_tls, load_secret
from moo.net.listeners import Listener, bind_tcp
from moo.ops.metrics import Metrics
from moo.ops.metrics_http import MetricsEndpoint
from moo.persist.store import Store
from moo.runtime import Runtime, run
from moo.server import Server

log = logging.getLogger(__name__)

FRONT_WAIT = 30.0


async def serve_engine(
    config: Config,
    out: Callable[[str], None] = print,
    *,
    front_socket: Path | None = None,
    force_recover: bool = False,
    engine_args: list[str] | None = None,
    upgrade_fd: int | None = None,
    on_serving: Callable[[Server], Coroutine[Any, Any, None]] | None = None,
    program: list[str] | None = None,
) -> int:
    """Steps 1 to 4. Returns the exit code. ``upgrade_fd``: this engine is a hot upgrade's
    replacement (moo/upgrade/replacement.py, which then calls ``attach``). ``on_serving``
    runs once the engine is attached and serving (a cold-started upgrade tells how it
    went)."""
    if upgrade_fd is not None:
        from moo.upgrade.replacement import serve_replacement

        return await serve_replacement(
            config, out, upgrade_fd, engine_args or [], front_socket=front_socket, engine=True
        )
    if config.link.front_address:  # a missing secret is said before the world loads
        load_secret(paths.link_secret_file(config.data_dir, config.link.secret_file))
    data_lock, store, server, checkpointer = await open_world(config, out, force_recover)
    handle_engine_signals(server)
    try:
        before_exit = await attach(config, server, store, front_socket)
        metrics = serve_metrics(config, server, out)
    except MooError:
        await checkpointer.stop()
        await store.close(final_reason=None)
        raise
    server.start_housekeeping()
    if on_serving is not None:
        serving = asyncio.get_running_loop().create_task(on_serving(server))
        serving.add_done_callback(_log_failure)
    runtime = Runtime(
        config,
        store,
        server,
        checkpointer,
        None,
        data_lock,
        program or default_program(),  # what runs now: a cold upgrade's program
        engine_args or [],
        metrics=metrics,
        subcommand="engine",
        pid_file=paths.engine_pid_file(config.data_dir),
        before_exit=before_exit,
    )
    return await run(runtime)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("after start: %s", task.exception())


def handle_engine_signals(server: Server) -> None:
    """SIGTERM and SIGINT stop this engine only: the front keeps everyone connected."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, server.request_stop, "engine stop (signal)")


async def attach(
    config: Config, server: Server, store: Store, front_socket: Path | None
) -> Callable[[bool], None]:
    """Step 2: connect to the front and attach; from here each journal write first hands
    the front its answers. Returns what to do as the engine leaves (handed over to a
    replacement, or stopping). Raises MooError."""
    link = FrontLink(server, lambda: store.journal.position)
    try:
        if config.link.front_address:
            await _connect_tcp(link, config)
        else:
            await _connect(link, front_socket or paths.front_socket(config.data_dir))
    except LinkRefused as error:
        raise MooError(f"{error} (link secret: {_secret_path(config)})") from None
    except (OSError, ProtocolError) as error:
        raise MooError(f"cannot attach to the front: {error}") from None
    store.journal.before_write = link.before_journal_write
    store.journal.not_written = link.journal_write_failed

    def leave(handed_over: bool) -> None:
        store.journal.before_write = store.journal.not_written = None
        if handed_over:
            link.hand_over()
        elif server.stop_everything:
            link.stop_front(server.stop_message)
        link.close()

    return leave


def serve_metrics(config: Config, server: Server, out: Callable[[str], None]) -> Metrics | None:
    """The Prometheus endpoint, the engine's: the figures are the world's (a listener of
    the server's, so a hot upgrade hands it over). Raises MooError."""
    if not config.metrics.enabled:
        return None
    metrics = Metrics()
    try:
        sock = bind_tcp(config.metrics.host, config.metrics.port)
    except OSError as error:
        raise MooError(f"cannot listen for metrics: {error.strerror or error}") from None
    loop = asyncio.get_running_loop()
    listener = Listener(loop, sock, "metrics", MetricsEndpoint(metrics.registry).accept)
    server.add_listener(listener)
    out(f"metrics listening on {listener.address}")
    return metrics


async def _connect(link: FrontLink, path: Path) -> None:
    """Connect to the front, trying again while it is not there yet (a front that
    starts this engine is already listening; an operator may start them in any order)."""
    deadline = asyncio.get_running_loop().time() + FRONT_WAIT
    while True:
        try:
            await link.connect(str(path))
            return
        except (FileNotFoundError, ConnectionRefusedError):
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(0.1)


def _secret_path(config: Config) -> Path:
    return paths.link_secret_file(config.data_dir, config.link.secret_file)


async def _connect_tcp(link: FrontLink, config: Config) -> None:
    """``_connect`` over TCP to ``link.front_address``: the handshake (tried again until
    ``FRONT_WAIT``, unless refused), then attach. Raises MooError (no secret),
    LinkRefused, OSError, ProtocolError."""
    secret = load_secret(_secret_path(config))
    tls = engine_tls() if config.link.tls else None
    host, _, port = config.link.front_address.rpartition(":")
    host = host.strip("[]")
    deadline = asyncio.get_running_loop().time() + FRONT_WAIT
    while True:
        try:
            sock = await connect_front(host, int(port), secret, tls)
            break
        except LinkRefused:
            raise
        except (OSError, ProtocolError):  # not up yet, or its handshakes full (a port scan)
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(0.2)
    await link.attach_on(sock)

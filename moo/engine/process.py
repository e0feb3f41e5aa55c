"""``moo engine``: the world behind a front, with no player sockets of its own.

1. Take the data directory's lock, recover the world (checkpoint + journal) or build it,
   set the wizard's password, start the $checkpointer: as ``moo serve`` does (app.py).
2. Connect to the front's socket (``run/front.sock``, waiting for it up to
   ``FRONT_WAIT`` seconds) and attach: the front hands over every connection with its
   session record and the lines not yet done (moo/engine/link.py), which now run.
3. Write ``run/engine.pid``. Serve until one of:
   - ``@shutdown``: everyone is told, the front is asked to stop too (``Stop``);
   - SIGTERM or SIGINT: this engine stops; the front keeps every connection and waits
     for the next engine (the operator's, or the one it starts itself);
   - the front's link closes: nothing to serve; stop.
4. Stop: the checkpointer (waiting for a checkpoint in progress), the final checkpoint,
   the run record; remove the pid file.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path

from moo import paths
from moo.app import open_world
from moo.checkpoint.service import Checkpointer
from moo.config import Config
from moo.engine.link import FrontLink
from moo.errors import MooError, ProtocolError
from moo.net.listeners import Listener, bind_tcp
from moo.ops.metrics import Metrics
from moo.ops.metrics_http import MetricsEndpoint
from moo.persist.store import Store
from moo.server import Server

log = logging.getLogger(__name__)

FRONT_WAIT = 30.0


async def serve_engine(
    config: Config,
    out: Callable[[str], None] = print,
    *,
    front_socket: Path | None = None,
    force_recover: bool = False,
) -> int:
    """Steps 1 to 4. Returns the exit code."""
    data_lock, store, server, checkpointer = await open_world(config, out, force_recover)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, server.request_stop, "engine stop (signal)")
    link = FrontLink(server, lambda: store.journal.position)
    try:
        await _connect(link, front_socket or paths.front_socket(config.data_dir))
    except (OSError, ProtocolError) as error:
        await checkpointer.stop()
        await store.close(final_reason=None)
        raise MooError(f"cannot attach to the front: {error}") from None
    endpoint = None
    if config.metrics.enabled:
        endpoint = _serve_metrics(config, server, store, checkpointer, out)
    store.journal.before_write = link.before_journal_write
    store.journal.not_written = link.journal_write_failed
    pid_file = paths.engine_pid_file(config.data_dir)
    paths.write_pid(pid_file)
    server.start_housekeeping()
    final_reason = "shutdown"
    try:
        await server.wait_stop_requested()
    except BaseException:
        final_reason = "panic"
        log.exception("unexpected error: writing a panic checkpoint before exiting")
        raise
    finally:
        await checkpointer.stop()
        if server.stop_everything:
            link.stop_front(server.stop_message)
        store.journal.before_write = store.journal.not_written = None
        outcome = await store.close(final_reason=final_reason)
        if outcome is not None and not outcome.ok:
            log.error("the final checkpoint failed: %s (the journal has it all)", outcome.error)
        link.close()
        if endpoint is not None:
            endpoint.close()
        paths.remove_pid(pid_file)
        os.close(data_lock)
    return 0


def _serve_metrics(
    config: Config,
    server: Server,
    store: Store,
    checkpointer: Checkpointer,
    out: Callable[[str], None],
) -> Listener:
    """The Prometheus endpoint: the engine's, since the figures are the world's."""
    metrics = Metrics()
    metrics.watch(server, store, checkpointer, None)
    sock = bind_tcp(config.metrics.host, config.metrics.port)
    listener = Listener(
        asyncio.get_running_loop(), sock, "metrics", MetricsEndpoint(metrics.registry).accept
    )
    listener.start()
    out(f"metrics listening on {listener.address}")
    return listener


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

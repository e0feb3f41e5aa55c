"""A serving process, from "everything is listening" to its exit; shared by a cold start
(app.py) and a hot-upgrade replacement (upgrade/replacement.py).

1. Install the upgrader, the admin socket (``DATA_DIR/run/admin.sock``, 0600), SIGUSR2
   (hot upgrade; SIGTERM/SIGINT are ``handle_stop_signals``, installed earlier) and
   ``DATA_DIR/run/server.pid``; tell systemd (``READY=1``, or ``MAINPID=``). With
   metrics on, let them watch the server, store, checkpointer and upgrader.
2. Serve until a shutdown is asked for or a replacement has taken over.
3. Shutdown: stop the checkpointer (waiting for a checkpoint in progress), close every
   connection, stop the SSH gate, write the final checkpoint, end the run record.
4. Handed over: close this process's copies of everything without a word (the
   replacement holds its own), end the run record and ``os._exit``: no interpreter
   teardown, which would kill the child processes (the SSH gate, the replacement)
   whose asyncio transports it still holds.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from moo import paths
from moo.checkpoint.service import Checkpointer
from moo.config import Config
from moo.net.gate_process import Gate
from moo.ops import sd_notify
from moo.ops.metrics import Metrics
from moo.persist.store import Store
from moo.server import Server
from moo.upgrade import triggers
from moo.upgrade.admin import AdminServer, admin_socket_path
from moo.upgrade.handoff import Upgrader

log = logging.getLogger(__name__)


def handle_stop_signals(server: Server) -> None:
    """SIGTERM and SIGINT ask ``server`` for a clean shutdown (installed by a cold start
    before its first "listening" line, by a replacement before it serves)."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, server.request_shutdown, "signal", -1)


@dataclass
class Runtime:
    config: Config
    store: Store
    server: Server
    checkpointer: Checkpointer
    gate: Gate | None
    lock_fd: int
    program: list[str]
    serve_args: list[str]
    metrics: Metrics | None = None
    upgraded: bool = False  # this process is a hot upgrade's replacement
    # An engine behind a front (moo/engine/): its replacement runs ``moo engine``, its pid
    # is in run/engine.pid, and it tells the front as it leaves (handed over: True).
    subcommand: str = "serve"
    pid_file: Path | None = None  # None: run/server.pid (an engine: run/engine.pid)
    before_exit: Callable[[bool], None] | None = None


async def run(rt: Runtime, *, notify_state: str = "READY=1") -> int:
    """Steps 1 to 4. Returns the exit code (or never returns, after a handoff)."""
    loop = asyncio.get_running_loop()
    upgrader = Upgrader(
        rt.config,
        rt.server,
        rt.store,
        rt.checkpointer,
        program=rt.program,
        serve_args=rt.serve_args,
        lock_fd=rt.lock_fd,
        gate=rt.gate,
        subcommand=rt.subcommand,
    )
    rt.server.upgrader = upgrader
    if rt.upgraded:
        upgrader.results["ok"] = 1  # this process is that upgrade (moo/ops/metrics.py)
    if rt.metrics is not None:
        rt.metrics.watch(rt.server, rt.store, rt.checkpointer, upgrader)
    admin = AdminServer(
        admin_socket_path(rt.config.data_dir), functools.partial(triggers.admin_handler, upgrader)
    )
    await admin.start()
    loop.add_signal_handler(signal.SIGUSR2, triggers.signal_request, upgrader)
    paths.write_pid(_pid_file(rt))
    sd_notify.notify(notify_state)
    stop = loop.create_task(rt.server.wait_stop_requested())
    over = loop.create_task(upgrader.handed_over.wait())
    final_reason = "shutdown"
    try:
        await asyncio.wait({stop, over}, return_when=asyncio.FIRST_COMPLETED)
        if upgrader.handed_over.is_set():
            await _let_go(rt, upgrader, admin)
    except BaseException:
        final_reason = "panic"
        log.exception("unexpected error: writing a panic checkpoint before exiting")
        raise
    finally:
        stop.cancel()
        over.cancel()
        await _shut_down(rt, upgrader, admin, final_reason)
    return 0


async def _shut_down(rt: Runtime, upgrader: Upgrader, admin: AdminServer, reason: str) -> None:
    """Step 3 (or step 4, when a replacement took over while this was asked to stop)."""
    await upgrader.cancel()
    if upgrader.handed_over.is_set():
        await _let_go(rt, upgrader, admin)
    sd_notify.notify("STOPPING=1")
    await admin.close()
    await rt.checkpointer.stop()  # waits for a checkpoint in progress
    await rt.server.close_connections()
    if rt.gate is not None:
        await rt.gate.stop()
    if rt.before_exit is not None:
        rt.before_exit(False)
    outcome = await rt.store.close(final_reason=reason)
    if outcome is not None and not outcome.ok:
        log.error(
            "the final checkpoint failed: %s (the journal still holds every change)",
            outcome.error,
        )
    paths.remove_pid(_pid_file(rt))
    os.close(rt.lock_fd)


async def _let_go(rt: Runtime, upgrader: Upgrader, admin: AdminServer) -> None:
    """Step 4. Never returns."""
    if rt.before_exit is not None:
        rt.before_exit(True)  # an engine: its front attaches the replacement now
    await upgrader.wait()  # the requester has been told
    await asyncio.sleep(0.1)  # let the admin socket's last line leave
    rt.checkpointer.scheduler.shutdown(wait=False)
    await admin.close()
    try:
        await rt.store.close(final_reason=None)
    except Exception:  # the replacement serves: nothing here may stop it
        log.exception("closing the store after the handoff")
    os.close(rt.lock_fd)  # the replacement holds its own copy (level 3: released)
    log.info("handed over: this process (pid %d) exits", os.getpid())
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _pid_file(rt: Runtime) -> Path:
    return rt.pid_file or paths.server_pid_file(rt.config.data_dir)

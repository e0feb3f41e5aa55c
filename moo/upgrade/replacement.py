"""``moo serve ... --upgrade-fd N``: run as the replacement in a hot upgrade.

The steps are adopt.py's (load, HELLO, FREEZE, READY, GO); this module strings them
together and, after GO, hands the process to runtime.run like a cold start does.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moo import __version__, paths
from moo.accounts import Passwords
from moo.app import listener_handler, serve, start_checkpointer
from moo.config import Config
from moo.errors import ChannelClosed, MooError, ProtocolError
from moo.gc_control import adopting, precopying
from moo.net.gate_process import Gate
from moo.net.tls_keys import tls_context
from moo.ops.metrics import Metrics
from moo.persist import lock
from moo.persist.store import Store
from moo.persist.upgrade_records import UpgradeLog
from moo.protocol import upgrade as msg
from moo.runtime import Runtime, handle_stop_signals, run
from moo.server import Server
from moo.upgrade import adopt, protocol
from moo.upgrade import channel as ch
from moo.world.loader import sync_verbs

log = logging.getLogger(__name__)

GO_TIMEOUT = 60.0  # the old server answers READY at once; past this it is gone


async def serve_replacement(
    config: Config,
    out: Callable[[str], None],
    control_fd: int,
    serve_args: list[str],
    *,
    engine: bool = False,
    front_socket: Path | None = None,
) -> int:
    """``engine``: this replaces an engine behind a front (``moo engine --upgrade-fd N``):
    no sockets or sessions come over (the front holds them); after GO it attaches to the
    front (``front_socket``) as the old engine leaves."""
    front = _Front(front_socket) if engine else None
    control = ch.Channel(socket.socket(fileno=control_fd))
    try:
        loaded = await adopt.load(config)
        checks = adopt.self_checks(loaded.recovered.world)
    except (MooError, OSError) as error:
        await adopt.send_error(control, f"cannot load the world: {error}", before_hello=True)
        return 1
    await control.send_hello(protocol.hello(checks, loaded.load_seconds))
    log.info("loaded in %.1f s; waiting for the running server to freeze", loaded.load_seconds)
    server = adopt.new_server(config, loaded.recovered.world, Passwords(config.password_hash))
    prebuilt = adopt.Prebuilt(time.monotonic())
    try:
        message, fds = await control.receive()
        if isinstance(message, msg.Precopy):
            with precopying():  # nobody waits on the pre-copy: collect, then freeze
                prebuilt = await adopt.receive_precopy(control, server, message)
            await control.send(msg.Prebuilt(prebuilt.count))
            message, fds = await control.receive()
        received = adopt.receive_freeze(message, fds, loaded, config.data_dir)
    except ChannelClosed as error:
        log.info("the running server called the upgrade off (%s); exiting", error)
        loaded.records.close()
        return 1
    except (MooError, OSError, ValueError, KeyError, TypeError) as error:
        await adopt.send_error(control, f"cannot take the sessions over: {error!r}")
        loaded.records.close()
        return 1
    if not isinstance(received, adopt.Takeover):
        loaded.records.close()
        del loaded, server, prebuilt  # the cold start loads the world again: not two copies
        gc.unfreeze()
        gc.collect()
        return await _restart_cold(config, out, control, received, serve_args, front)
    takeover = received
    names = takeover.listener_fds
    metrics = Metrics() if "metrics" in names else None
    try:
        if "telnet-tls" in names:
            server.tls_context = tls_context(config)  # the files the old server used
        gate = adopt.take_listeners(
            server, takeover, lambda name: listener_handler(name, server, metrics)
        )
        with adopting():
            carried = await adopt.receive_changes(control, server, prebuilt)
    except (MooError, OSError, ValueError, KeyError, TypeError) as error:
        await adopt.send_error(control, f"cannot adopt the sessions: {error!r}")
        return 1
    await control.send(msg.Ready(carried))
    try:
        go, _fds = await asyncio.wait_for(control.receive(), GO_TIMEOUT)
    except (ChannelClosed, TimeoutError):
        log.info("the running server called the upgrade off after READY; exiting")
        return 1
    if not isinstance(go, msg.Go):
        log.error("expected GO, got %r; exiting", go.__struct_config__.tag)
        return 1
    return await _serve(
        config, control, loaded, takeover, server, gate, carried, go, metrics, front
    )


async def _serve(
    config: Config,
    control: ch.Channel,
    loaded: adopt.Loaded,
    takeover: adopt.Takeover,
    server: Server,
    gate: Gate | None,
    carried: int,
    go: msg.Go,
    metrics: Metrics | None,
    front: _Front | None,
) -> int:
    """After GO: this process is the server now (an engine: attached to the front)."""
    freeze = takeover.freeze
    store = Store.take_over(config.data_dir, config.persist, loaded.recovered, loaded.records)
    # SERVING commits the old server to exit; until it is sent nothing here has read a
    # socket or written the journal, so a failure above lets the old one carry on.
    await control.send(msg.Serving())
    control.close()
    store.alarms.append(server.alarm_wizards)
    before_exit = None
    if front is None:
        handle_stop_signals(server)
    else:
        from moo.engine.process import attach, handle_engine_signals

        handle_engine_signals(server)
        try:
            before_exit = await attach(config, server, store, front.socket)
        except MooError as error:
            log.error("%s: this engine stops (the front starts another)", error)
            await store.close(final_reason=None)
            return 1
    server.thaw()  # players first; the bookkeeping below does not hold them up
    level = freeze.level
    pause_ms = (time.monotonic() - go.frozen_at) * 1000  # a shared clock
    if front is None:
        text = protocol.summary(__version__, os.getpid(), level, carried, pause_ms)
    else:  # no socket moved: the front's connections stayed, now this engine's sessions
        text = protocol.front_summary(__version__, os.getpid(), len(server.sessions), pause_ms)
    log.info("%s", text)
    # Announced once the commands queued during the freeze have had their turn.
    announcing = asyncio.ensure_future(_announce(config, server, freeze, text))
    store.start_background()
    await store.record_run()
    try:
        added = sync_verbs(store.world)
        if added:
            log.info("bound %d verb(s) new in this version of the code", added)
    except MooError as error:  # checked before HELLO; serving matters more now
        log.error("could not bind this code's new verbs: %s", error)
    checkpointer = start_checkpointer(config, store, server)
    await _finish_record(store, freeze, level, pause_ms, carried if front is None else None)
    runtime = Runtime(
        config,
        store,
        server,
        checkpointer,
        gate,
        takeover.lock_fd,
        list(freeze.command),
        list(freeze.serve_args),
        metrics=metrics,
        upgraded=True,
        **({} if front is None else front.runtime_options(config, before_exit)),
    )
    try:
        return await run(runtime, notify_state=f"MAINPID={os.getpid()}\nREADY=1")
    finally:
        announcing.cancel()  # if it stops that soon


@dataclass(frozen=True)
class _Front:
    """This replacement is an engine: where its front listens."""

    socket: Path | None

    @staticmethod
    def runtime_options(
        config: Config, before_exit: Callable[[bool], None] | None
    ) -> dict[str, Any]:
        return {
            "subcommand": "engine",
            "pid_file": paths.engine_pid_file(config.data_dir),
            "before_exit": before_exit,
        }


async def _finish_record(
    store: Store, freeze: msg.Freeze, level: int, freeze_ms: float, carried: int | None
) -> None:
    """``carried``: None behind a front (no session moves; ``@hot-upgrade status`` then
    describes the engine's replacement, not a level)."""
    upgrade_id = freeze.upgrade_id
    if upgrade_id is None:
        return
    try:
        await store.records.call(
            UpgradeLog(store.records).finish_sync,
            upgrade_id,
            finished=time.time(),
            outcome="ok",
            level=level,
            freeze_ms=freeze_ms,
            sessions=carried,
            to_version=__version__,
            to_pid=os.getpid(),
        )
    except MooError as error:
        log.error("could not record the upgrade: %s", error)


async def _restart_cold(
    config: Config,
    out: Callable[[str], None],
    control: ch.Channel,
    restart: msg.Restart,
    serve_args: list[str],
    front: _Front | None,
) -> int:
    """Level 3: wait for the old server to exit (the channel closes), then start cold."""
    log.info("level 3: waiting for the running server to exit, then starting cold")
    try:
        while True:
            await control.receive()
    except ProtocolError:
        pass
    control.close()
    deadline = time.monotonic() + 30.0
    while lock.is_held(config.data_dir) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    program = list(restart.command)
    if front is not None:
        from moo.engine.process import serve_engine

        async def tell(server: Server) -> None:
            """Behind a front nobody was disconnected: say it went as a hot one does."""
            text = (
                f"Upgrade done: version {__version__} (pid {os.getpid()}) started cold "
                "behind the front after a final checkpoint; everyone stayed connected."
            )
            await _tell_how_it_went(config, server, restart.player, restart.requested_by, text)

        return await serve_engine(
            config,
            out,
            front_socket=front.socket,
            engine_args=serve_args,
            on_serving=tell,
            program=program,
        )
    return await serve(config, out, serve_args=serve_args, program=program)


async def _announce(config: Config, server: Server, freeze: msg.Freeze, text: str) -> None:
    """Players, wizards, the requester: how the upgrade went (after 50 ms)."""
    await _tell_how_it_went(config, server, freeze.player, freeze.requested_by, text)


async def _tell_how_it_went(
    config: Config, server: Server, player: int | None, requested_by: str, text: str
) -> None:
    await asyncio.sleep(0.05)
    await server.announce(config.upgrade.message_after.replace("{version}", __version__))
    for wizard in server.connected_wizards():
        if wizard != player:
            server.notify(wizard, f"*** {text} (asked by {requested_by}) ***")
    if player is not None:
        server.notify(player, text)

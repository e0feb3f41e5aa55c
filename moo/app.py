"""``moo serve``: the start-up and shutdown sequence.

1. Make the data directory (mode 0700) and its ``run/`` folder.
2. Recover the world (newest verified checkpoint + journal), or build it from
   ``core_db/`` on first start and write the initial checkpoint; bind any Python verbs
   the world does not know yet (journalled like any change).
3. Set the wizard's password: from ``--wizard-password`` / ``MOO_WIZARD_PASSWORD``,
   or, on first start only, a random one written to ``wizard-password.txt`` (0600).
4. Bind telnet, the web port (if asked for), the SSH port and the gate's Unix socket;
   start the SSH gate. Then, when configured, telnet over TLS (``tls_context``: the
   configured certificate, or a self-signed pair made in the data directory on first
   start) and the Prometheus metrics endpoint (moo/ops/).
5. Print one ``<name> listening on HOST:PORT`` line per listener (port 0 resolved).
6. Serve (moo/runtime.py) until ``@shutdown``, SIGTERM or SIGINT; then close
   connections, stop the gate, flush the journal and write a final checkpoint. An
   unexpected error escaping the server writes a "panic" checkpoint if it can. Or until
   a hot upgrade's replacement has taken over: then exit without a word.

With ``--upgrade-fd`` the process is a hot-upgrade replacement instead
(moo/upgrade/replacement.py).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from moo import paths
from moo.accounts import Passwords
from moo.checkpoint import timeparse
from moo.checkpoint.service import Checkpointer
from moo.config import Config
from moo.errors import MooError
from moo.gc_control import loading_world
from moo.net.gate_process import GateProcess
from moo.net.listeners import AcceptHandler, Listener, bind_tcp, bind_unix, describe
from moo.net.tls_keys import tls_context
from moo.net.web import WebListener
from moo.ops.metrics import Metrics
from moo.ops.metrics_http import MetricsEndpoint
from moo.persist import lock
from moo.persist.store import Store
from moo.persist.upgrade_records import UpgradeLog
from moo.runtime import Runtime, handle_stop_signals, run
from moo.server import Server
from moo.textdump.importer import import_world
from moo.textdump.reader import read_textdump
from moo.world.loader import DEFAULT_CORE_DIR, build_core_world, sync_verbs
from moo.world.model import Flag
from moo.world.world import World

log = logging.getLogger(__name__)

WIZARD_PASSWORD_FILE = "wizard-password.txt"
HOST_KEY_FILE = "ssh_host_ed25519_key"


def find_wizard(world: World) -> int:
    """LambdaCore's #2 when it is a wizard player, else the first wizard player."""
    first = world.objects.get(2)
    if first is not None and first.is_player and first.is_wizard:
        return 2
    for oid in sorted(world.player_ids()):
        if world.objects[oid].flags & Flag.WIZARD:
            return oid
    raise MooError("this world has no wizard player")


def prepare_data_dir(data_dir: Path) -> None:
    paths.prepare(data_dir)


def core_world_builder(config: Config) -> Callable[[], World]:
    """Builds the starting world (``core_db``) when a data directory has none: our core
    data files (a directory), or a LambdaMOO textdump (a file, such as LambdaCore's)."""
    core = config.core_db or DEFAULT_CORE_DIR
    if core.is_file():
        return functools.partial(textdump_world, core)
    return lambda: build_core_world(core)


def textdump_world(path: Path) -> World:
    """The world a LambdaMOO textdump holds (moo/textdump/importer.py). Raises MooError
    for a file that is no textdump, naming the line."""
    try:
        text = path.read_bytes().decode("latin-1")  # LambdaMOO's strings are bytes
        world, report = import_world(read_textdump(text))
    except OSError as error:
        raise MooError(f"core_db {path}: {error.strerror or error}") from None
    except ValueError as error:  # TextdumpError, or a parent or location loop
        raise MooError(f"core_db {path}: {error}") from None
    log.info(
        "imported %s: %d objects, %d verbs (%d with programs), %d recycled numbers",
        path.name,
        report.objects,
        report.verbs,
        report.programs,
        report.recycled,
    )
    for line in report.repaired + report.dropped:
        log.warning("import %s: %s", path.name, line)
    if report.forked_tasks or report.suspended_tasks:
        log.warning(
            "import %s: %d queued and %d suspended task(s) were not imported",
            path.name,
            report.forked_tasks,
            report.suspended_tasks,
        )
    return world


def open_store(config: Config, *, force_recover: bool = False) -> Store:
    """Recover the data directory's world (or build a new one). Raises CheckpointError."""
    store = Store.open(
        config.data_dir, config.persist, core_world_builder(config), force=force_recover
    )
    if not store.recovered.fresh:
        added = sync_verbs(store.world)
        if added:
            log.info("%d verb record(s) brought in line with this version of the code", added)
    return store


def start_checkpointer(config: Config, store: Store, server: Server) -> Checkpointer:
    """The $checkpointer: schedules from the world's own properties (see moo/checkpoint/)."""
    interval = int(config.persist.checkpoint_interval_seconds)
    checkpointer = Checkpointer(
        store.world,
        store,
        server,
        ZoneInfo(config.timezone),
        regular=interval > 0,
        interval=interval or 3600,
    )
    server.checkpointer = checkpointer
    checkpointer.start()
    return checkpointer


def set_wizard_password(
    world: World, config: Config, passwords: Passwords, fresh: bool, out: Callable[[str], None]
) -> None:
    wizard = find_wizard(world)
    password = config.wizard_password
    if password is None and fresh:
        password = secrets.token_urlsafe(12)
        path = config.data_dir / WIZARD_PASSWORD_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        out(
            f"wizard password: {password}  (connect {world.objects[wizard].name} <password>;"
            f" also saved in {path})"
        )
    if password is not None and not passwords.verify_now(
        str(world.prop(wizard, "password", "")), password
    ):
        world.set_prop(wizard, "password", passwords.hash_now(password))


async def open_world(
    config: Config, out: Callable[[str], None], force_recover: bool
) -> tuple[int, Store, Server, Checkpointer]:
    """Steps 1 to 3, and the world's server and $checkpointer (a cold start's and an
    engine's): the data directory's lock fd, the store, the server, the checkpointer.
    Raises MooError (the lock is held, the world cannot be recovered)."""
    prepare_data_dir(config.data_dir)
    data_lock = lock.acquire(config.data_dir)  # held until the process exits
    with loading_world():
        store = open_store(config, force_recover=force_recover)
    world = store.world
    passwords = Passwords(config.password_hash)
    set_wizard_password(world, config, passwords, store.recovered.fresh, out)
    store.start_background()
    if store.recovered.fresh:
        await store.checkpoint("initial", "server")
    await store.records.call(
        UpgradeLog(store.records).fail_interrupted_sync,
        "the server stopped before this upgrade finished",
    )
    server = Server(config, world, passwords)
    store.alarms.append(server.alarm_wizards)
    await asyncio.to_thread(timeparse.warm_up)  # dateparser's first parse costs ~200 ms
    return data_lock, store, server, start_checkpointer(config, store, server)


def default_program() -> list[str]:
    """The command line a plain ``@hot-upgrade`` runs: this interpreter with the code that
    is on disk now."""
    return [sys.executable, "-m", "moo"]


async def serve(
    config: Config,
    out: Callable[[str], None] = print,
    *,
    force_recover: bool = False,
    serve_args: list[str] | None = None,
    upgrade_fd: int | None = None,
    program: list[str] | None = None,
) -> int:
    """Run the server until it is told to stop. Returns the process exit code.

    ``upgrade_fd``: this process is a hot-upgrade replacement (upgrade/replacement.py).
    ``serve_args`` are this command's own arguments, given again to a replacement.
    """
    if upgrade_fd is not None:
        from moo.upgrade.replacement import serve_replacement

        return await serve_replacement(config, out, upgrade_fd, serve_args or [])
    data_lock, store, server, checkpointer = await open_world(config, out, force_recover)
    handle_stop_signals(server)  # before any "listening" line is printed
    metrics = Metrics() if config.metrics.enabled else None
    try:
        if config.telnet_tls.enabled:
            server.tls_context = tls_context(config)
        gate = await start_listeners(config, server, out, metrics)
    except (OSError, MooError) as error:
        await checkpointer.stop()
        await server.close_connections(timeout=0)
        await store.close(final_reason=None)
        if isinstance(error, MooError):
            raise
        raise MooError(f"cannot listen: {error.strerror or error}") from None
    server.start_housekeeping()
    runtime = Runtime(
        config,
        store,
        server,
        checkpointer,
        gate,
        data_lock,
        program or default_program(),
        serve_args or [],
        metrics=metrics,
    )
    return await run(runtime)


def listener_handler(name: str, server: Server, metrics: Metrics | None) -> AcceptHandler:
    """What a listener named ``name`` does with a new socket (a hot upgrade's replacement
    rebuilds its listeners by name)."""
    if name == "metrics":
        if metrics is None:
            raise MooError("a metrics listener without metrics")
        return MetricsEndpoint(metrics.registry).accept
    kind = "ssh" if name == "ssh-gate" else name  # telnet, telnet-tls
    return functools.partial(server.accept, kind=kind)


async def start_listeners(
    config: Config, server: Server, out: Callable[[str], None], metrics: Metrics | None = None
) -> GateProcess | None:
    """Bind telnet, the web port, the gate's Unix socket and the SSH port; start the gate;
    then telnet over TLS and the metrics endpoint when configured. Raises OSError."""
    loop = asyncio.get_running_loop()
    gate: GateProcess | None = None
    try:
        if config.telnet.enabled:
            sock = bind_tcp(config.telnet.host, config.telnet.port)
            telnet = Listener(loop, sock, "telnet", functools.partial(server.accept, kind="telnet"))
            server.add_listener(telnet)
            out(f"telnet listening on {telnet.address}")
        if config.web.enabled:
            web = WebListener(
                bind_tcp(config.web.host, config.web.port), "web", server, config.limits
            )
            server.add_listener(web)
            out(f"web listening on {web.address}")
        if config.ssh.enabled:
            gate_path = paths.gate_socket(config.data_dir)
            gate_listener = Listener(
                loop, bind_unix(gate_path), "ssh-gate", functools.partial(server.accept, kind="ssh")
            )
            server.add_listener(gate_listener)
            ssh_sock = bind_tcp(config.ssh.host, config.ssh.port)
            from moo.net.ssh_gate import ensure_host_key

            host_key = config.data_dir / HOST_KEY_FILE
            ensure_host_key(host_key)
            gate = GateProcess(ssh_sock, gate_path, host_key)
            ssh_address = describe(ssh_sock)
            await gate.start()
            ssh_sock.close()  # the gate holds its own copy
            out(f"ssh listening on {ssh_address}")
        for name, listen in (("telnet-tls", config.telnet_tls), ("metrics", config.metrics)):
            if listen.enabled:
                sock = bind_tcp(listen.host, listen.port)
                extra = Listener(loop, sock, name, listener_handler(name, server, metrics))
                server.add_listener(extra)
                out(f"{name} listening on {extra.address}")
    except OSError:
        if gate is not None:
            await gate.stop()
        raise
    return gate

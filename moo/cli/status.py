"""``moo status``: which processes run on a data directory, read from its ``run/`` files.

    front   pid 1234 (running)
            engine attached; 12 connection(s), 0 line(s) waiting, 0 answer group(s) held
    engine  pid 1240 (running; holds the world)
    server  -

A pid file whose process is gone is shown as ``(not running: stale pid file)``; the
world's lock (``run/server.lock``) says whether some process holds the world. An engine
attached over TCP (``engine_listen``) is named by its address, as the front's
``run/front.state`` has it, and its pid is its own machine's (never written to
``run/engine.pid`` here, where it may be another process):

    engine  remote at 10.0.0.2:41234 (pid 1240 on its machine, not this one)
    world   held by the engine at 10.0.0.2:41234, in its own data directory
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from moo import paths
from moo.net.gate_process import process_alive
from moo.persist import lock


def print_status(data_dir: Path, out: Callable[[str], None]) -> int:
    """Print one line per process; exit code 0 if something is running, else 1."""
    if not data_dir.is_dir():
        out(f"{data_dir}: no such data directory")
        return 1
    world_held = lock.is_held(data_dir)
    state: dict[str, object] | None = None
    running = False
    for name, path in (
        ("front", paths.front_pid_file(data_dir)),
        ("engine", paths.engine_pid_file(data_dir)),
        ("server", paths.server_pid_file(data_dir)),
    ):
        remote = _remote_address(state)
        if name == "engine" and remote is not None and state is not None:
            pid = state.get("engine_pid")
            out(f"engine  remote at {remote} (pid {pid} on its machine, not this one)")
            continue
        pid = paths.read_pid(path)
        if pid is None:
            out(f"{name:<7} -")
            continue
        if not process_alive(pid):
            out(f"{name:<7} pid {pid} (not running: stale pid file)")
            continue
        running = True
        holds = "; holds the world" if name != "front" and world_held else ""
        out(f"{name:<7} pid {pid} (running{holds})")
        if name == "front":
            state = paths.read_state(paths.front_state_file(data_dir))
            _front_state(state, out)
    remote = _remote_address(state)
    if remote is not None and not world_held:
        out(f"world   held by the engine at {remote}, in its own data directory")
    elif not world_held:
        out("world   not held by any process (stopped, or an engine is starting)")
    return 0 if running else 1


def _remote_address(state: dict[str, object] | None) -> str | None:
    """The attached engine's address if it came over TCP (a running front's state)."""
    address = state.get("engine_address") if state is not None else None
    return address if isinstance(address, str) else None


def _front_state(state: dict[str, object] | None, out: Callable[[str], None]) -> None:
    if state is None:
        return
    restarts = state.get("engine_restarts")
    out(
        f"        engine {state.get('engine')}; {state.get('connections')} connection(s), "
        f"{state.get('lines_waiting')} line(s) waiting, {state.get('answers_held')} answer "
        f"group(s) held" + (f"; engine restarts: {restarts}" if restarts is not None else "")
    )
    spare = state.get("spare_engine_pid")
    if spare is not None:
        out(f"        spare engine pid {spare} (ready to take over)")

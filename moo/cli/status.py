"""``moo status``: which processes run on a data directory, read from its ``run/`` files.

    front   pid 1234 (running)
            engine attached; 12 connection(s), 0 line(s) waiting, 0 answer group(s) held
    engine  pid 1240 (running; holds the world)
    server  -

A pid file whose process is gone is shown as ``(not running: stale pid file)``; the
world's lock (``run/server.lock``) says whether some process holds the world.
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
    running = False
    for name, path in (
        ("front", paths.front_pid_file(data_dir)),
        ("engine", paths.engine_pid_file(data_dir)),
        ("server", paths.server_pid_file(data_dir)),
    ):
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
            _front_state(paths.read_state(paths.front_state_file(data_dir)), out)
    if not world_held:
        out("world   not held by any process (stopped, or an engine is starting)")
    return 0 if running else 1


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

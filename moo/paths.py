"""Where things live in a data directory (one place, so every process agrees).

DATA_DIR/                     0700
  checkpoints/ journal/ moo.sqlite wizard-password.txt ssh_host_ed25519_key
  link-secret                 the front <-> engine link's shared secret over TCP (0600)
  run/                        sockets, pid files and locks of the running processes
    server.lock               held by the process that owns the world (server or engine)
    front.lock                held by the front
    front.sock                the front's socket; its engine connects here
    link-cert.pem link-key.pem  the TCP engine link's TLS pair, made at each front start
    gate.sock                 the SSH gate's socket (to the server, or to the front)
    admin.sock                hot-upgrade requests (moo upgrade)
    server.pid front.pid engine.pid   (engine.pid: an engine of this machine only; one
                              over TCP writes its own on its machine)
    front.state               how the front is, with a TCP engine's address (moo status)
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def run_dir(data_dir: Path) -> Path:
    return data_dir / "run"


def front_socket(data_dir: Path) -> Path:
    return run_dir(data_dir) / "front.sock"


def link_secret_file(data_dir: Path, configured: Path | None = None) -> Path:
    """The TCP engine link's shared secret: ``link.secret_file``, or DATA_DIR/link-secret."""
    return configured if configured is not None else data_dir / "link-secret"


def link_cert_files(data_dir: Path) -> tuple[Path, Path]:
    """The TLS certificate and key the front makes for its engine link at each start."""
    return run_dir(data_dir) / "link-cert.pem", run_dir(data_dir) / "link-key.pem"


def gate_socket(data_dir: Path) -> Path:
    return run_dir(data_dir) / "gate.sock"


def server_pid_file(data_dir: Path) -> Path:
    return run_dir(data_dir) / "server.pid"


def front_pid_file(data_dir: Path) -> Path:
    return run_dir(data_dir) / "front.pid"


def engine_pid_file(data_dir: Path) -> Path:
    return run_dir(data_dir) / "engine.pid"


def prepare(data_dir: Path) -> None:
    """Make the data directory (0700) and its ``run/``; new files are owner-only."""
    os.umask(0o077)  # checkpoints and records hold password hashes: owner-only files
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    run_dir(data_dir).mkdir(exist_ok=True, mode=0o700)


def front_state_file(data_dir: Path) -> Path:
    return run_dir(data_dir) / "front.state"


def write_state(path: Path, state: dict[str, object]) -> None:
    """Atomically write ``state`` as JSON to ``path``."""
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps(state, sort_keys=True) + "\n")
    os.replace(temp, path)


def read_state(path: Path) -> dict[str, object] | None:
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def write_pid(path: Path, pid: int | None = None) -> None:
    """Atomically write ``pid`` (this process's by default) to ``path`` (the front and
    the engine both write run/engine.pid: each through a temp file of its own)."""
    temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temp.write_text(f"{pid or os.getpid()}\n")
    os.replace(temp, path)


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def remove_pid(path: Path) -> None:
    """Remove ``path`` if it still names this process."""
    if read_pid(path) == os.getpid():
        path.unlink(missing_ok=True)

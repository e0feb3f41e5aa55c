"""One server per data directory: an advisory lock on ``DATA_DIR/run/server.lock``.

The server holds it while running (the kernel drops it when the process dies, even on
``kill -9``), so ``moo checkpoint restore`` can refuse to touch a live data directory
and a second ``moo serve`` on the same directory refuses to start.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from moo.errors import MooError

LOCK_NAME = "server.lock"


def lock_path(data_dir: Path, name: str = LOCK_NAME) -> Path:
    return data_dir / "run" / name


def acquire(data_dir: Path, name: str = LOCK_NAME, what: str = "server") -> int:
    """Take the lock; return its fd (keep it open). Raises MooError if a process holds it."""
    path = lock_path(data_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise MooError(f"another {what} is running on {data_dir} (lock {path} is held)") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def is_held(data_dir: Path) -> bool:
    """True when a running server holds the data directory's lock."""
    path = lock_path(data_dir)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False

"""Start and stop the SSH gate process (``moo.net.ssh_gate``) beside the world server.

The server binds the SSH port itself and passes that one socket to the gate
(``pass_fds``); nothing else is inherited. The gate reaches the world through
the Unix socket ``DATA_DIR/run/gate.sock``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class Gate(Protocol):
    """The SSH gate as the server sees it: started here, or adopted in a hot upgrade."""

    @property
    def pid(self) -> int | None: ...

    async def stop(self, timeout: float = 5.0) -> None: ...


class GateProcess:
    def __init__(self, listen_sock: socket.socket, world_socket: Path, host_key: Path) -> None:
        self.listen_sock = listen_sock
        self.world_socket = world_socket
        self.host_key = host_key
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def start(self) -> None:
        fd = self.listen_sock.fileno()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "moo.net.ssh_gate",
            "--listen-fd",
            str(fd),
            "--world-socket",
            str(self.world_socket),
            "--host-key",
            str(self.host_key),
            pass_fds=(fd,),
            stdin=asyncio.subprocess.DEVNULL,
        )
        log.info("ssh gate started (pid %d)", self.process.pid)

    async def stop(self, timeout: float = 5.0) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            log.warning("ssh gate did not stop within %.0f s; killing it", timeout)
            process.kill()
            await process.wait()


class AdoptedGate:
    """The gate a previous server started (a hot upgrade): it is not our child, so
    ``stop`` signals it and watches for it to go instead of waiting on it."""

    def __init__(self, pid: int) -> None:
        self.pid: int | None = pid

    async def stop(self, timeout: float = 5.0) -> None:
        if self.pid is not None:
            await stop_pid(self.pid, timeout)


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its new parent to reap it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


async def stop_pid(pid: int, timeout: float, what: str = "ssh gate") -> None:
    """SIGTERM ``pid`` (not necessarily our child: polled) and wait; SIGKILL past
    ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while process_alive(pid):
        if time.monotonic() > deadline:
            log.warning("%s (pid %d) did not stop within %.0f s; killing it", what, pid, timeout)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            return
        await asyncio.sleep(0.05)

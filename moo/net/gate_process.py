"""Start and stop the SSH gate process (``moo.net.ssh_gate``) beside the world server.

The server binds the SSH port itself and passes that one socket to the gate
(``pass_fds``); nothing else is inherited. The gate reaches the world through
the Unix socket ``DATA_DIR/run/gate.sock``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from pathlib import Path

log = logging.getLogger(__name__)


class GateProcess:
    def __init__(self, listen_sock: socket.socket, world_socket: Path, host_key: Path) -> None:
        self.listen_sock = listen_sock
        self.world_socket = world_socket
        self.host_key = host_key
        self.process: asyncio.subprocess.Process | None = None

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

"""Helpers for the hot-upgrade tests: a server tuned for them and the upgrade round trip."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
from pathlib import Path

from moo.net.telnet_client import TelnetClient
from tests.loopback.conftest import MARK
from tests.server_process import ServerProcess

PROGRAMS = Path(__file__).resolve().parents[1] / "upgrade_programs"
# What players are told (the defaults of upgrade.message_before / message_failed).
BEFORE = "*** The server is being upgraded: there may be a pause of a moment. ***"
CALLED_OFF = "*** The upgrade was called off; nothing changed. ***"

UPGRADE_CONFIG: dict[str, object] = {
    "upgrade": {
        "load_timeout_seconds": 15.0,
        "ready_timeout_seconds": 3.0,
        "busy_wait_seconds": 1.0,
    },
    "persist": {"checkpoint_interval_seconds": 0},
}


def program(name: str, *flags: str) -> str:
    """A ``to`` command line for one of tests/upgrade_programs/."""
    return " ".join([sys.executable, str(PROGRAMS / name), *flags])


def start(
    data_dir: Path,
    env: dict[str, str] | None = None,
    flags: tuple[str, ...] = (),
    **extra: dict[str, object],
) -> ServerProcess:
    """A server with UPGRADE_CONFIG; ``extra`` sections change only the keys they name."""
    config = {**UPGRADE_CONFIG}
    for section, changes in extra.items():
        base = config.get(section, {})
        config[section] = {**(base if isinstance(base, dict) else {}), **changes}
    return ServerProcess(data_dir, extra_config=config, env=env or {}, flags=flags).start()


async def upgrade(server: ServerProcess, wiz: TelnetClient, args: str = "") -> tuple[int, str]:
    """``@hot-upgrade ARGS`` as a wizard; waits for the replacement to serve.
    Returns (new pid, the wizard's "Upgrade done" line)."""
    old = server.pid
    assert old is not None
    wiz.send_line(f"@hot-upgrade {args}".strip())
    done = await wiz.expect(re.compile(r"^Upgrade done: version"), timeout=40)
    new = await asyncio.to_thread(server.wait_pid_change, old)
    return new, done


async def failed_upgrade(server: ServerProcess, wiz: TelnetClient, args: str) -> str:
    """``@hot-upgrade ARGS`` that must fail: the wizard's FAILED line (pid unchanged)."""
    old = server.pid
    wiz.send_line(f"@hot-upgrade {args}")
    line = await wiz.expect("Upgrade FAILED", timeout=40)
    assert server.pid == old and server.running
    return line


async def still_talking(clients: list[TelnetClient], text: str) -> None:
    """Every client is connected and its commands still answer."""
    results = await asyncio.gather(
        *(client.command(f"say {text} {i}", MARK, timeout=15) for i, client in enumerate(clients))
    )
    for i, lines in enumerate(results):
        assert lines == [f'You say, "{text} {i}"'], (i, lines)
    assert not any(client.closed for client in clients)


async def moo_upgrade(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``moo upgrade ARGS --data-dir DATA_DIR`` as a real subprocess (the admin socket)."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "moo", "upgrade", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def raw_client(port: int, rcvbuf: int = 4096) -> socket.socket:
    """A blocking socket with a small receive buffer (so output waits on the server)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    return sock


def read_all(sock: socket.socket, until: bytes, count: int, timeout: float = 30.0) -> bytes:
    """Read until ``until`` has been seen ``count`` times."""
    sock.settimeout(timeout)
    data = bytearray()
    while data.count(until) < count:
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        data += chunk
    return bytes(data)

"""A crowd logging in at once: checks are taken in turn, the waiting are told, all get in."""

from __future__ import annotations

import re
from pathlib import Path

from moo.net.telnet_client import TelnetClient
from tests.loopback.conftest import login, unique_name
from tests.server_process import ServerProcess

# Costly enough (~0.2 s a check here) that five logins at once must queue behind one thread.
ONE_AT_A_TIME = {
    "password_hash": {
        "time_cost": 3,
        "memory_cost_kib": 65536,
        "parallelism": 1,
        "max_concurrent": 1,
    }
}
QUEUED = re.compile(r"^Many players are logging in at once; .* \((\d+) ahead of you\)\.$")


async def test_simultaneous_logins_queue_and_all_succeed(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", extra_config=ONE_AT_A_TIME, ssh=False).start()
    try:
        names = [unique_name("crowd") for _ in range(5)]
        for name in names:
            await (await login(server.telnet_port, name, "crowd-pw")).close()
        clients = [await TelnetClient.connect("127.0.0.1", server.telnet_port) for _ in names]
        for client in clients:
            await client.expect("create <name> <password>")  # the welcome screen is up
        for client, name in zip(clients, names, strict=True):
            client.send_line(f"connect {name} crowd-pw")
        told = []
        for client in clients:
            line = await client.expect(re.compile(r"^(\*\*\* Connected as|Many players)"), 20)
            if line.startswith("Many players"):
                match = QUEUED.match(line)
                assert match, line
                told.append(int(match.group(1)))
                await client.expect(re.compile(r"^\*\*\* Connected as"), 20)
        assert told and all(ahead >= 1 for ahead in told), told
        for client in clients:
            await client.close()
    finally:
        server.stop()

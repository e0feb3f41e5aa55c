"""Hot upgrade: SSH players, levels 2 and 3, SIGUSR2 with systemd's notify socket, and
five upgrades in a row through ``moo upgrade`` while players keep typing.

Levels 2 and 3 are the single-process server's (``--single-process``): they say what
happens to the connections a replacement cannot take, and behind a front (the default)
no connection moves at all."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import time
from pathlib import Path

from moo.net.telnet_client import TelnetClient
from tests.loopback.conftest import MARK, login, player, unique_name, wizard
from tests.loopback.test_ssh import read_until, ssh_shell
from tests.loopback.upgrade_helpers import moo_upgrade, program, start, still_talking, upgrade

SINGLE = ("--single-process",)


async def test_ssh_players_stay_connected(tmp_path: Path) -> None:
    server = start(tmp_path / "data")
    try:
        name = unique_name("sshup")
        await (await login(server.telnet_port, name, "ssh-secret")).close()
        conn, process = await ssh_shell(server, name, "ssh-secret")
        await read_until(process, "The First Room")
        wiz = await wizard(server)
        await upgrade(server, wiz)
        await read_until(process, "*** Upgrade done: the server now runs version 0.1.0. ***")
        process.stdin.write("say over ssh after the upgrade\n")
        await read_until(process, 'You say, "over ssh after the upgrade"')
        # A new SSH login reaches the replacement through the same gate.
        conn2, process2 = await ssh_shell(server, name, "ssh-secret")
        await read_until(process2, "*** Redirected ***")
        conn2.close()
        conn.close()
        await wiz.close()
    finally:
        server.stop()


async def test_level_2_hands_over_listeners_and_closes_players_cleanly(tmp_path: Path) -> None:
    server = start(tmp_path / "data", flags=SINGLE)
    try:
        watcher, _ = await player(server)
        wiz = await wizard(server)
        old = server.pid
        assert old is not None
        wiz.send_line("@hot-upgrade to " + program("moo_variant.py", "--no-sessions"))
        await wiz.expect("level 2 (it cannot read session state version 1)", timeout=30)
        for client in (watcher, wiz):
            await client.expect("please reconnect in a few seconds", timeout=10)
            assert await client.wait_closed(10), "level 2 closes connected players"
        await asyncio.to_thread(server.wait_pid_change, old)
        # The same listening socket, now the replacement's: the world was saved first.
        again = await wizard(server)
        status = await again.command("@hot-upgrade status", MARK, timeout=10)
        assert any(re.search(r"ok .*moo_variant.py --no-sessions \(level 2", r) for r in status)
        await again.close()
    finally:
        server.stop()


async def test_level_3_restarts_cold_after_a_final_checkpoint(tmp_path: Path) -> None:
    server = start(tmp_path / "data", flags=SINGLE)
    try:
        wiz = await wizard(server)
        await wiz.command("@create $thing named marker stone", MARK)
        old = server.pid
        assert old is not None
        wiz.send_line("@hot-upgrade to " + program("moo_variant.py", "--restart-only"))
        await wiz.expect("level 3", timeout=30)
        assert await wiz.wait_closed(10)
        await asyncio.to_thread(server.wait_pid_change, old)
        # Port 0 in the tests: the cold start binds a new one and says so.
        deadline = time.monotonic() + 30
        port = None
        while port is None and time.monotonic() < deadline:
            lines = [x for x in server.output if x.startswith("telnet listening on ")]
            if len(lines) >= 2:
                port = int(lines[-1].strip().rsplit(":", 1)[1])
            await asyncio.sleep(0.05)
        assert port is not None, server.output
        server.telnet_port = port
        again = await wizard(server)
        assert (await again.command("look marker stone", MARK))[0] == "marker stone"
        await again.close()
    finally:
        server.stop()


async def test_sigusr2_to_the_front_upgrades_the_engine_and_systemd_sees_only_the_front(
    tmp_path: Path,
) -> None:
    """``systemctl reload`` signals the unit's main process, the front: it passes SIGUSR2
    on to the engine. The front says READY=1 and STOPPING=1; the engines, started
    without NOTIFY_SOCKET, say nothing (no MAINPID: the front stays the main process)."""
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify_path = tmp_path / "notify.sock"
    notify.bind(str(notify_path))
    notify.settimeout(30)
    server = start(tmp_path / "data", env={"NOTIFY_SOCKET": str(notify_path)})
    try:
        assert notify.recv(4096) == b"READY=1"
        client, _ = await player(server)
        old, front = server.pid, server.front_pid
        assert old is not None and front is not None
        os.kill(front, signal.SIGUSR2)
        new = await asyncio.to_thread(server.wait_pid_change, old)
        assert new != front and server.running
        await still_talking([client], "after SIGUSR2")
        await client.close()
        assert server.stop() == 0
        assert notify.recv(4096) == b"STOPPING=1"  # the next message: no engine spoke
    finally:
        server.stop()
        notify.close()


async def test_sigusr2_upgrades_a_single_process_server_and_tells_systemd(
    tmp_path: Path,
) -> None:
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify_path = tmp_path / "notify.sock"
    notify.bind(str(notify_path))
    notify.settimeout(30)
    server = start(tmp_path / "data", env={"NOTIFY_SOCKET": str(notify_path)}, flags=SINGLE)
    try:
        assert notify.recv(4096) == b"READY=1"
        client, _ = await player(server)
        old = server.pid
        assert old is not None
        os.kill(old, signal.SIGUSR2)
        new = await asyncio.to_thread(server.wait_pid_change, old)
        # The old server names its successor before it exits; the successor says READY.
        messages = {notify.recv(4096), notify.recv(4096)}
        assert messages == {f"MAINPID={new}".encode(), f"MAINPID={new}\nREADY=1".encode()}
        await still_talking([client], "after SIGUSR2")
        await client.close()
        server.stop()
        assert notify.recv(4096) == b"STOPPING=1"
    finally:
        server.stop()
        notify.close()


async def keep_typing(client: TelnetClient, index: int, stop: asyncio.Event) -> int:
    """Say numbered lines until ``stop``; every reply must come back, in order."""
    sent = 0
    while not stop.is_set():
        lines = await client.command(f"say c{index} n{sent}", MARK, timeout=20)
        assert lines == [f'You say, "c{index} n{sent}"'], lines
        sent += 1
    return sent


async def test_five_upgrades_in_a_row_under_load(tmp_path: Path) -> None:
    server = start(tmp_path / "data")
    try:
        clients = [(await player(server))[0] for _ in range(20)]
        stop = asyncio.Event()
        typing = [asyncio.create_task(keep_typing(c, i, stop)) for i, c in enumerate(clients)]
        pids = [server.pid]
        for _ in range(5):
            done = await moo_upgrade(server.data_dir)
            assert done.returncode == 0, (done.stdout, done.stderr)
            assert "Upgrade done: version 0.1.0" in done.stdout, done.stdout
            old = pids[-1]
            assert old is not None
            pids.append(await asyncio.to_thread(server.wait_pid_change, old))
            await asyncio.sleep(0.3)
        stop.set()
        counts = await asyncio.gather(*typing)
        assert len(set(pids)) == 6
        assert min(counts) > 5, counts
        assert not any(client.closed for client in clients)
        for client in clients:
            await client.close()
    finally:
        server.stop()


async def test_in_game_command_lines_can_be_turned_off(tmp_path: Path) -> None:
    server = start(
        tmp_path / "data",
        upgrade={"allow_in_game_command_lines": False},
    )
    try:
        wiz = await wizard(server)
        old = server.pid
        lines = await wiz.command("@hot-upgrade to " + program("moo_variant.py"), MARK)
        assert lines[0].startswith("Upgrading to another program is not allowed"), lines
        assert server.pid == old
        other, name = await player(server)  # a second wizard hears about an upgrade too
        await wiz.command(f"@make-wizard {name}", MARK)
        await upgrade(server, wiz)
        await other.expect(
            re.compile(r"^\*\*\* Upgrade done: .* \(asked by Wizard \(#2\)\) \*\*\*$")
        )
        await wiz.close()
        await other.close()
    finally:
        server.stop()

"""The front holds every connection while the engine behind it crashes and restarts.

Each test starts ``moo serve`` (by default a front process that starts the engine) and
kills the engine with SIGKILL, found through ``run/engine.pid`` as an operator would.
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from moo import paths
from moo.front.hub import RESTARTING
from moo.net.gate_process import process_alive
from moo.net.telnet_client import TelnetClient
from tests.loopback.conftest import BEGIN, MARK, login, player, unique_name, wizard
from tests.loopback.test_ssh import read_until, ssh_shell
from tests.loopback.web_helpers import WebClient
from tests.server_process import WIZARD_PASSWORD, ServerProcess


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("front") / "data").start()
    yield proc
    proc.stop()


def engine_pid(server: ServerProcess, timeout: float = 10.0) -> int:
    """The engine run/engine.pid names (waiting for one that lives: it may be restarting)."""
    deadline = time.monotonic() + timeout
    while True:
        pid = paths.read_pid(paths.engine_pid_file(server.data_dir))
        if (pid is not None and process_alive(pid)) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert pid is not None and process_alive(pid)
    return pid


def kill_engine(server: ServerProcess) -> int:
    """SIGKILL the engine; return its pid once it is gone."""
    pid = engine_pid(server)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return pid


async def new_engine(server: ServerProcess, old: int, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = paths.read_pid(paths.engine_pid_file(server.data_dir))
        if pid is not None and pid != old and process_alive(pid):
            return pid
        await asyncio.sleep(0.05)
    raise AssertionError("no new engine attached")


async def test_a_line_typed_while_the_engine_is_down_is_answered_after_it_restarts(
    front: ServerProcess,
) -> None:
    alice = await wizard(front)
    bob, b = await player(front, "bob")
    relic = unique_name("relic")
    made = await alice.command(f"@create $thing named {relic}", MARK, begin=BEGIN)
    assert made[0].startswith(f"You now have {relic}"), made
    old = kill_engine(front)
    inventory = await alice.command("inventory", MARK, begin=BEGIN, timeout=30)
    assert any(relic in line for line in inventory), inventory  # acknowledged before the kill
    await bob.expect(RESTARTING, timeout=10)  # told once, connection kept
    said = await bob.command("say still here", MARK, begin=BEGIN, timeout=30)
    assert said == ['You say, "still here"']
    await alice.expect(f'{b} says, "still here"')
    assert await new_engine(front, old) != old
    for client in (alice, bob):
        await client.close()


async def test_a_player_at_the_password_prompt_stays_at_it(front: ServerProcess) -> None:
    client = await TelnetClient.connect("127.0.0.1", front.telnet_port)
    await client.expect("create <name> <password>")
    client.send_line("connect Wizard")
    await client.expect("Password:")
    kill_engine(front)
    client.send_line(WIZARD_PASSWORD)
    await client.expect("*** Connected as Wizard ***", timeout=30)
    await client.close()


async def test_an_ssh_player_stays_connected_through_an_engine_crash(
    front: ServerProcess,
) -> None:
    name = unique_name("sshfront")
    await (await player_named(front, name)).close()
    conn, process = await ssh_shell(front, name, "secret")
    assert "*** Connected as" in await read_until(process, "Exits:")
    kill_engine(front)
    process.stdin.write("say over ssh\r\n")
    await read_until(process, 'You say, "over ssh"', timeout=30)
    process.stdin.write("say again\r\n")
    await read_until(process, 'You say, "again"', timeout=10)
    conn.close()


async def player_named(server: ServerProcess, name: str) -> TelnetClient:
    return await login(server.telnet_port, name, "secret")


async def test_every_line_is_answered_exactly_once_across_an_engine_kill(
    front: ServerProcess,
) -> None:
    """200 numbered lines in one write, half of them changes; the engine is killed once
    some are answered. Every line is answered exactly once, every change made once."""
    client = await wizard(front)
    tag = unique_name("n")
    lines = []
    for number in range(200):
        if number % 2:
            lines.append(f"@create $thing named {tag}-{number}")
        else:
            lines.append(f"say {tag}-{number}")
    client.send_raw("".join(f"{line}\r\n" for line in lines).encode())
    answers: list[list[str]] = []
    killed = False
    current: list[str] | None = None
    while len(answers) < len(lines):
        line = await client.read_line(30)
        assert line is not None, f"only {len(answers)} answers came"
        if line == BEGIN:
            current = []
        elif line == MARK and current is not None:
            answers.append(current)
            current = None
            if len(answers) == 20 and not killed:
                kill_engine(front)
                killed = True
        elif current is not None:
            current.append(line)
    for number, answer in enumerate(answers):
        if number % 2:
            assert any(f"{tag}-{number}" in text for text in answer), (number, answer)
        else:
            assert answer == [f'You say, "{tag}-{number}"'], (number, answer)
    inventory = await client.command("inventory", MARK, begin=BEGIN, timeout=30)
    have = [line.strip() for line in inventory if line.strip().startswith(f"{tag}-")]
    assert sorted(have) == sorted(f"{tag}-{n}" for n in range(1, 200, 2))
    await client.close()


async def test_status_names_the_front_and_the_engine(front: ServerProcess) -> None:
    deadline = time.monotonic() + 20  # an earlier test's kill: the engine may be restarting
    while True:
        result = subprocess.run(
            [sys.executable, "-m", "moo", "status", "--data-dir", str(front.data_dir)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        if re.search(r"^ +engine attached", result.stdout, re.M) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    front_pid = paths.read_pid(paths.front_pid_file(front.data_dir))
    assert front.process is not None and front_pid == front.process.pid
    assert re.search(rf"^front +pid {front_pid} \(running\)$", result.stdout, re.M)
    pid = engine_pid(front)
    assert re.search(rf"^engine +pid {pid} \(running; holds the world\)$", result.stdout, re.M)
    state = re.search(r"^ +engine attached; (\d+) connection\(s\)", result.stdout, re.M)
    assert state is not None, result.stdout
    assert "engine restarts:" in result.stdout


async def test_shutdown_stops_the_engine_and_the_front(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", ssh=False).start()
    engine = engine_pid(server)
    wiz = await wizard(server)
    other, _ = await player(server)
    wiz.send_line("@shutdown for the test")
    await other.expect(re.compile(r"^\*\*\* Shutdown requested by Wizard: for the test"))
    assert await other.wait_closed(10)
    await wiz.close()
    await other.close()
    assert server.process is not None
    assert server.process.wait(30) == 0
    assert not process_alive(engine)
    assert paths.read_pid(paths.front_pid_file(server.data_dir)) is None
    server.stop()


async def test_sigterm_to_the_front_tells_players_it_shuts_down_not_that_it_restarts(
    tmp_path: Path,
) -> None:
    """The engine's link closes as part of the stop: no restart notice, no warning."""
    server = ServerProcess(tmp_path / "data", ssh=False).start()
    other, _ = await player(server)
    assert server.process is not None
    server.process.send_signal(signal.SIGTERM)
    await other.expect("*** The server is shutting down ***", timeout=10)
    assert await other.wait_closed(30)
    assert server.process.wait(30) == 0
    assert not any(RESTARTING in line for line in other.lines)
    log = "".join(server.stderr_lines)
    assert "the front is stopping" in log and "connections stay open" not in log, log[-2000:]
    await other.close()
    server.stop()


async def test_an_engine_that_cannot_start_stops_the_front_with_its_error(tmp_path: Path) -> None:
    """The world is held by another server: the front says why and exits, not loops."""
    data = tmp_path / "data"
    classic = ServerProcess(data, ssh=False, flags=("--single-process",)).start()
    try:
        with pytest.raises(RuntimeError, match="another server is running"):
            ServerProcess(data, ssh=False).start()
    finally:
        classic.stop()


async def said_in_order(client: TelnetClient, tag: str, count: int) -> list[str]:
    """Read until ``say TAG-0`` .. ``TAG-(count-1)`` are all answered; every line seen."""
    seen: list[str] = []
    answered = 0
    while answered < count:
        line = await client.read_line(60)
        assert line is not None, f"{answered} of {count} answered; saw {seen[-10:]}"
        seen.append(line)
        if line.startswith(f'You say, "{tag}-'):
            assert line == f'You say, "{tag}-{answered}"', (answered, line)  # once, in order
            answered += 1
    return seen


async def test_a_hot_upgrade_behind_a_front_replaces_the_engine_and_nobody_notices(
    front: ServerProcess,
) -> None:
    """The replacement engine loads while the old one serves, takes the journal over at
    the freeze and attaches as the old one leaves: no restart notice, no line lost or run
    twice. It is not the front's child, yet when it dies the front starts another."""
    wiz = await wizard(front)
    bob, _ = await player(front, "bob")
    old = engine_pid(front)
    wiz.send_line("@hot-upgrade")
    tag = unique_name("up")
    bob.send_raw("".join(f"say {tag}-{i}\r\n" for i in range(40)).encode())
    await wiz.expect(re.compile(r"^\*\*\* Upgrade done"), timeout=60)
    seen = await said_in_order(bob, tag, 40)
    assert RESTARTING not in seen
    new = await new_engine(front, old)
    deadline = time.monotonic() + 10
    while process_alive(old) and time.monotonic() < deadline:  # it hands over, then exits
        await asyncio.sleep(0.05)
    assert not process_alive(old)
    status = await wiz.command("@hot-upgrade status", MARK, begin=BEGIN, timeout=20)
    assert status[0].startswith("Running version") and f"(pid {new})" in status[0], status
    kill_engine(front)  # the replacement: only its link tells the front it is gone
    said = await bob.command("say after the upgrade", MARK, begin=BEGIN, timeout=30)
    assert said == ['You say, "after the upgrade"']
    assert await new_engine(front, new) != new
    for client in (wiz, bob):
        await client.close()


async def test_a_failing_engine_replacement_leaves_the_old_engine_serving(
    front: ServerProcess,
) -> None:
    from tests.loopback.upgrade_helpers import program

    wiz = await wizard(front)
    bob, _ = await player(front, "bob")
    old = engine_pid(front)
    wiz.send_line("@hot-upgrade to " + program("crash_on_import.py"))
    await wiz.expect(re.compile(r"Upgrade FAILED.*exited with status 1 before HELLO"), timeout=60)
    assert await bob.command("say still here", MARK, begin=BEGIN) == ['You say, "still here"']
    assert engine_pid(front) == old
    for client in (wiz, bob):
        await client.close()


async def test_stopping_the_front_after_an_upgrade_stops_the_replacement_too(
    tmp_path: Path,
) -> None:
    server = ServerProcess(tmp_path / "data", ssh=False).start()
    try:
        wiz = await wizard(server)
        old = engine_pid(server)
        wiz.send_line("@hot-upgrade")
        await wiz.expect(re.compile(r"^\*\*\* Upgrade done"), timeout=60)
        new = await new_engine(server, old)
        await wiz.close()
    finally:
        server.stop()
    deadline = time.monotonic() + 10
    while process_alive(new) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not process_alive(new)


async def test_a_full_disk_behind_a_front_refuses_changes_and_holds_nothing_back(
    tmp_path: Path,
) -> None:
    """The engine's journal write fails: the command that hit it is answered (with the
    refusal after it), later commands are answered at once (refused), and once the space
    returns changes are taken again and survive an engine kill."""
    from tests.loopback.test_faults import full_disk_server

    data = tmp_path / "data"
    server = await full_disk_server(data)
    try:
        wiz = await wizard(server)
        created = await wiz.command("@create $thing named gauge", MARK, begin=BEGIN)
        oid = int(re.search(r"\(#(\d+)\)", created[0]).group(1))  # type: ignore[union-attr]
        acked = 0
        text = "x" * 3000
        for step in range(1, 400):
            reply = await wiz.command(f"@describe #{oid} as {step} {text}", MARK, begin=BEGIN)
            if not any("Server alarm" in line for line in reply):
                assert reply == [f"Description of gauge (#{oid}) set."], reply
                acked = step
                continue
            assert not any(line.endswith(" set.") for line in reply), reply  # taken back
            assert reply[-1].startswith("journal write failed"), reply
            break
        assert acked > 0
        refused = await wiz.command(f"@describe #{oid} as refused", MARK, begin=BEGIN, timeout=5)
        assert refused[0].startswith("The world cannot be saved right now"), refused
        unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
        resource.prlimit(engine_pid(server), resource.RLIMIT_FSIZE, unlimited)
        await wiz.expect("the world is saved again", timeout=10)
        done = await wiz.command(f"@describe #{oid} as after {acked}", MARK, begin=BEGIN)
        assert done == [f"Description of gauge (#{oid}) set."]
        old = kill_engine(server)
        looked = await wiz.command(f"look #{oid}", MARK, begin=BEGIN, timeout=30)
        assert looked[1] == f"after {acked}", looked[:2]
        assert await new_engine(server, old) != old
        await wiz.close()
    finally:
        server.stop()


async def test_tls_players_stay_connected_and_the_engine_serves_the_metrics(
    tmp_path: Path,
) -> None:
    """Behind a front, telnet over TLS ends in the front, so a TLS player keeps the
    session through an engine crash and an upgrade (a single-process server's upgrade has
    to close it); the engine serves the metrics and counts the front's sessions by
    transport."""
    from tests.loopback.metrics_helpers import scrape, sessions
    from tests.loopback.test_telnet_tls import client_context

    server = ServerProcess(
        tmp_path / "data",
        ssh=False,
        listen={"telnet-tls": "127.0.0.1:0", "metrics": "127.0.0.1:0"},
    ).start()
    try:
        context = client_context(server.data_dir)
        tls = await login(server.ports["telnet-tls"], "secure", "secret", tls=context)
        plain, _ = await player(server, "plain")
        samples = await scrape(server.ports["metrics"])
        assert sessions(samples, "telnet-tls", "logged_in") == 1
        assert sessions(samples, "telnet", "logged_in") == 1
        kill_engine(server)
        said = await tls.command("say through the crash", MARK, begin=BEGIN, timeout=30)
        assert said == ['You say, "through the crash"']
        await plain.expect('secure says, "through the crash"')
        wiz = await wizard(server)  # an upgrade replaces the engine: the TLS player stays
        wiz.send_line("@hot-upgrade")
        await wiz.expect(re.compile(r"^\*\*\* Upgrade done"), timeout=60)
        said = await tls.command("say through the upgrade", MARK, begin=BEGIN, timeout=30)
        assert said == ['You say, "through the upgrade"']
        assert not tls.closed
        for client in (tls, plain, wiz):
            await client.close()
    finally:
        server.stop()


async def test_browsers_stay_connected_through_an_engine_crash_and_an_upgrade(
    tmp_path: Path,
) -> None:
    """The front serves the web client: a browser's session is a connection like a telnet
    one, told once that the world restarts, its line typed meanwhile answered after; an
    engine upgrade leaves it open and unaware (no close, no restart notice)."""
    server = ServerProcess(tmp_path / "data", ssh=False, web=True).start()
    try:
        web = await WebClient.connect(server.web_port)
        await web.expect("connect <name> <password>")
        await web.send_line("create webfront secret")
        await web.expect("*** Connected as webfront ***")
        telnet, name = await player(server, "tel")
        await web.expect(f"{name} has connected.")
        old = kill_engine(server)
        await web.expect(RESTARTING, timeout=10)
        await web.send_line("say typed while the world was down")
        await web.expect('You say, "typed while the world was down"', timeout=30)
        await telnet.expect('webfront says, "typed while the world was down"', timeout=30)
        engine = await new_engine(server, old)

        wiz = await wizard(server)
        wiz.send_line("@hot-upgrade")
        await wiz.expect(re.compile(r"^\*\*\* Upgrade done"), timeout=60)
        await new_engine(server, engine)
        await web.send_line("say after the upgrade")
        await telnet.expect('webfront says, "after the upgrade"', timeout=30)
        await web.expect('You say, "after the upgrade"')
        assert not web.closed
        assert sum(RESTARTING in line for line in web.lines) == 1  # the crash, not the upgrade
        await web.send_line("@quit")
        assert await web.wait_closed() == (1000, "quit")
        await telnet.expect("webfront has disconnected.")
        for client in (telnet, wiz):
            await client.close()
    finally:
        server.stop()

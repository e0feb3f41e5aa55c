"""Hot upgrades that fail leave the running server serving with nobody disconnected; a
second request is refused while one runs; rollback returns to the previous program."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from moo.net.telnet_client import TelnetClient
from tests.loopback.conftest import MARK, player, wizard
from tests.loopback.upgrade_helpers import (
    BEFORE,
    CALLED_OFF,
    failed_upgrade,
    moo_upgrade,
    program,
    start,
    still_talking,
    upgrade,
)
from tests.server_process import ServerProcess
from tests.waits import until

LOAD_TIMEOUT = 6.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start(
        tmp_path_factory.mktemp("upgrade") / "data",
        upgrade={"load_timeout_seconds": LOAD_TIMEOUT},
    )
    yield proc
    proc.stop()


async def players(server: ServerProcess, count: int = 3) -> list[TelnetClient]:
    return [(await player(server))[0] for _ in range(count)]


FAILURES = [
    ("crash_on_import.py", (), r"exited with status 1 before HELLO"),
    ("speaks_garbage.py", (), r"broke the protocol: bad HELLO: JSON is malformed"),
    (
        "moo_variant.py",
        ("--protocol", "2"),
        r"broke the protocol: it speaks handoff protocol 2; this server speaks 3",
    ),
    ("moo_variant.py", ("--load-fails",), r"cannot load the world: .*checksum mismatch"),
    (
        "moo_variant.py",
        ("--reads-checkpoint", "2"),
        r"cannot read this world's checkpoint format \(version 1\)",
    ),
    ("never_says_hello.py", (), rf"did not send HELLO within {LOAD_TIMEOUT:.0f} s"),
    ("hangs_after_freeze.py", ("--no-prebuilt",), r"did not send PREBUILT within 3 s"),
    ("hangs_after_freeze.py", (), r"did not send READY within 3 s"),
    ("hangs_after_freeze.py", ("--ready-then-exit",), r"exited with status 3 before SERVING"),
]


@pytest.mark.parametrize(("name", "flags", "reason"), FAILURES)
async def test_a_failing_replacement_leaves_everyone_connected(
    server: ServerProcess, name: str, flags: tuple[str, ...], reason: str
) -> None:
    clients = await players(server)
    wiz = await wizard(server)
    clients[0].send_line("say typed while it loads")
    line = await failed_upgrade(server, wiz, "to " + program(name, *flags))
    assert re.search(reason, line), line
    assert "This server (version 0.1.0) carries on." in line
    await clients[0].expect('You say, "typed while it loads"')
    await clients[1].expect(BEFORE)  # as the replacement started
    await clients[1].expect(CALLED_OFF)
    await still_talking(clients, "still here")
    status = await wiz.command("@hot-upgrade status", MARK, timeout=10)
    assert any(re.search(rf"failed .*{re.escape(name)}", row) for row in status), status
    for client in [*clients, wiz]:
        await client.close()


async def test_a_failure_after_the_freeze_tells_players_and_loses_no_line(
    server: ServerProcess,
) -> None:
    clients = await players(server)
    wiz = await wizard(server)
    wiz.send_line("@hot-upgrade to " + program("hangs_after_freeze.py"))
    await wiz.expect("it takes the world over at the freeze", timeout=20)  # behind a front
    # The pre-copy is done and the replacement hangs for 3 s right after the freeze.
    await until(lambda: any("pre-copied" in line for line in server.stderr_lines), "the pre-copy")
    await asyncio.sleep(0.2)
    clients[1].send_line("say typed during the freeze")  # read only after the thaw
    await wiz.expect("Upgrade FAILED", timeout=20)
    for client in clients:
        await client.expect(CALLED_OFF)
    await clients[1].expect('You say, "typed during the freeze"')
    await still_talking(clients, "after the thaw")
    for client in [*clients, wiz]:
        await client.close()


async def test_a_second_request_is_refused_while_one_runs(server: ServerProcess) -> None:
    wiz = await wizard(server)
    wiz.send_line("@hot-upgrade to " + program("never_says_hello.py"))
    await wiz.expect("it is loading")
    lines = await wiz.command("@hot-upgrade", MARK)
    lines += [await wiz.read_line() or ""]
    assert any("An upgrade is already in progress (asked by Wizard (#2)" in x for x in lines)
    cli = await moo_upgrade(server.data_dir)
    assert cli.returncode == 1, cli
    assert "already in progress" in cli.stdout
    await wiz.expect("Upgrade FAILED", timeout=20)
    await wiz.close()


async def test_usage_errors_and_a_missing_program(server: ServerProcess) -> None:
    wiz = await wizard(server)
    assert await wiz.command("@hot-upgrade sideways", MARK) == [
        "Usage: @hot-upgrade [to <command line> | rollback | status]"
    ]
    assert await wiz.command('@hot-upgrade to "unclosed', MARK) == [
        "That command line does not parse: No closing quotation."
    ]
    line = await failed_upgrade(server, wiz, "to /nonexistent/release/bin/moo")
    assert "cannot run /nonexistent/release/bin/moo: No such file or directory" in line
    await wiz.close()


async def test_rollback_returns_to_the_previous_program(server: ServerProcess) -> None:
    clients = await players(server, 2)
    wiz = await wizard(server)
    release = program("moo_variant.py", "--version", "9.9.9")
    _pid, done = await upgrade(server, wiz, "to " + release)
    assert "version 9.9.9" in done
    for client in clients:
        await client.expect("*** Upgrade done: the server now runs version 9.9.9. ***")
    status = await wiz.command("@hot-upgrade status", MARK, timeout=10)
    assert status[0].startswith("Running version 9.9.9"), status
    assert any("Rollback would run:" in row and "-m moo" in row for row in status), status
    _pid, done = await upgrade(server, wiz, "rollback")
    assert "version 0.1.0" in done
    status = await wiz.command("@hot-upgrade status", MARK, timeout=10)
    assert status[0].startswith("Running version 0.1.0") and status[0].endswith("-m moo"), status
    await still_talking(clients, "after rollback")
    for client in [*clients, wiz]:
        await client.close()


async def test_upgrade_cli_status_reaches_the_server(server: ServerProcess) -> None:
    done = await moo_upgrade(server.data_dir, "--status")
    assert done.returncode == 0, done
    assert done.stdout.startswith("Running version"), done.stdout
    assert Path(server.data_dir / "run" / "admin.sock").stat().st_mode & 0o777 == 0o600

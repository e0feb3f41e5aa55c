"""Queued MOO tasks are world data, over real telnet: a fork with a delay survives a crash
(kill -9, recovered from the journal), a clean restart (the final checkpoint) and a hot
upgrade, keeps its id in ``queued_tasks()``, can be killed after it, and a fork whose verb
was reprogrammed meanwhile is dropped with a line in the server log."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from pathlib import Path

from moo.net.telnet_client import TelnetClient
from tests.loopback.conftest import MARK, wizard
from tests.loopback.test_programming import program_verb
from tests.loopback.upgrade_helpers import start, upgrade
from tests.server_process import ServerProcess

FORKS = [
    "{x, y} = args;",
    "fork (3)",
    "  #0.forked = {@#0.forked, {x + y, time()}};",
    "endfork",
    "fork later (3600)",
    '  #0.forked = "never";',
    "endfork",
    "return later;",
]


async def value(client: TelnetClient, expression: str) -> str:
    """What ``;expression`` shows, without ``=> ``."""
    lines = await client.command(f";{expression}", MARK)
    assert len(lines) == 1 and lines[0].startswith("=> "), lines
    return lines[0][3:]


async def queue_forks(server: ServerProcess) -> tuple[TelnetClient, int]:
    """A verb that forks twice (in 3 s and in an hour), run: (the wizard, the later id)."""
    wiz = await wizard(server)
    await value(wiz, 'add_property(#0, "forked", {}, {player, "rw"})')
    added = await wiz.command("@verb #0:forks this none this", MARK)
    assert added[0].startswith("Verb added"), added
    assert await program_verb(wiz, "#0:forks", FORKS) == ["0 errors.  Verb programmed."]
    later = int(await value(wiz, "#0:forks(40, 2)"))
    return wiz, later


async def fork_runs(client: TelnetClient, timeout: float = 20) -> list[int]:
    """When the 3 s fork ran (server clock, seconds), once it has: exactly once."""
    deadline = time.monotonic() + timeout
    while (seen := await value(client, "#0.forked")) == "{}":
        assert time.monotonic() < deadline, "the fork never ran"
        await asyncio.sleep(0.2)
    runs = re.fullmatch(r"\{\{42, (\d+)\}\}", seen)
    assert runs is not None, seen  # ran once, with its variables
    return [int(runs.group(1))]


async def check_after_restart(server: ServerProcess, later: int, stopped: float) -> None:
    """The 3 s fork runs once, after the restart (``stopped``: wall clock when the old
    server was stopped, before the fork was due); the hour's keeps its id and is killed."""
    wiz = await wizard(server)
    rows = await value(wiz, "queued_tasks()")
    assert f"{{{later}, " in rows, rows
    [ran] = await fork_runs(wiz)
    assert ran >= int(stopped)  # not in the old server
    assert await value(wiz, f"kill_task({later})") == "0"
    assert await value(wiz, "queued_tasks()") == "{}"
    assert await value(wiz, f"task_id() != {later}") == "1"  # held ids are never handed out
    await wiz.close()


async def test_a_fork_survives_a_crash_and_a_clean_restart(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", ssh=False).start()
    try:
        wiz, later = await queue_forks(server)
        await wiz.close()
        assert server.process is not None
        server.process.send_signal(signal.SIGKILL)  # no checkpoint: the journal has the forks
        stopped = time.time()
        server.wait_exit()
        server.start()
        await check_after_restart(server, later, stopped)

        wiz = await wizard(server)  # again, through a clean stop's final checkpoint
        await value(wiz, "#0.forked = {}")
        later = int(await value(wiz, "#0:forks(40, 2)"))
        await wiz.close()
        stopped = time.time()
        server.stop()
        server.start()
        await check_after_restart(server, later, stopped)
    finally:
        server.stop()


async def test_a_fork_of_a_reprogrammed_verb_is_dropped_with_a_log_line(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", ssh=False).start()
    try:
        wiz, later = await queue_forks(server)
        assert await program_verb(wiz, "#0:forks", ["return 0;"]) == ["0 errors.  Verb programmed."]
        await wiz.close()
        server.stop()
        server.start()
        wiz = await wizard(server)
        assert await value(wiz, "queued_tasks()") == "{}"
        await asyncio.sleep(3.5)
        assert await value(wiz, "#0.forked") == "{}"
        await wiz.close()
        logged = "\n".join(server.stderr_lines + server.output)
        assert re.search(rf"dropped queued task {later} \(#0:forks, player #\d+\)", logged), logged
        assert "#0:forks was reprogrammed or removed since" in logged
    finally:
        server.stop()


async def test_a_fork_survives_a_hot_upgrade(tmp_path: Path) -> None:
    server = start(tmp_path / "data")
    try:
        wiz, later = await queue_forks(server)
        await upgrade(server, wiz)  # the 3 s fork runs before or after it: once
        await fork_runs(wiz)
        assert f"{{{later}, " in await value(wiz, "queued_tasks()")
        assert await value(wiz, f"kill_task({later})") == "0"
        assert await value(wiz, "queued_tasks()") == "{}"
        await wiz.close()
    finally:
        server.stop()


INNER = ["x = 0;", "for i in [1..5]", "  x = x + i;", "  suspend(1);", "endfor", "return x;"]
OUTER = [
    "#0.result = this:inner() + 100;",
    'player:tell("suspended result: ", #0.result);',
]


async def suspend_in_a_loop(server: ServerProcess) -> TelnetClient:
    """``#0:outer()`` calls ``#0:inner()`` from an expression; inner suspends in a loop."""
    wiz = await wizard(server)
    await value(wiz, 'add_property(#0, "result", 0, {player, "rw"})')
    for name, lines in (("inner", INNER), ("outer", OUTER)):
        added = await wiz.command(f"@verb #0:{name} this none this", MARK)
        assert added[0].startswith("Verb added"), added
        assert await program_verb(wiz, f"#0:{name}", lines) == ["0 errors.  Verb programmed."]
    assert await wiz.command(";#0:outer()", MARK) == []  # it suspended: nothing to show yet
    return wiz


async def test_a_suspended_task_survives_a_crash_with_the_same_result(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", ssh=False).start()
    try:
        wiz = await suspend_in_a_loop(server)
        await asyncio.sleep(1.5)  # a suspend or two done
        assert await value(wiz, "#0.result") == "0"  # not finished: 5 suspends of 1 s
        await wiz.close()
        assert server.process is not None
        server.process.send_signal(signal.SIGKILL)  # the journal holds the task
        server.wait_exit()
        server.start()
        wiz = await wizard(server)
        rows = await value(wiz, "queued_tasks()")
        queued = r'\{\{\d+, \d+, 0, 15000, #\d+, #0, "inner", 4, #0\}\}'  # where it waits
        assert re.fullmatch(queued, rows) or await value(wiz, "#0.result") == "115", rows
        deadline = time.monotonic() + 20
        while await value(wiz, "#0.result") != "115":
            assert time.monotonic() < deadline, "the suspended task never finished"
            await asyncio.sleep(0.2)
        assert await value(wiz, "queued_tasks()") == "{}"
        await wiz.close()
    finally:
        server.stop()


async def test_a_suspended_task_survives_a_hot_upgrade(tmp_path: Path) -> None:
    server = start(tmp_path / "data")
    try:
        wiz = await suspend_in_a_loop(server)
        await upgrade(server, wiz)
        await wiz.expect("suspended result: 115", timeout=20)
        assert await value(wiz, "#0.result") == "115"
        await wiz.close()
    finally:
        server.stop()

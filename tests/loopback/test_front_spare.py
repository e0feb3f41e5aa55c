"""The front's spare engine (moo/engine/spare.py): imports done, it takes over when the
engine dies; a dead spare or one whose code went stale gives way to a cold start."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from moo import paths
from moo.config import Config
from moo.front.hub import Front
from moo.front.process import EngineSpawner
from moo.net.gate_process import process_alive
from moo.protocol.front import SPARE_STALE
from tests.loopback.conftest import BEGIN, MARK, login, unique_name
from tests.loopback.test_front import kill_engine, new_engine
from tests.server_process import ServerProcess


@pytest.fixture
def front(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "data", ssh=False).start()
    yield proc
    proc.stop()


def spare_pid(server: ServerProcess, timeout: float = 30.0, other_than: int = 0) -> int:
    """The spare named in run/front.state, once it is ready (and not ``other_than``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = paths.read_state(paths.front_state_file(server.data_dir)) or {}
        pid = state.get("spare_engine_pid")
        if isinstance(pid, int) and pid != other_than and process_alive(pid):
            return pid
        time.sleep(0.1)
    raise AssertionError("no spare engine was started")


async def test_the_spare_takes_over_when_the_engine_dies(front: ServerProcess) -> None:
    name = unique_name("spare")
    client = await login(front.telnet_port, name, "secret")
    spare = spare_pid(front)
    status = subprocess.run(
        [sys.executable, "-m", "moo", "status", "--data-dir", str(front.data_dir)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert f"spare engine pid {spare} (ready to take over)" in status.stdout
    old = kill_engine(front)
    client.send_line("say typed while the engine was down")
    assert await new_engine(front, old) == spare
    await client.expect('You say, "typed while the engine was down"', timeout=30)
    assert any("the spare engine (pid" in line for line in front.stderr_lines)
    spare_pid(front, other_than=spare)  # and a new spare is made ready beside it
    await client.close()


async def test_a_dead_spare_gives_way_to_a_cold_start(front: ServerProcess) -> None:
    client = await login(front.telnet_port, unique_name("nospare"), "secret")
    spare = spare_pid(front)
    os.kill(spare, signal.SIGKILL)
    await asyncio.sleep(0.2)
    old = kill_engine(front)
    assert await new_engine(front, old) != spare
    said = await client.command("say cold", MARK, begin=BEGIN, timeout=30)
    assert said == ['You say, "cold"']
    await client.close()


FAKE_ENGINE = """
import signal, sys
log = open(sys.argv[1], "a")
if "--spare" in sys.argv:
    print("spare", file=log, flush=True)
    sys.stdin.readline()
    print("stale", file=log, flush=True)
    sys.exit(int(sys.argv[2]))
print("cold", file=log, flush=True)
signal.pause()  # an engine serving until it is killed
"""


async def test_a_stale_spare_steps_aside_for_a_cold_start(tmp_path: Path) -> None:
    """The spare exits ``SPARE_STALE`` at ``go`` (the code on disk changed, as after an
    upgrade): the spawner starts a fresh engine at once rather than count a failure."""
    script = tmp_path / "engine.py"
    script.write_text(FAKE_ENGINE)
    log = tmp_path / "engine.log"
    front = Front(Config(data_dir=tmp_path / "data"))
    command = [sys.executable, str(script), str(log), str(SPARE_STALE)]
    spawner = EngineSpawner(command, dict(os.environ), front)
    spawner.start()
    try:
        await until(lambda: spawner.process is not None)
        assert spawner.process is not None
        front.engine_pid = spawner.process.pid  # as if it had attached
        front.attached = True
        front.attached_event.set()
        await until(lambda: spawner.spare is not None, timeout=10)
        await until(lambda: log.read_text().split() == ["cold", "spare"])
        first = spawner.process
        first.kill()
        await until(lambda: log.read_text().split() == ["cold", "spare", "stale", "cold"])
        assert spawner.process is not first and spawner.restarts == 1
    finally:
        await spawner.stop()


async def until(condition: object, timeout: float = 10.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except FileNotFoundError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)

"""A front names an engine attached over TCP by its address, never by a local pid.

The engine's pid is its own machine's: on the front's machine it may be an unrelated
process, which ``run/engine.pid``, ``moo status`` or a SIGUSR2 passed on would then name
or hit. Real processes: ``moo front --engine-listen`` and ``moo engine --front-address``
(the engine on this machine, so a signal wrongly passed on would reach it and be seen).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from moo import paths
from tests.loopback.conftest import BEGIN, MARK, wizard
from tests.loopback.test_front_tcp import Engines, front_log, start_front
from tests.loopback.upgrade_helpers import BEFORE


async def status_once(data_dir: Path, wanted: str, timeout: float = 10.0) -> str:
    """``moo status`` run until its output holds ``wanted`` (the front rewrites its state
    every half second)."""
    deadline = time.monotonic() + timeout
    while True:
        result = subprocess.run(
            [sys.executable, "-m", "moo", "status", "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        if wanted in result.stdout or time.monotonic() > deadline:
            return result.stdout
        await asyncio.sleep(0.2)


async def test_a_tcp_engine_is_named_by_its_address_and_its_pid_is_never_used_here(
    tmp_path: Path,
) -> None:
    front = start_front(tmp_path / "front")
    engines = Engines(front, tmp_path / "engine")
    try:
        engines.start()
        front.wait_listening({"telnet"}, timeout=60)
        engine = engines.started[0].pid
        status = await status_once(front.data_dir, "remote at")
        assert re.search(
            rf"^engine +remote at 127\.0\.0\.1:\d+ \(pid {engine} on its machine, not this "
            r"one\)$",
            status,
            re.M,
        ), status
        assert not re.search(r"^engine +pid", status, re.M), status
        assert re.search(r"^world +held by the engine at 127\.0\.0\.1:\d+", status, re.M), status
        assert re.search(r"^ +engine attached;", status, re.M), status
        assert not paths.engine_pid_file(front.data_dir).exists()

        wiz = await wizard(front)
        assert front.process is not None
        os.kill(front.process.pid, signal.SIGUSR2)  # systemctl reload: not to a pid of ours
        warned = "SIGUSR2: the engine is on 127.0.0.1:"
        assert f"(pid {engine} on its machine)" in front_log(front, warned)
        said = await wiz.command("say one engine still", MARK, begin=BEGIN, timeout=10)
        assert said == ['You say, "one engine still"']
        assert BEFORE not in wiz.lines  # no upgrade was started by a signal to its pid
        assert "hot upgrade" not in engines.log(0)
        assert engines.started[0].poll() is None
        assert not paths.engine_pid_file(front.data_dir).exists()
        await wiz.close()
    finally:
        engines.stop_all()
        front.stop()

"""Starting, stopping and starting again: what the foundation keeps across a clean stop."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

from tests.loopback.conftest import MARK, login, wizard
from tests.server_process import ServerProcess


def serve(data: Path, *flags: str) -> list[str]:
    """``moo serve`` on ``data`` without a config file (ServerProcess always writes one)."""
    return [sys.executable, "-m", "moo", "serve", "--data-dir", str(data), *flags]


async def test_shutdown_by_wizard_saves_the_world(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = ServerProcess(data, ssh=False).start()
    try:
        wiz = await wizard(first)
        await wiz.command("@create $thing named keepsake", MARK)
        assert await wiz.command("@checkpoint now", MARK) == ["Checkpoint started."]
        await wiz.expect(re.compile(r"^Checkpoint done: \d+ objects, \d+ bytes"))
        await wiz.command("@describe keepsake as Still here after a restart.", MARK)
        player = await login(first.telnet_port, "Persistent", "secret")
        await player.close()
        digest = (await wiz.command("@digest", MARK))[0]
        assert digest.startswith("World digest: ")
        wiz.send_line("@shutdown back soon")
        await wiz.expect("*** Shutdown requested by Wizard: back soon ***")
        assert await wiz.wait_closed()
        await wiz.close()
        assert first.wait_exit() == 0
    finally:
        first.stop()

    second = ServerProcess(data, ssh=False).start()
    try:
        wiz = await wizard(second)
        assert (await wiz.command("@digest", MARK))[0] == digest
        assert await wiz.command("look keepsake", MARK) == [
            "keepsake",
            "Still here after a restart.",
        ]
        again = await login(second.telnet_port, "Persistent", "secret", create=False)
        await again.close()
        await wiz.close()
    finally:
        second.stop()


def test_first_start_generates_a_private_wizard_password(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k != "MOO_WIZARD_PASSWORD"}
    process = subprocess.Popen(
        serve(data, "--telnet", "127.0.0.1:0", "--ssh", "off"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        second = process.stdout.readline()
    finally:
        process.terminate()
        process.wait(15)
        assert process.stdout is not None
        process.stdout.close()
    secret_file = data / "wizard-password.txt"
    password = secret_file.read_text().strip()
    assert first.startswith(f"wizard password: {password} ")
    assert second.startswith("telnet listening on 127.0.0.1:")
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700

    again = subprocess.run(
        serve(data, "--telnet", "127.0.0.1:99999"),
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert again.returncode == 2
    assert "--telnet: expected HOST:PORT" in again.stderr


async def test_env_password_and_busy_port(tmp_path: Path) -> None:
    first = ServerProcess(tmp_path / "one", ssh=False).start()
    try:
        env = {**os.environ, "MOO_WIZARD_PASSWORD": "from-env"}
        busy = subprocess.run(
            serve(tmp_path / "two", "--telnet", f"127.0.0.1:{first.telnet_port}", "--ssh", "off"),
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        assert busy.returncode == 2
        assert "cannot listen" in busy.stderr and "in use" in busy.stderr
    finally:
        first.stop()

"""The wheel is a whole server: built from this checkout, installed into a new virtualenv and
started from an empty directory, it builds the core world and plays.

The new virtualenv gets only our wheel (``--no-deps``); the third-party packages come from the
test run's own environment through a ``.pth`` file, so the test needs no network and checks
exactly what the issue asks: that the wheel carries the core world, the verbs and a console
script that works from anywhere.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from moo import __version__
from tests.loopback.conftest import MARK, login
from tests.loopback.web_helpers import http_get
from tests.server_process import WIZARD_PASSWORD, stop_pid

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with the wheel of this checkout installed; returns its bin directory."""
    root = tmp_path_factory.mktemp("wheel")
    # Built from a copy: a build in place leaves build/ in the checkout, which later builds
    # reuse (and which would hide a file missing from the package data).
    source = root / "source"
    for part in ("pyproject.toml", "README.md", "moo", "verbs"):
        if (REPO / part).is_dir():
            shutil.copytree(
                REPO / part, source / part, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            source.mkdir(exist_ok=True)
            shutil.copy(REPO / part, source / part)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(root / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (root / "dist").glob("moo-*.whl")
    venv.EnvBuilder(with_pip=False).create(root / "venv")
    bin_dir = root / "venv" / "bin"
    target = subprocess.run(
        [str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Dependencies only, from this environment: the checkout itself must not be importable.
    (Path(target) / "test-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(bin_dir / "python"),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return bin_dir


def run_elsewhere(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(bin_dir / "moo"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_console_script_reports_its_version(installed: Path, tmp_path: Path) -> None:
    result = run_elsewhere(installed, "--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == f"moo {__version__}"


async def test_the_installed_server_builds_the_core_world_from_an_empty_directory(
    installed: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    errors = (tmp_path / "server.err").open("w")
    process = subprocess.Popen(
        [
            str(installed / "moo"),
            "serve",
            "--telnet",
            "127.0.0.1:0",
            "--ssh",
            "off",
            "--web",
            "127.0.0.1:0",
            "--wizard-password",
            WIZARD_PASSWORD,
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    try:
        assert process.stdout is not None
        ports: dict[str, int] = {}
        while len(ports) < 2:
            line = process.stdout.readline()
            assert line, f"the installed server exited: {(tmp_path / 'server.err').read_text()}"
            found = re.search(r"(telnet|web) listening on 127\.0\.0\.1:(\d+)", line)
            if found:
                ports[found.group(1)] = int(found.group(2))
        port = ports["telnet"]
        for path in ("/", "/client.js", "/client.css"):  # the web client's package data
            status, _, body = await asyncio.to_thread(http_get, ports["web"], path)
            assert status == 200 and body, path
        client = await login(port, "Wizard", WIZARD_PASSWORD, create=False)
        assert await client.command("say packaged", MARK) == ['You say, "packaged"']
        await client.close()
        assert (tmp_path / "data" / "checkpoints").is_dir()
        # The module that ran was the wheel's, not this checkout's.
        where = subprocess.run(
            [str(installed / "python"), "-c", "import moo; print(moo.__file__)"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert str(REPO) not in where and "site-packages" in where, where
    finally:
        stop_pid(process.pid, 10)
        process.wait(10)
        errors.close()
        if process.stdout is not None:
            process.stdout.close()

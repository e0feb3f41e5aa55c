"""A link secret others could read or change is refused, as OpenSSH refuses such a
private key: a front (``moo front --engine-listen``) and an engine (``moo engine
--front-address``), each a real process, exit with one line naming the file, its mode
and the ``chmod`` that fixes it, before the front listens or the engine connects."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from moo.errors import MooError
from moo.net.link_tcp import check_private, create_secret, load_secret

SECRET = "ab" * 32 + "\n"


def secret_file(path: Path, mode: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SECRET)
    path.chmod(mode)
    return path


def refusal(path: Path, mode: int) -> list[str]:
    return [f"link secret {path}: permissions {mode:04o} are too open", f"chmod 600 {path}"]


@pytest.mark.parametrize("mode", [0o644, 0o660], ids=["0644", "0660"])
def test_a_front_refuses_a_secret_others_may_read_or_change(tmp_path: Path, mode: int) -> None:
    data = tmp_path / "data"
    secret = secret_file(data / "link-secret", mode)
    config = tmp_path / "config.yaml"
    config.write_text("engine_listen: {host: 127.0.0.1, port: 0, enabled: true}\n")
    result = subprocess.run(
        [
            sys.executable, "-m", "moo", "front", "--config", str(config),
            "--data-dir", str(data), "--telnet", "127.0.0.1:0", "--ssh", "off",
        ],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    for words in refusal(secret, mode):
        assert words in result.stderr, result.stderr
    assert "listening on" not in result.stdout + result.stderr
    assert stat.S_IMODE(secret.stat().st_mode) == mode  # told, not changed behind one's back


@pytest.mark.parametrize("mode", [0o644, 0o604], ids=["0644", "0604"])
def test_an_engine_refuses_a_secret_others_may_read_or_change(tmp_path: Path, mode: int) -> None:
    secret = secret_file(tmp_path / "engine-link-secret", mode)
    front = socket.create_server(("127.0.0.1", 0))  # where a front would be: never reached
    front.settimeout(0)
    try:
        port = front.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable, "-m", "moo", "engine", "--data-dir", str(tmp_path / "engine"),
                "--front-address", f"127.0.0.1:{port}", "--link-secret-file", str(secret),
            ],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        with pytest.raises(BlockingIOError):
            front.accept()  # nobody connected
    finally:
        front.close()
    assert result.returncode == 2, result.stderr
    for words in refusal(secret, mode):
        assert words in result.stderr, result.stderr
    assert not (tmp_path / "engine" / "checkpoints").exists()  # refused before the world


def test_a_secret_of_another_user_is_refused(tmp_path: Path) -> None:
    secret = secret_file(tmp_path / "link-secret", 0o600)
    theirs = os.stat_result((0o100600, 0, 0, 1, os.geteuid() + 1, 0, 65, 0, 0, 0))
    with pytest.raises(MooError) as refused:
        check_private(secret, theirs)
    message = str(refused.value)
    assert f"link secret {secret} is owned by uid {os.geteuid() + 1}" in message
    assert f"chown {os.geteuid()} {secret} && chmod 600 {secret}" in message
    assert load_secret(secret) == SECRET.strip().encode()  # the same file, ours: taken


def test_a_new_secret_is_owner_only_from_its_first_byte_and_never_replaced(
    tmp_path: Path,
) -> None:
    path = tmp_path / "run" / "link-secret"
    before = os.umask(0)  # even a umask that lets everyone read new files
    try:
        assert create_secret(path)
    finally:
        os.umask(before)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    made = path.read_bytes()
    assert len(made.strip()) == 64
    assert not create_secret(path)  # another front's secret, already copied: kept
    assert path.read_bytes() == made
    assert sorted(p.name for p in path.parent.iterdir()) == ["link-secret"]  # no temp left

"""sd_notify: real datagram sockets standing in for systemd's notification socket."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from moo.ops.sd_notify import notify


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A bound datagram socket in tmp_path and the NOTIFY_SOCKET value naming it."""
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(5)
        yield sock, str(path)


def test_sends_the_state_to_a_socket_path(receiver: tuple[socket.socket, str]) -> None:
    sock, where = receiver
    assert notify("READY=1", {"NOTIFY_SOCKET": where}) is True
    assert sock.recv(4096) == b"READY=1"


def test_several_lines_go_as_one_datagram(receiver: tuple[socket.socket, str]) -> None:
    sock, where = receiver
    assert notify(f"MAINPID={os.getpid()}\nREADY=1", {"NOTIFY_SOCKET": where})
    assert notify("STOPPING=1", {"NOTIFY_SOCKET": where})
    assert sock.recv(4096) == f"MAINPID={os.getpid()}\nREADY=1".encode()
    assert sock.recv(4096) == b"STOPPING=1"


def test_sends_to_the_abstract_namespace() -> None:
    name = f"moo-test-notify-{os.getpid()}-{id(object())}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert notify("READY=1", {"NOTIFY_SOCKET": "@" + name}) is True
        assert sock.recv(4096) == b"READY=1"


def test_reads_os_environ_by_default(
    receiver: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, where = receiver
    monkeypatch.setenv("NOTIFY_SOCKET", where)
    assert notify("STOPPING=1") is True
    assert sock.recv(4096) == b"STOPPING=1"


def test_unset_or_empty_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False
    assert notify("READY=1", {}) is False
    assert notify("READY=1", {"NOTIFY_SOCKET": ""}) is False


def test_a_missing_socket_is_a_warning_not_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = str(tmp_path / "nobody-here.sock")
    assert notify("READY=1", {"NOTIFY_SOCKET": missing}) is False
    assert "cannot tell systemd" in caplog.text
    assert missing in caplog.text


def test_a_socket_name_that_is_not_a_path_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    assert notify("READY=1", {"NOTIFY_SOCKET": "relative/notify.sock"}) is False
    assert "neither a path nor @name" in caplog.text

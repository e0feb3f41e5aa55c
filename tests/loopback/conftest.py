"""Fixtures for tests that talk to a real server over loopback sockets."""

from __future__ import annotations

import itertools
import re
import ssl
from collections.abc import Iterator

import pytest

from moo.net.telnet_client import TelnetClient
from tests.server_process import WIZARD_PASSWORD, ServerProcess

MARK = "--done--"
BEGIN = "--begin--"
_names = itertools.count(1)


def unique_name(prefix: str = "p") -> str:
    return f"{prefix}{next(_names)}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server (telnet and SSH on port 0) shared by the tests of a module."""
    proc = ServerProcess(tmp_path_factory.mktemp("server") / "data").start()
    yield proc
    proc.stop()


async def login(
    port: int, name: str, password: str, *, create: bool = True, tls: ssl.SSLContext | None = None
) -> TelnetClient:
    """A telnet client logged in as ``name`` (created first when ``create``), with SUFFIX set;
    ``tls``: over TLS, verified with that context."""
    client = await TelnetClient.connect("127.0.0.1", port, tls=tls)
    client.send_line(f"{'create' if create else 'connect'} {name} {password}")
    await client.expect(re.compile(r"^\*\*\* (Connected as|Redirected)"))
    await client.expect("Exits:")  # the automatic look ends here in the starting room
    client.send_line(f"PREFIX {BEGIN}")
    client.send_line(f"SUFFIX {MARK}")
    return client


async def player(server: ServerProcess, prefix: str = "p") -> tuple[TelnetClient, str]:
    name = unique_name(prefix)
    return await login(server.telnet_port, name, "secret"), name


async def wizard(server: ServerProcess) -> TelnetClient:
    return await login(server.telnet_port, "Wizard", WIZARD_PASSWORD, create=False)


async def send_together(
    client: TelnetClient, commands: list[str], timeout: float = 30.0, answers: int = 0
) -> list[list[str]]:
    """Send every command in one write; each one's output lines, in order.

    Needs the markers ``login`` sets: lines outside a BEGIN..MARK block (others' speech)
    are skipped. ``timeout`` is how long to wait for each next line. ``answers``: how many
    blocks to read when it is not one per command (a ``force_input`` line has its own).
    """
    client.send_raw("".join(f"{command}\r\n" for command in commands).encode())
    replies: list[list[str]] = []
    block: list[str] | None = None
    while len(replies) < (answers or len(commands)):
        line = await client.read_line(timeout)
        if line is None:
            raise AssertionError(
                f"only {len(replies)} of {len(commands)} replies arrived; got {replies[-3:]}"
            )
        if line == BEGIN:
            block = []
        elif line == MARK and block is not None:
            replies.append(block)
            block = None
        elif block is not None:
            block.append(line)
    return replies

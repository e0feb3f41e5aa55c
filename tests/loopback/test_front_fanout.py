"""A line many players hear crosses the front link once (``OutMany``) and reaches each of
them once: telnet players (encoded once in the front) and an SSH player (the gate's
frames) alike, across an engine restart too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopback.conftest import BEGIN, MARK, login, unique_name
from tests.loopback.test_front import kill_engine
from tests.loopback.test_ssh import read_until, ssh_shell
from tests.server_process import ServerProcess


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data: Path = tmp_path_factory.mktemp("fanout") / "data"
    proc = ServerProcess(data).start()
    yield proc
    proc.stop()


async def test_a_say_in_a_crowded_room_reaches_every_listener_once(front: ServerProcess) -> None:
    names = [unique_name("fan") for _ in range(4)]
    clients = [await login(front.telnet_port, name, "secret") for name in names]
    speaker, listeners = clients[0], clients[1:]
    ssh_name = unique_name("fanssh")
    await (await login(front.telnet_port, ssh_name, "secret")).close()
    conn, process = await ssh_shell(front, ssh_name, "secret")
    await read_until(process, "Exits:")
    for round_ in ("before", "after"):
        said = await speaker.command(f"say {round_} the crash", MARK, begin=BEGIN, timeout=30)
        assert said == [f'You say, "{round_} the crash"']
        heard = f'{names[0]} says, "{round_} the crash"'
        for listener in listeners:
            await listener.expect(heard, timeout=10)
        await read_until(process, heard, timeout=10)
        if round_ == "before":
            kill_engine(front)
    # Each heard each line once: nothing was sent twice across the restart.
    for listener in listeners:
        lines = await listener.command("say done", MARK, begin=BEGIN, timeout=30)
        assert lines == ['You say, "done"']
        assert listener.lines.count(f'{names[0]} says, "before the crash"') == 1
        assert listener.lines.count(f'{names[0]} says, "after the crash"') == 1
    conn.close()
    for client in clients:
        await client.close()

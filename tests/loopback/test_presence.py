"""Who hears of a login: everyone else in the room, once each, in the order of the logins,
through the front (one ``OutMany`` per line, sent in paced rounds) and in the single
process alike; a listener's own commands are answered meanwhile."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.loopback.conftest import BEGIN, MARK, login, unique_name
from tests.server_process import ServerProcess


@pytest.fixture(scope="module", params=["front", "single-process"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    flags = ("--single-process",) if request.param == "single-process" else ()
    data = tmp_path_factory.mktemp(f"presence-{request.param}") / "data"
    proc = ServerProcess(data, ssh=False, flags=flags).start()
    yield proc
    proc.stop()


async def test_each_listener_hears_every_login_once_and_in_order(server: ServerProcess) -> None:
    listener_names = [unique_name("ear") for _ in range(3)]
    listeners = [await login(server.telnet_port, name, "secret") for name in listener_names]
    newcomers = [unique_name("new") for _ in range(6)]
    arrived = []
    for n, name in enumerate(newcomers):
        arrived.append(await login(server.telnet_port, name, "secret"))
        if n == 2:  # a command in the middle of the announcements is answered
            lines = await listeners[0].command("look", MARK, begin=BEGIN, timeout=30)
            assert any(name in line for line in lines), lines
    for client in arrived:
        await client.close()
    presence = re.compile(r"^(new\d+|ear\d+) has (connected|disconnected)\.$")
    for listener, own in zip(listeners, listener_names, strict=True):
        for name in newcomers:
            await listener.expect(f"{name} has disconnected.", timeout=30)
        heard = [line for line in listener.lines if presence.match(line)]
        heard = [line for line in heard if not line.startswith("ear")]  # earlier listeners
        assert heard == [f"{name} has connected." for name in newcomers] + [
            f"{name} has disconnected." for name in newcomers
        ]
        assert f"{own} has connected." not in listener.lines
    for listener in listeners:
        await listener.close()

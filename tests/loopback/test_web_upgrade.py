"""Hot upgrades of a single-process server (``--single-process``) with browsers connected:
a WebSocket cannot be handed to the replacement, so web sessions are closed with 1012 as
the server freezes (the page reconnects by itself) while telnet sessions carry over; the
web port itself is handed over, or, when the upgrade fails, served again by the running
server (moo/net/web.py, Server.freeze). By default the front holds the browsers and only
the engine is replaced: tests/loopback/test_front.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopback.conftest import MARK, player, wizard
from tests.loopback.upgrade_helpers import UPGRADE_CONFIG, failed_upgrade, program, upgrade
from tests.loopback.web_helpers import WebClient
from tests.server_process import ServerProcess

RESTARTING = (1012, "the server is being upgraded")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path / "data", extra_config=UPGRADE_CONFIG, web=True, flags=("--single-process",)
    ).start()
    yield proc
    proc.stop()


async def web_player(port: int, name: str, *, create: bool) -> WebClient:
    web = await WebClient.connect(port)
    await web.expect("connect <name> <password>", timeout=15)
    await web.send_line(f"{'create' if create else 'connect'} {name} secret")
    await web.expect(f"*** Connected as {name} ***")
    return web


async def test_an_upgrade_closes_web_sessions_and_the_new_server_takes_browsers(
    server: ServerProcess,
) -> None:
    web = await web_player(server.web_port, "webber", create=True)
    telnet, name = await player(server)
    wiz = await wizard(server)
    await web.expect(f"{name} has connected.")
    old = server.pid
    new, _ = await upgrade(server, wiz)
    assert new != old
    assert await web.wait_closed() == RESTARTING
    await telnet.expect("webber has disconnected.")
    assert await telnet.command("say carried over", MARK) == ['You say, "carried over"']

    again = await web_player(server.web_port, "webber", create=False)  # the same port
    await telnet.expect("webber has connected.")
    await again.send_line("say served by the replacement")
    await telnet.expect('webber says, "served by the replacement"')
    await again.close()
    for client in (telnet, wiz):
        await client.close()


async def test_a_failed_upgrade_serves_browsers_again_and_lets_waiting_ones_in(
    server: ServerProcess,
) -> None:
    web = await web_player(server.web_port, "stayer", create=True)
    wiz = await wizard(server)
    trying = asyncio.ensure_future(
        failed_upgrade(server, wiz, "to " + program("hangs_after_freeze.py"))
    )
    assert await web.wait_closed(timeout=30) == RESTARTING  # at the freeze
    # Frozen for 3 s: a browser arriving now waits in the listening socket's backlog.
    waiting = asyncio.ensure_future(WebClient.connect(server.web_port))
    await asyncio.sleep(0.5)
    assert not waiting.done()
    assert "did not send READY" in await trying
    late = await waiting
    await late.expect("connect <name> <password>")
    await late.send_line("connect stayer secret")
    await late.expect("*** Connected as stayer ***")
    await late.close()
    await wiz.close()

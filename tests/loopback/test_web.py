"""The web client's transport over a real server: the page over HTTP and the WebSocket
into the same sessions as telnet (moo/net/web.py), driven by the ``websockets`` client."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from tests.loopback.conftest import MARK, player, unique_name
from tests.loopback.web_helpers import WebClient, http_get
from tests.server_process import WIZARD_PASSWORD, ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("web") / "data", ssh=False, web=True).start()
    yield proc
    proc.stop()


async def web_login(port: int, name: str, password: str, *, create: bool = True) -> WebClient:
    client = await WebClient.connect(port)
    await client.expect("connect <name> <password>")
    await client.send_line(f"{'create' if create else 'connect'} {name} {password}")
    await client.expect(f"*** Connected as {name} ***")
    await client.expect("Exits:")
    return client


async def test_the_page_and_its_files_are_served_and_nothing_else(server: ServerProcess) -> None:
    port = server.web_port
    status, headers, body = await asyncio.to_thread(http_get, port, "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'<script src="/client.js"' in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    status, headers, body = await asyncio.to_thread(http_get, port, "/client.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert b"new WebSocket(" in body
    status, headers, _ = await asyncio.to_thread(http_get, port, "/client.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    for path in ("/nope", "/../pyproject.toml", "/web_client/index.html", "/%2e%2e/cli.py"):
        status, _, body = await asyncio.to_thread(http_get, port, path)
        assert (status, body) == (404, b"Not found\n"), path


async def test_another_sites_page_may_not_open_the_websocket(server: ServerProcess) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"ws://127.0.0.1:{server.web_port}/ws", origin=Origin("http://evil.example"))
    assert refused.value.response.status_code == 403
    page = f"http://127.0.0.1:{server.web_port}"
    async with connect(f"ws://127.0.0.1:{server.web_port}/ws", origin=Origin(page)) as ws:
        assert "Welcome to the world!" in str(await ws.recv())


async def test_a_browser_and_a_telnet_player_talk_in_one_room(server: ServerProcess) -> None:
    web = await WebClient.connect(server.web_port)
    await web.expect("Welcome to the world!")
    await web.send_line(f"connect Wizard {WIZARD_PASSWORD}")
    await web.expect("*** Connected as Wizard ***")
    await web.expect("Exits:")
    telnet, name = await player(server, "tel")
    await web.expect(f"{name} has connected.")

    await web.send_line("say hi from the browser")
    await web.expect('You say, "hi from the browser"')
    await telnet.expect('Wizard says, "hi from the browser"')
    assert await telnet.command("say hello, browser", MARK) == ['You say, "hello, browser"']
    await web.expect(f'{name} says, "hello, browser"')
    await web.send_line("@terminal")
    await web.expect("Connection: web; window: unknown; terminal: browser; echo: normal.")
    assert any(line.startswith("Wizard") for line in await telnet.command("who", MARK))

    await web.close()  # the browser goes away: the session ends
    await telnet.expect("Wizard has disconnected.")
    await telnet.close()


async def test_an_overlong_line_gets_the_telnet_refusal(server: ServerProcess) -> None:
    name = unique_name("long")
    web = await web_login(server.web_port, name, "secret")
    telnet, _ = await player(server)
    line = "say " + "x" * 5000
    telnet.send_line(line)
    refusal = await telnet.expect("too long")
    assert refusal == "That line was too long (5004 bytes; the limit is 4096), so it was ignored."
    await web.send_line(line)
    assert await web.expect("too long") == refusal
    await web.send_line("say still here")  # the session carries on
    await web.expect('You say, "still here"')
    # Lines are counted in UTF-8 bytes, as telnet counts them.
    await web.send_line("say " + "é" * 2100)
    assert await web.expect("too long") == (
        "That line was too long (4204 bytes; the limit is 4096), so it was ignored."
    )
    await web.close()
    await telnet.close()


async def test_a_frame_past_the_frame_limit_closes_the_connection(server: ServerProcess) -> None:
    web = await WebClient.connect(server.web_port)
    await web.expect("connect <name> <password>")
    await web.send_line("say " + "x" * (1 << 16))  # 64 KiB: 16 lines' worth of 4096 bytes
    code, reason = await web.wait_closed()
    assert (code, reason) == (1009, "frame exceeds limit of 65536 bytes")


async def test_a_frame_may_carry_several_lines_and_control_characters_go(
    server: ServerProcess,
) -> None:
    web = await web_login(server.web_port, unique_name("multi"), "secret")
    await web.send_line("say one\r\nsay t\x1b[31mw\x07o\tthree\n")
    await web.expect('You say, "one"')
    await web.expect('You say, "t[31mwo three"')  # ESC and BEL removed, TAB a space
    await web.close()


async def test_the_password_is_typed_hidden(server: ServerProcess) -> None:
    name = unique_name("pw")
    await (await web_login(server.web_port, name, "pw-secret")).close()
    web = await WebClient.connect(server.web_port)
    await web.send_line(f"connect {name}")
    await web.expect("Password:")
    await web.wait_hidden(True)
    assert web.frames[-1] == {"hidden": True}
    await web.send_line("pw-secret")
    await web.wait_hidden(False)
    await web.expect(f"*** Connected as {name} ***")
    await web.close()


async def test_quit_closes_the_page_for_good(server: ServerProcess) -> None:
    web = await web_login(server.web_port, unique_name("quitter"), "secret")
    telnet, _ = await player(server)
    await web.send_line("@quit")
    # 1000: a close on purpose, which the page does not reconnect after (client.js).
    assert (await web.wait_closed())[0] == 1000
    await telnet.expect("has disconnected.")
    await telnet.close()


async def test_a_burst_past_the_pending_limit_loses_no_line(server: ServerProcess) -> None:
    """300 lines at once, the pending limit 100: reading pauses and resumes; all run."""
    web = await web_login(server.web_port, unique_name("burst"), "secret")
    for i in range(300):
        await web.send_line(f"say burst {i}")
    for i in range(300):
        await web.expect(f'You say, "burst {i}"', timeout=30)
    await web.close()


async def test_shutdown_closes_web_sessions_so_pages_reconnect(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path / "data", ssh=False, web=True).start()
    try:
        web = await WebClient.connect(proc.web_port)
        await web.expect("connect <name> <password>")
        stopping = asyncio.ensure_future(asyncio.to_thread(proc.stop))
        # 1001 (going away): the page tries again until the server is back.
        assert await web.wait_closed() == (1001, "server shutting down")
        assert await stopping == 0
    finally:
        proc.stop()


async def test_a_full_server_refuses_a_browser(tmp_path: Path) -> None:
    proc = ServerProcess(
        tmp_path / "data", ssh=False, web=True, extra_config={"limits": {"max_connections": 1}}
    ).start()
    try:
        first = await WebClient.connect(proc.web_port)
        await first.expect("connect <name> <password>")
        second = await WebClient.connect(proc.web_port)
        await second.expect("Sorry, the server is full. Please try again later.")
        assert await second.wait_closed() == (1000, "server full")
        await first.close()
    finally:
        proc.stop()

"""Hot upgrade, level 1: a real replacement process takes over a real server's sockets and
sessions while clients are mid-conversation (see moo/upgrade/). The tests that count the
sessions carried run the single-process server (``--single-process``): behind a front
(the default) the sessions stay in the front and only the engine is replaced."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from moo.net.telnet_client import TelnetClient
from tests.loopback.conftest import BEGIN, MARK, login, wizard
from tests.loopback.upgrade_helpers import (
    BEFORE,
    program,
    raw_client,
    read_all,
    start,
    still_talking,
    upgrade,
)

SESSIONS = 310


async def login_many(port: int, count: int, prefix: str) -> list[TelnetClient]:
    clients: list[TelnetClient] = []
    for first in range(0, count, 50):
        batch = range(first, min(count, first + 50))
        clients += await asyncio.gather(*(login(port, f"{prefix}{i}", "secret") for i in batch))
    return clients


async def test_an_upgrade_carries_300_sessions_mid_conversation(tmp_path: Path) -> None:
    # 20 commands a second: the flooder's looks are still queued when the world freezes.
    server = start(
        tmp_path / "data",
        flags=("--single-process",),
        limits={"commands_per_second": 20, "command_burst": 40},
    )
    port = server.telnet_port
    try:
        wiz = await wizard(server)
        players = await login_many(port, SESSIONS, "u")
        # A player at the password prompt (echo hidden), one on the welcome screen.
        await (await login(port, "prompted", "pw-secret")).close()
        prompt = await TelnetClient.connect("127.0.0.1", port)
        prompt.send_line("connect prompted")
        await prompt.expect("Password:")
        assert prompt.iac.echo_off
        welcome = await TelnetClient.connect("127.0.0.1", port)
        await welcome.expect("create <name> <password>")
        # A client with a negotiated window size and terminal type.
        sized = await TelnetClient.connect(
            "127.0.0.1", port, window=(132, 50), term="xterm-256color"
        )
        sized.send_line("create sized secret")
        await sized.expect("*** Connected as sized ***")
        sized.send_line(f"PREFIX {BEGIN}")
        sized.send_line(f"SUFFIX {MARK}")
        assert await sized.command("@terminal", MARK) == [
            "Connection: telnet; window: 132x50; terminal: xterm-256color; echo: normal."
        ]
        # A client that reads nothing while 80 looks at a long room description pile up
        # in the server's output buffer (unsent output) and its input queue (unread lines).
        await wiz.command("@describe here as " + "A long, long room. " * 200, MARK)
        flooder = raw_client(port)
        flooder.sendall(b"create flooder secret\r\nSUFFIX --flood--\r\n" + b"look\r\n" * 80)
        # Every player says something right as the upgrade starts; one has half a line
        # typed (the rest comes after).
        for i, client in enumerate(players):
            client.send_line(f"say before {i}")
        players[1].send_raw(b"say half-")
        new_pid, done = await upgrade(server, wiz)
        match = re.search(r"level 1, (\d+) session\(s\) carried", done)
        assert match and int(match.group(1)) >= SESSIONS + 4, done

        for i, client in enumerate(players):  # the lines typed before: none lost
            await client.expect(f'You say, "before {i}"', timeout=15)
        players[1].send_raw(b"typed\r\n")
        await players[1].expect('You say, "half-typed"')
        await still_talking(players, "after")
        # The flooder gets every look's output and its suffix: 80 of each.
        output = await asyncio.to_thread(read_all, flooder, b"--flood--", 80)
        assert output.count(b"--flood--") == 80, output[-300:]
        assert output.count(b"A long, long room.") == (80 + 1) * 200  # + the look at login
        flooder.close()
        # Still at the password prompt, so not logged in: not in the who list.
        who = await wiz.command("who", MARK)
        assert not any("prompted" in line for line in who), who
        # Told as the replacement started, and after (also on the welcome screen).
        await welcome.expect(BEFORE)
        await welcome.expect("*** Upgrade done: the server now runs version 0.1.0. ***")
        prompt.send_line("pw-secret")
        await prompt.expect("*** Connected as prompted ***")
        assert not prompt.iac.echo_off, "echo must come back after the password"
        welcome.send_line("who")
        await welcome.expect("prompted")
        assert await sized.command("@terminal", MARK) == [
            "Connection: telnet; window: 132x50; terminal: xterm-256color; echo: normal."
        ]
        assert server.pid == new_pid and server.running
        handed = [line for line in server.stderr_lines if "handed over" in line]
        assert re.search(
            r"handed over \d+ session\(s\) \(\d+ changed since the pre-copy, \d+ gone\): "
            r"\d+ bytes of unsent output, [1-9]",
            handed[0],
        )
        for client in [*players, prompt, welcome, sized, wiz]:
            assert not client.closed
            await client.close()
    finally:
        server.stop()


async def test_sessions_that_change_close_or_connect_after_the_precopy(tmp_path: Path) -> None:
    """The replacement takes 2 s to answer PREBUILT; meanwhile the running server serves:
    one player talks, one quits (his client must see the close at once, though the
    replacement holds a copy of his socket), one connects. All of it carries over."""
    server = start(tmp_path / "data", flags=("--single-process",))
    try:
        wiz = await wizard(server)
        talker, quitter, idle = [
            await login(server.telnet_port, name, "secret")
            for name in ("talker", "quitter", "idler")
        ]
        wiz.send_line("@hot-upgrade to " + program("moo_variant.py", "--slow-prebuild", "2"))
        await wiz.expect("handing over at level 1", timeout=30)
        await asyncio.sleep(0.3)  # the pre-copy has left; PREBUILT comes in 2 s
        assert await talker.command("say between", MARK) == ['You say, "between"']
        quitter.send_line("quit")
        assert await quitter.read_line(timeout=1.0) is not None  # the goodbye
        while await quitter.read_line(timeout=1.0) is not None:
            pass
        assert quitter.closed, "the quitter's client must see the close before the freeze"
        newcomer = await login(server.telnet_port, "newcomer", "secret")
        assert not any("pre-copied" in line for line in server.stderr_lines)  # still before
        await wiz.expect(re.compile(r"^Upgrade done: version"), timeout=30)
        handed = [line for line in server.stderr_lines if "handed over" in line]
        assert re.search(r"\(\d+ changed since the pre-copy, 1 gone\)", handed[0]), handed
        await still_talking([talker, idle, newcomer, wiz], "after")
        who = await wiz.command("who", MARK)
        assert any("newcomer" in line for line in who), who
        assert not any("quitter" in line for line in who), who
        for client in [talker, idle, newcomer, wiz]:
            await client.close()
    finally:
        server.stop()

"""Out-of-band lines (``#$#...``), as LambdaMOO reads them, on a real server (a front and
an engine) over telnet: such a line is no command and never a ``read()``'s; it calls
``#0:do_out_of_band_command`` with the line's words as ``args`` and the whole line as
``argstr``, with no output prefix or suffix around what it says. ``#$"`` quotes a line
(the prefix goes, the rest is an ordinary line), and ``set_connection_option(player,
"disable-oob", 1)`` makes ``#$#`` lines ordinary lines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from moo.lang.values import quote
from moo.net.telnet_client import TelnetClient
from tests.loopback.conftest import BEGIN, MARK, player, wizard
from tests.loopback.test_input_builtins import number_of
from tests.server_process import ServerProcess

OOB_LINE = '#$#mcp-negotiate-can 3f2a package: "dns-org-mud-moo"'
WORDS = '{"#$#mcp-negotiate-can", "3f2a", "package:", "dns-org-mud-moo"}'


@pytest.fixture
async def wiz(server: ServerProcess) -> AsyncIterator[TelnetClient]:
    """The wizard, with the handler defined (closed after the test)."""
    client = await wizard(server)
    await define_handler(client)
    yield client
    await client.close()


async def define_handler(wiz: TelnetClient) -> None:
    """``#0:do_out_of_band_command`` (made again: a test may have deleted it) tells the
    player its ``args`` and ``argstr``."""
    code = 'notify(player, "oob " + toliteral(args) + " " + argstr);'
    setup = (
        ';`delete_verb(#0, "do_out_of_band_command") ! ANY\'; '
        'add_verb(#0, {player, "rxd", "do_out_of_band_command"}, {"this", "none", "this"}); '
        f'return set_verb_code(#0, "do_out_of_band_command", {{{quote(code)}}});'
    )
    assert await wiz.command(setup, MARK) == ["=> {}"]


async def lines_until(
    client: TelnetClient, lines: list[str], done: Callable[[list[str]], bool]
) -> list[str]:
    """Send ``lines`` in one write, then every line the client gets until ``done(seen)``."""
    client.send_raw("".join(f"{line}\r\n" for line in lines).encode())
    seen: list[str] = []
    while not done(seen):
        line = await client.read_line(10)
        assert line is not None, seen
        seen.append(line)
    return seen


async def lines_until_answered(client: TelnetClient, lines: list[str], answer: str) -> list[str]:
    """Send ``lines`` in one write and every line the client gets until ``answer``'s
    block has ended."""
    return await lines_until(
        client, lines, lambda seen: bool(seen) and seen[-1] == MARK and answer in seen
    )


async def test_an_out_of_band_line_calls_the_system_objects_verb(
    server: ServerProcess, wiz: TelnetClient
) -> None:
    client, _ = await player(server, "oob")
    seen = await lines_until_answered(client, [OOB_LINE, "say after"], 'You say, "after"')
    # Its words and the whole line, and no prefix or suffix around it: one block only,
    # the say's.
    assert f"oob {WORDS} {OOB_LINE}" in seen
    assert seen.count(BEGIN) == 1 and seen.count(MARK) == 1
    assert seen.index(f"oob {WORDS} {OOB_LINE}") < seen.index(BEGIN)
    assert "I don't understand that." not in seen
    await client.close()


async def test_a_quoted_line_is_an_ordinary_one(server: ServerProcess, wiz: TelnetClient) -> None:
    client, _ = await player(server, "quote")
    said = await client.command('#$"say #$# is how it starts')
    assert said == ['You say, "#$# is how it starts"']
    await client.close()


async def test_read_does_not_take_an_out_of_band_line(
    server: ServerProcess, wiz: TelnetClient
) -> None:
    client, name = await player(server, "reader")
    ref = await number_of(wiz, name)
    assert await wiz.command(f';notify({ref}, "read: " + read({ref}))', MARK) == []
    client.send_line(OOB_LINE)
    await client.expect(f"oob {WORDS}")  # the handler had it, the reading task did not
    client.send_line("plain words")
    await client.expect("read: plain words")
    await wiz.expect("=> 1")
    await client.close()


async def test_disable_oob_makes_them_ordinary_lines(
    server: ServerProcess, wiz: TelnetClient
) -> None:
    client, name = await player(server, "plain")
    ref = await number_of(wiz, name)
    set_it = f';set_connection_option({ref}, "disable-oob", 1)'
    assert await wiz.command(set_it, MARK) == ["=> 0"]
    assert await wiz.command(f';connection_option({ref}, "disable-oob")', MARK) == ["=> 1"]
    assert await client.command("#$#ping") == ["I don't understand that."]  # a command
    # Nor is #$" a quote: the verb word is #$say, not say.
    assert await client.command('#$"say kept') == ["I don't understand that."]
    unset = f';set_connection_option({ref}, "disable-oob", 0)'
    assert await wiz.command(unset, MARK) == ["=> 0"]
    seen = await lines_until_answered(client, [OOB_LINE, "say back"], 'You say, "back"')
    assert f"oob {WORDS} {OOB_LINE}" in seen
    await client.close()


async def test_without_a_handler_the_line_is_dropped_silently(
    server: ServerProcess, wiz: TelnetClient
) -> None:
    assert await wiz.command(';delete_verb(#0, "do_out_of_band_command")', MARK) == ["=> 0"]
    client, _ = await player(server, "none")
    seen = await lines_until_answered(client, [OOB_LINE, "say still"], 'You say, "still"')
    assert seen == [BEGIN, 'You say, "still"', MARK]  # nothing for the #$# line
    await client.close()


async def test_on_the_welcome_screen_the_line_is_dropped(server: ServerProcess) -> None:
    async def welcome_screen(lines: list[str]) -> list[str]:
        """What a new connection gets for ``lines`` up to the login screen's usage line."""
        client = await TelnetClient.connect("127.0.0.1", server.telnet_port)
        seen = await lines_until(
            client, lines, lambda seen: bool(seen) and seen[-1].startswith("Usage: connect")
        )
        await client.close()
        return seen

    # No player to run it for: no login command, no error, nothing at all.
    assert await welcome_screen([OOB_LINE, "connect"]) == await welcome_screen(["connect"])

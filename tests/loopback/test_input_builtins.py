"""``force_input``, ``flush_input``, ``output_delimiters``, ``dump_database`` and
``db_disk_size`` on a real server (a front and an engine, the default) over telnet. A forced
line is not one the client typed, so the front's numbering of typed lines must stay right:
the commands typed after it are still answered, once each."""

from __future__ import annotations

import re

from moo.net.telnet_client import TelnetClient
from tests.loopback.conftest import BEGIN, MARK, player, send_together, wizard
from tests.server_process import ServerProcess


async def me(client: TelnetClient) -> str:
    reply = await client.command(";player", MARK)
    found = re.fullmatch(r"=> (#\d+)", reply[-1])
    assert found, reply
    return found.group(1)


async def number_of(wiz: TelnetClient, name: str) -> str:
    """A connected player's number, as the Wizard finds it."""
    found = f';for p in (connected_players()) if (p.name == "{name}") return p; endif endfor'
    reply = await wiz.command(found, MARK)
    assert re.fullmatch(r"=> #\d+", reply[-1]), reply
    return reply[-1][3:]


async def test_force_input_runs_a_line_as_if_typed(server: ServerProcess) -> None:
    wiz = await wizard(server)
    ref = await me(wiz)
    # Queued last: it runs after the lines typed with it.
    assert await send_together(
        wiz, [f';force_input({ref}, "say forced last")', "say typed", ";1"], 10, answers=4
    ) == [
        ["=> 0"],
        ['You say, "typed"'],
        ["=> 1"],
        ['You say, "forced last"'],
    ]
    # At the front of the queue: it runs before them.
    assert await send_together(
        wiz, [f';force_input({ref}, "say forced first", 1)', "say typed", ";2"], 10, answers=4
    ) == [["=> 0"], ['You say, "forced first"'], ['You say, "typed"'], ["=> 2"]]
    # The typed lines after it are answered once each: the front's numbering holds.
    assert await wiz.command(";1 + 2", MARK) == ["=> 3"]
    assert await wiz.command(";4 + 5", MARK) == ["=> 9"]
    await wiz.close()


async def test_flush_input_drops_the_waiting_lines_and_says_which(server: ServerProcess) -> None:
    wiz = await wizard(server)
    ref = await me(wiz)
    assert await wiz.command(f";flush_input({ref}, 1)", MARK) == [
        ">> No pending input to flush...",
        "=> 0",
    ]
    flushed = await send_together(
        wiz, [f";flush_input({ref}, 1)", "say gone one", "say gone two"], 10, answers=1
    )
    assert flushed[0] == [
        ">> Flushing the following pending input:",
        ">>     say gone one",
        ">>     say gone two",
        ">> (Done flushing)",
        "=> 0",
    ]
    assert await wiz.command(";1 + 2", MARK) == ["=> 3"]  # nothing else waits, nothing lost
    await wiz.close()


async def test_output_delimiters_are_the_sessions_prefix_and_suffix(
    server: ServerProcess,
) -> None:
    wiz = await wizard(server)
    ref = await me(wiz)
    assert await wiz.command(f";output_delimiters({ref})", MARK) == [f'=> {{"{BEGIN}", "{MARK}"}}']
    await wiz.close()


async def test_dump_database_checkpoints_and_db_disk_size_is_its_size(
    server: ServerProcess,
) -> None:
    wiz = await wizard(server)
    assert await wiz.command(";dump_database()", MARK) == ["=> 0"]
    finished = await wiz.expect(re.compile(r"Finished at .* The DB size was ([\d,]+) bytes"))
    written = re.search(r"The DB size was ([\d,]+) bytes", finished)
    assert written, finished
    size = int(written.group(1).replace(",", ""))
    assert await wiz.command(";db_disk_size()", MARK) == [f"=> {size}"]
    await wiz.close()


async def test_dot_flush_drops_the_waiting_lines_at_once(server: ServerProcess) -> None:
    wiz = await wizard(server)
    ref = await me(wiz)  # PREFIX and SUFFIX have run: a .flush would drop them too
    # Lines that arrive together wait in the queue; .flush drops them as it arrives.
    wiz.send_raw(b";1\r\nsay one\r\nsay two\r\n.flush\r\n")
    for line in [
        ">> Flushing the following pending input:",
        ">>     ;1",
        ">>     say one",
        ">>     say two",
        ">> (Done flushing)",
    ]:
        assert await wiz.read_line(10) == line
    assert await wiz.command(";1 + 2", MARK) == ["=> 3"]  # nothing else ran, nothing lost
    assert await wiz.command(f';set_connection_option({ref}, "flush-command", "!!")', MARK) == [
        "=> 0"
    ]
    assert await wiz.command(f';connection_option({ref}, "flush-command")', MARK) == ['=> "!!"']
    no_flush = f';set_connection_option({ref}, "flush-command", 0)'
    assert await wiz.command(no_flush, MARK) == ["=> 0"]
    for line in ("", ".flush"):  # no flush command now, and an empty line never is one
        assert not any(out.startswith(">>") for out in await wiz.command(line, MARK))
    await wiz.close()


async def test_hold_input_keeps_lines_for_read(server: ServerProcess) -> None:
    wiz = await wizard(server)
    held, name = await player(server, "held")
    ref = await number_of(wiz, name)
    assert await wiz.command(f';set_connection_option({ref}, "hold-input", 1)', MARK) == ["=> 0"]
    held.send_line("say held one")
    assert await held.read_line(0.5) is None  # not run as a command
    # read() takes it ...
    assert await wiz.command(f';notify({ref}, "read: " + read({ref}))', MARK) == []
    await held.expect("read: say held one")
    await wiz.expect("=> 1")  # the ; task (notify's value), done once read() had its line
    held.send_line("say held two")
    assert await held.read_line(0.5) is None
    # ... and when the hold ends, what waits runs as commands.
    assert await wiz.command(f';set_connection_option({ref}, "hold-input", 0)', MARK) == ["=> 0"]
    await held.expect('You say, "held two"', timeout=5)
    assert await wiz.command(f";connection_options({ref})", MARK) == [
        '=> {{"binary", 0}, {"hold-input", 0}, {"disable-oob", 0}, {"client-echo", 1}, '
        '{"flush-command", ".flush"}}'
    ]
    refused = await wiz.command(f';`set_connection_option({ref}, "binary", 1) ! ANY\'', MARK)
    assert refused == ["=> E_INVARG"]  # no binary mode here
    await held.close()
    await wiz.close()


async def test_client_echo_off_asks_the_client_not_to_echo(server: ServerProcess) -> None:
    wiz = await wizard(server)
    ref = await me(wiz)
    assert not wiz.iac.echo_off
    assert await wiz.command(f';set_connection_option({ref}, "client-echo", 0)', MARK) == ["=> 0"]
    assert wiz.iac.echo_off  # the server said WILL ECHO: it hides what is typed
    assert await wiz.command(f';connection_option({ref}, "client-echo")', MARK) == ["=> 0"]
    assert await wiz.command(f';set_connection_option({ref}, "client-echo", 1)', MARK) == ["=> 0"]
    assert not wiz.iac.echo_off
    await wiz.close()

"""``force_input``, ``flush_input``, ``output_delimiters``, ``dump_database`` and
``db_disk_size`` on a real server (a front and an engine, the default) over telnet. A forced
line is not one the client typed, so the front's numbering of typed lines must stay right:
the commands typed after it are still answered, once each."""

from __future__ import annotations

import re

from moo.net.telnet_client import TelnetClient
from tests.loopback.conftest import BEGIN, MARK, send_together, wizard
from tests.server_process import ServerProcess


async def me(client: TelnetClient) -> str:
    reply = await client.command(";player", MARK)
    found = re.fullmatch(r"=> (#\d+)", reply[-1])
    assert found, reply
    return found.group(1)


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

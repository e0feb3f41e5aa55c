"""Programming the world from inside it, over real telnet: ``;``, ``@verb``, ``@program``,
``@list`` ... A verb made this way survives a clean restart, a crash (kill -9, recovered from
the journal) and a hot upgrade; a runaway task is stopped while others are answered."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from moo.net.telnet_client import TelnetClient
from tests.loopback.conftest import MARK, player, wizard
from tests.loopback.upgrade_helpers import start, upgrade
from tests.server_process import ServerProcess

PROGRAM = [
    '"A greeting, with a sum to show arithmetic ran.";',
    "total = 0;",
    "for i in [1..4]",
    "  total = total + i;",
    "endfor",
    'player:tell("Hello from ", this.name, ": ", total);',
    "return total;",
]
LISTED = [
    '  1:  "A greeting, with a sum to show arithmetic ran.";',
    "  2:  total = 0;",
    "  3:  for i in [1..4]",
    "  4:    total = total + i;",
    "  5:  endfor",
    '  6:  player:tell("Hello from ", this.name, ": ", total);',
    "  7:  return total;",
]


async def program_verb(client: TelnetClient, ref: str, lines: list[str]) -> list[str]:
    """``@program ref``, the lines, ``.``; returns what the final ``.`` answered."""
    first = await client.command(f"@program {ref}", MARK)
    assert first[0].startswith("Now programming"), first
    for line in lines:
        assert await client.command(line, MARK) == [], line
    return await client.command(".", MARK)


async def test_eval_shows_values_errors_and_tracebacks(server: ServerProcess) -> None:
    wiz = await wizard(server)
    assert await wiz.command(";1 + 2", MARK) == ["=> 3"]
    assert await wiz.command(";{1, 2, 3}[2..$]", MARK) == ["=> {2, 3}"]
    assert await wiz.command(";`1/0 ! ANY'", MARK) == ["=> E_DIV"]
    assert await wiz.command(';"abc" == "ABC"', MARK) == ["=> 1"]
    assert await wiz.command(";me == player && here == player.location", MARK) == ["=> 1"]
    assert await wiz.command(";x = 5; return x * x;", MARK) == ["=> 25"]
    assert await wiz.command(";1/0", MARK) == [
        "#-1:Input to EVAL, line 1:  Division by zero",
        "(End of traceback)",
    ]
    assert (await wiz.command(";1 +", MARK))[0].startswith("Line 1:")
    await wiz.close()


async def test_a_programmer_makes_lists_runs_and_removes_a_verb(server: ServerProcess) -> None:
    wiz = await wizard(server)
    coder, name = await player(server, "coder")
    assert await coder.command(";1", MARK) == [
        "eval: only programmers may do that (a wizard can grant it)."
    ]
    granted = await wiz.command(f"@programmer {name}", MARK)
    assert re.fullmatch(rf"{name} \(#\d+\) is now a programmer\.", granted[0]), granted
    await coder.expect("You are now a programmer")
    assert (await coder.command("help programming", MARK))[0].startswith("Programmers (a wizard")
    added = await coder.command("@verb me:greet none none none", MARK)
    assert re.fullmatch(r"Verb added \(\d+\): #\d+:greet none none none\.", added[0]), added
    assert await program_verb(coder, "me:greet", PROGRAM) == ["0 errors.  Verb programmed."]
    assert await coder.command("greet", MARK) == [f"Hello from {name}: 10"]
    # Without the x bit a verb is a command only, not callable from code (LambdaMOO's rule).
    assert (await coder.command(";me:greet()", MARK))[0].endswith("Verb not found")
    assert (await coder.command("@chmod me:greet rxd", MARK))[0].endswith("set to rxd.")
    assert await coder.command(";me:greet()", MARK) == [f"Hello from {name}: 10", "=> 10"]
    listed = await coder.command("@list me:greet", MARK)
    assert listed[1:] == LISTED, listed
    assert re.fullmatch(r"#\d+:greet   none none none   \(rxd, owner #\d+\)", listed[0]), listed
    bad = await program_verb(coder, "me:greet", ["x = ;"])
    assert bad[-1] == "1 error(s).  Verb not programmed." and bad[0].startswith("Line 1:"), bad
    assert await coder.command("greet", MARK) == [f"Hello from {name}: 10"], "old program kept"
    assert (await coder.command("@rmverb me:greet", MARK))[0].endswith(":greet removed.")
    assert await coder.command("greet", MARK) == ["I don't understand that."]
    for client in (wiz, coder):
        await client.close()


PROGRAMMER_COMMANDS = [
    ";1 + 2",
    "@show me",
    "@edit me:foo",
    "@verb me:foo",
    "@program me:foo",
    "@list me:look",
    "@rmverb me:foo",
    "@args me:foo any",
    "@chmod me:foo rxd",
    "@rmproperty me.description",
]


@pytest.mark.parametrize("line", PROGRAMMER_COMMANDS)
async def test_programming_commands_are_refused_to_non_programmers(
    server: ServerProcess, line: str
) -> None:
    client, _ = await player(server, "plain")
    word = "eval" if line.startswith(";") else line.split()[0]
    assert await client.command(line, MARK) == [
        f"{word}: only programmers may do that (a wizard can grant it)."
    ]
    assert await client.command("say still here", MARK) == ['You say, "still here"']
    await client.close()


async def test_programmer_is_granted_by_wizards_only(server: ServerProcess) -> None:
    client, name = await player(server, "upstart")
    assert await client.command(f"@programmer {name}", MARK) == [
        "Sorry, @programmer is for wizards only."
    ]
    assert (await client.command(";1", MARK))[0].startswith("eval: only programmers")
    await client.close()


async def test_one_programmer_may_not_change_anothers_verb(server: ServerProcess) -> None:
    wiz = await wizard(server)
    owner, owner_name = await player(server, "owner")
    other, other_name = await player(server, "other")
    for name in (owner_name, other_name):
        await wiz.command(f"@programmer {name}", MARK)
    await owner.command("@verb me:mine none none none", MARK)
    assert await program_verb(owner, "me:mine", ['player:tell("mine");']) == [
        "0 errors.  Verb programmed."
    ]
    ref = f"{owner_name}:mine"  # matched by name: the owner is in the same room
    assert await other.command(f"@program {ref}", MARK) == ["Permission denied."]
    assert await other.command(f"@rmverb {ref}", MARK) == ["Permission denied."]
    assert await other.command(f"@chmod {ref} rwxd", MARK) == ["Permission denied."]
    assert await other.command(f"@verb {owner_name}:extra", MARK) == ["Permission denied."]
    # Readable (r) verbs may be listed by anyone who programs.
    assert (await other.command(f"@list {ref}", MARK))[1] == '  1:  player:tell("mine");'
    assert (await other.command(f"@chmod {ref} x", MARK)) == ["Permission denied."]
    where = (await owner.command("@list me:mine", MARK))[0].split("   ")[0]  # "#26:mine"
    assert await owner.command("@chmod me:mine x", MARK) == [f"{where} permissions set to x."]
    assert await other.command(f"@list {ref}", MARK) == ["Permission denied."]
    for client in (wiz, owner, other):
        await client.close()


async def test_a_runaway_task_is_stopped_and_others_are_answered_meanwhile(
    server: ServerProcess,
) -> None:
    wiz = await wizard(server)
    bystander, _ = await player(server, "bystander")
    wiz.send_line(";while (1) endwhile")
    started = time.monotonic()
    answers = [await bystander.command("say still answered", MARK) for _ in range(5)]
    assert answers == [['You say, "still answered"']] * 5
    assert await wiz.expect("Task ran out of ticks") and time.monotonic() - started < 30
    aborted = await wiz.command(";x = 0; while (1) x = x + 1; endwhile", MARK)
    assert aborted == ["#-1:Input to EVAL, line 1:  Task ran out of ticks", "(End of traceback)"]
    for client in (wiz, bystander):
        await client.close()


async def make_greeter(server: ServerProcess) -> TelnetClient:
    wiz = await wizard(server)
    await wiz.command("@verb me:greet none none none", MARK)
    assert await program_verb(wiz, "me:greet", PROGRAM) == ["0 errors.  Verb programmed."]
    assert await wiz.command("greet", MARK) == ["Hello from Wizard: 10"]
    return wiz


async def test_a_programmed_verb_survives_a_restart_and_a_crash(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", ssh=False).start()
    try:
        await (await make_greeter(server)).close()
        server.stop()
        server.start()  # a clean stop: the final checkpoint holds the verb
        wiz = await wizard(server)
        assert await wiz.command("greet", MARK) == ["Hello from Wizard: 10"]
        assert await program_verb(wiz, "me:greet", ['player:tell("changed");']) == [
            "0 errors.  Verb programmed."
        ]
        await wiz.close()
        server.kill()  # no final checkpoint: the journal has it
        server.wait_exit()
        server.start()
        wiz = await wizard(server)
        assert await wiz.command("greet", MARK) == ["changed"]
        assert (await wiz.command("@list me:greet", MARK))[1:] == ['  1:  player:tell("changed");']
        await wiz.close()
    finally:
        server.stop()


async def test_a_programmed_verb_survives_a_hot_upgrade(tmp_path: Path) -> None:
    server = start(tmp_path / "data")
    try:
        wiz = await make_greeter(server)
        await upgrade(server, wiz)
        assert await wiz.command("greet", MARK) == ["Hello from Wizard: 10"]
        await wiz.close()
    finally:
        server.stop()


async def test_program_lines_wait_while_others_play(server: ServerProcess) -> None:
    """A player in the middle of @program still hears the room; their lines are not commands."""
    wiz = await wizard(server)
    other, other_name = await player(server, "talker")
    await wiz.command("@verb me:quiet none none none", MARK)
    assert (await wiz.command("@program me:quiet", MARK))[0].startswith("Now programming")
    assert await wiz.command("say this is code, not speech", MARK) == []
    assert await other.command("say hello", MARK) == ['You say, "hello"']
    await wiz.expect(f'{other_name} says, "hello"')
    assert await wiz.command("@abort", MARK) == ["@program aborted; the verb is unchanged."]
    assert await wiz.command("say now it is speech", MARK) == ['You say, "now it is speech"']
    await asyncio.gather(wiz.close(), other.close())


async def test_show_lists_an_objects_own_verbs_and_properties(server: ServerProcess) -> None:
    wiz = await wizard(server)
    await wiz.command("@verb me:showme this none this", MARK)
    shown = await wiz.command("@show $room", MARK)
    assert shown[0] == "Object #3: Generic Room"
    assert any(
        line.strip().startswith("1.") and "accept" in line and "(MOO)" in line for line in shown
    ), shown
    assert any("say" in line and "(Python)" in line for line in shown), shown
    assert any(line.strip().startswith(".exits") and "owner #2" in line for line in shown), shown
    mine = await wiz.command("@show me", MARK)
    assert any("showme   this none this   rxd" in line for line in mine), mine
    await wiz.close()


async def test_edit_changes_a_program_line_by_line(server: ServerProcess) -> None:
    wiz = await wizard(server)
    await wiz.command("@verb me:edited none none none", MARK)
    assert await program_verb(wiz, "me:edited", ['player:tell("one");']) == [
        "0 errors.  Verb programmed."
    ]
    opened = await wiz.command("@edit me:edited", MARK)
    assert opened[0].startswith("Editing #2:edited (1 lines).")
    assert await wiz.command('app player:tell("three");', MARK) == ["Line 2 added."]
    assert await wiz.command('ins 2 player:tell("two");', MARK) == ["Line 2 inserted."]
    assert await wiz.command('rep 1 player:tell("ONE");', MARK) == ["Line 1 replaced."]
    assert await wiz.command("del 9", MARK) == ["A line number from 1 to 3, please."]
    assert await wiz.command("list", MARK) == [
        '  1:  player:tell("ONE");',
        '  2:  player:tell("two");',
        '  3:  player:tell("three");',
    ]
    assert await wiz.command("app x = ;", MARK) == ["Line 4 added."]
    refused = await wiz.command("save", MARK)
    assert refused[-1] == "1 error(s); not saved. Fix them, or abort.", refused
    assert await wiz.command("del 4", MARK) == ["Line 4 deleted."]
    assert await wiz.command("save", MARK) == ["Saved: verb programmed."]
    assert await wiz.command("edited", MARK) == ["ONE", "two", "three"]
    await wiz.command("@edit me:edited", MARK)
    assert await wiz.command("del 1", MARK) == ["Line 1 deleted."]
    assert await wiz.command("abort", MARK) == ["Edit abandoned; the verb is unchanged."]
    assert await wiz.command("edited", MARK) == ["ONE", "two", "three"]
    await wiz.close()

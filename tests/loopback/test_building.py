"""Building commands over telnet: they work for builders and wizards and are refused to others."""

from __future__ import annotations

import re

import pytest

from moo.net.telnet_client import TelnetClient
from tests.loopback.conftest import MARK, player, unique_name, wizard
from tests.server_process import ServerProcess

BUILDING_COMMANDS = [
    ("@create $thing named widget", "@create"),
    ("@dig Secret Room", "@dig"),
    ("@dig up to Attic", "@dig"),
    ("@describe lantern as Shiny.", "@describe"),
    ("@rename lantern to lamp", "@rename"),
    ("@recycle lantern", "@recycle"),
    ("@property lantern.color red", "@property"),
    ("@examine lantern", "@examine"),
    ("@move lantern to me", "@move"),
]

WIZARD_COMMANDS = ["@make-builder", "@make-wizard", "@shutdown", "@boot", "@digest", "@hot-upgrade"]


@pytest.mark.parametrize(("line", "command"), BUILDING_COMMANDS)
async def test_building_commands_are_refused_to_plain_players(
    server: ServerProcess, line: str, command: str
) -> None:
    client, _ = await player(server)
    lines = await client.command(line, MARK)
    assert lines == [f"Sorry, {command} is for builders only. Ask a wizard for @make-builder."]
    look = await client.command("look lantern", MARK)
    assert look[0] == "brass lantern", "the refused command must not have changed the lantern"
    await client.close()


@pytest.mark.parametrize("command", WIZARD_COMMANDS)
async def test_wizard_commands_are_refused_to_others(server: ServerProcess, command: str) -> None:
    plain, name = await player(server)
    builder, builder_name = await player(server, "builder")
    wiz = await wizard(server)
    await wiz.command(f"@make-builder {builder_name}", MARK)
    for client in (plain, builder):
        lines = await client.command(f"{command} {name}", MARK)
        assert lines == [f"Sorry, {command} is for wizards only."]
    assert server.running, "a refused @shutdown must not stop the server"
    assert await plain.command("say still connected", MARK) == ['You say, "still connected"']
    for client in (plain, builder, wiz):
        await client.close()


async def test_a_player_may_describe_and_rename_themselves(server: ServerProcess) -> None:
    client, name = await player(server)
    lines = await client.command("@describe me as Freckled.", MARK)
    assert re.fullmatch(rf"Description of {name} \(#\d+\) set\.", lines[0]), lines
    new_name = unique_name("renamed")
    lines = await client.command(f"@rename me to {new_name}", MARK)
    assert lines[0].endswith(f"is now called {new_name}.")
    assert await client.command("@rename me to Wizard", MARK) == [
        "The name 'Wizard' is already taken."
    ]
    await client.close()


async def own_id(client: TelnetClient) -> int:
    """The player's object number, from @describe's reply (works for plain players too)."""
    lines = await client.command("@describe me as Someone.", MARK)
    match = re.search(r"\(#(\d+)\)", lines[0])
    assert match, lines
    return int(match.group(1))


async def test_builder_builds_a_small_area(server: ServerProcess) -> None:
    wiz = await wizard(server)
    builder, name = await player(server, "builder")
    builder_id = await own_id(builder)
    assert await wiz.command(f"@make-builder {name}", MARK) == [
        f"{name} (#{builder_id}) is now a builder."
    ]
    await builder.expect("You are now a builder")
    examined = await builder.command("@examine me", MARK)
    assert "  .home = #10  (inherited)" in examined, examined  # an object-reference value

    room_name = unique_name("Workshop")
    lines = await builder.command(f"@dig {room_name}", MARK)
    room = int(re.search(r"\(#(\d+)\) created\.", lines[0]).group(1))  # type: ignore[union-attr]
    await builder.command(f"@go #{room}", MARK)
    lines = await builder.command(f"@dig east,e|west,w to {room_name}-annex", MARK)
    assert lines[0].endswith("created.") and lines[1].startswith("Exit east (#")
    assert lines[2].startswith("Exit west (#")
    assert (await builder.command("e", MARK))[0] == f"{room_name}-annex"
    assert (await builder.command("w", MARK))[0] == room_name
    # A second exit answering to a name already taken here is refused, and nothing is built.
    for spec in ("east", "E", "out,e", "e2|e"):  # the last: its way back clashes
        lines = await builder.command(f"@dig {spec} to #{room}", MARK)
        assert len(lines) == 1 and "already has an exit called" in lines[0], lines
        assert "@recycle it or choose another name." in lines[0]
    exits = [line for line in await builder.command("look", MARK) if line.startswith("Exits:")]
    assert exits == ["Exits: east."], exits

    lines = await builder.command("@create $thing named anvil,block", MARK)
    assert lines[0].startswith("You now have anvil (#")
    assert await builder.command("@describe anvil as Heavy iron.", MARK) == [
        lines[0].split(" now have ")[1].split(",")[0].replace("anvil", "Description of anvil")
        + " set."
    ]
    assert await builder.command("@property anvil.weight 120", MARK) == [
        "Property anvil.weight added with value 120."
    ]
    assert await builder.command('@property anvil.weight "heavy"', MARK) == [
        'anvil.weight set to "heavy".'
    ]
    bad = await builder.command('@property anvil.tags {1, #2, "x"', MARK)
    assert len(bad) == 1 and bad[0].startswith("Bad value at column"), bad
    examine = await builder.command("@examine block", MARK)
    assert examine[0].startswith("anvil (#") and "aliases: block" in examine[0]
    assert "Heavy iron." in examine
    assert '  .weight = "heavy"' in examine
    assert await builder.command("@rename anvil to hammer,mallet", MARK) == [
        examine[0].split("  ")[0] + " is now called hammer (aliases: mallet)."
    ]
    assert (await builder.command("look mallet", MARK))[:2] == ["hammer", "Heavy iron."]
    assert (await builder.command("@move hammer to here", MARK))[0].endswith(
        "moved to " + room_name + f" (#{room})."
    )
    lines = await builder.command("@recycle hammer", MARK)
    assert lines[0].startswith("hammer (#") and lines[0].endswith("recycled.")
    assert await builder.command("look hammer", MARK) == ['I see no "hammer" here.']

    # Someone else's things are not the builder's to change.
    assert await builder.command("@rename #10 to Mine", MARK) == [
        "You don't own The First Room (#10), so you can't rename it."
    ]
    assert await builder.command("@recycle #5", MARK) == [
        "You don't own Generic Thing (#5), so you can't recycle it."
    ]
    await builder.command("home", MARK)
    for client in (builder, wiz):
        await client.close()


async def test_wizard_powers(server: ServerProcess) -> None:
    wiz = await wizard(server)
    target, name = await player(server, "target")
    assert (await wiz.command(f"@make-wizard {name}", MARK))[0].endswith("is now a wizard.")
    await target.expect("You are now a wizard.")
    assert await target.command("@make-builder nobody-here", MARK) == [
        'There is no player named "nobody-here".'
    ]
    victim, victim_name = await player(server, "victim")
    assert (await target.command(f"@boot {victim_name} too noisy", MARK))[0].endswith(
        "has been booted."
    )
    await victim.expect("*** You have been booted: too noisy ***")
    assert await victim.wait_closed()
    assert await wiz.command("@recycle #0", MARK) == [
        "The System Object (#0) is part of the core world and cannot be recycled."
    ]
    for client in (target, wiz):
        await client.close()

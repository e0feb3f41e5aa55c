"""Playing over real telnet connections: talking, moving, things, the welcome screen."""

from __future__ import annotations

import time

from moo.net.telnet_client import TelnetClient
from tests.loopback.conftest import MARK, login, player, unique_name, wizard
from tests.server_process import ServerProcess


async def test_two_players_see_say_emote_and_page(server: ServerProcess) -> None:
    alice, a = await player(server, "alice")
    bob, b = await player(server, "bob")
    await alice.expect(f"{b} has connected.")

    assert await alice.command("say hi there", MARK) == ['You say, "hi there"']
    await bob.expect(f'{a} says, "hi there"')

    await bob.command('"quoted shortcut', MARK)
    await alice.expect(f'{b} says, "quoted shortcut"')

    assert await alice.command(":waves.", MARK) == [f"{a} waves."]
    await bob.expect(f"{a} waves.")

    assert await bob.command(f"page {a} psst", MARK) == [f'You page {a}, "psst"']
    await alice.expect(f'{b} pages, "psst"')

    lines = await alice.command("who", MARK)
    assert any(line.startswith(a) for line in lines) and any(line.startswith(b) for line in lines)

    await bob.command("@quit", MARK)
    await alice.expect(f"{b} has disconnected.")
    assert await bob.wait_closed()
    await alice.close()


async def test_page_to_unknown_or_absent_player(server: ServerProcess) -> None:
    alice, _ = await player(server)
    assert await alice.command("page nobody-such hello", MARK) == [
        'There is no player named "nobody-such".'
    ]
    assert await alice.command("page Wizard", MARK) == ["Usage: page <player> <message>"]
    await alice.close()


async def test_walking_through_exits(server: ServerProcess) -> None:
    walker, w = await player(server, "walker")
    watcher, wa = await player(server, "watcher")
    await walker.expect(f"{wa} has connected.")
    lines = await walker.command("n", MARK)
    assert lines[0] == "The Garden" and lines[-1] == "Exits: south."
    await watcher.expect(f"{w} goes north.")
    assert (await walker.command("go south", MARK))[0] == "The First Room"
    await watcher.expect(f"{w} arrives.")
    assert await walker.command("go nowhere-at-all", MARK) == [
        'You can\'t go "nowhere-at-all" from here.'
    ]
    await walker.command("north", MARK)
    lines = await walker.command("home", MARK)
    assert lines[:2] == ["You click your heels three times.", "The First Room"]
    assert await walker.command("home", MARK) == ["You are already at home."]
    assert await walker.command("xyzzy", MARK) == ["I don't understand that."]
    await walker.close()
    await watcher.close()


async def test_get_drop_give_inventory(server: ServerProcess) -> None:
    wiz = await wizard(server)
    thing = unique_name("pebble")
    await wiz.command(f"@create $thing named {thing}", MARK)
    await wiz.command(f"drop {thing}", MARK)
    alice, a = await player(server, "alice")
    bob, b = await player(server, "bob")
    await alice.expect(f"{b} has connected.")
    assert await alice.command(f"get {thing}", MARK) == [f"You take {thing}."]
    assert await alice.command("i", MARK) == ["You are carrying:", f"  {thing}"]
    assert await alice.command(f"get {thing}", MARK) == ["You already have that."]
    assert await alice.command(f"give {thing} to {b}", MARK) == [f"You give {thing} to {b}."]
    await bob.expect(f"{a} gives you {thing}.")
    assert await alice.command("inventory", MARK) == ["You are empty-handed."]
    assert await alice.command(f"drop {thing}", MARK) == [f'I see no "{thing}" here.']
    assert await bob.command(f"drop {thing}", MARK) == [f"You drop {thing}."]
    await alice.expect(f"{b} drops {thing}.")
    assert await alice.command("get unicorn", MARK) == ['I see no "unicorn" here.']
    look = await alice.command("look", MARK)
    assert any(thing in line for line in look if line.startswith("You see"))
    for client in (alice, bob, wiz):
        await client.close()


async def test_look_at_things_and_players(server: ServerProcess) -> None:
    alice, a = await player(server, "alice")
    await alice.command("@describe me as A tall figure.", MARK)
    bob, _ = await player(server, "bob")
    assert await bob.command(f"look {a}", MARK) == [a, "A tall figure."]
    assert await bob.command(f"look at {a}", MARK) == [a, "A tall figure."]
    lines = await bob.command("look lantern", MARK)
    assert lines[0] == "brass lantern"
    await alice.close()
    await bob.close()


async def test_help_topics(server: ServerProcess) -> None:
    alice, _ = await player(server)
    lines = await alice.command("help", MARK)
    assert lines[0].startswith("Help topics")
    assert any("@dig" in line for line in await alice.command("help building", MARK))
    assert await alice.command("help no-such-topic", MARK) == [
        'Sorry, there is no help on "no-such-topic". Type "help" for the topics.'
    ]
    await alice.close()


async def test_welcome_screen(server: ServerProcess) -> None:
    client = await TelnetClient.connect("127.0.0.1", server.telnet_port)
    await client.expect("connect <name> <password>")
    for typed, answer in (
        ("who", "connected."),
        (
            "connect Wizard wrong-password",
            "Either that player does not exist, or has a different password.",
        ),
        ("create Wizard whatever", "The name 'Wizard' is already taken."),
        ("create x pw", "Please choose a password of at least 4 characters."),
        ("create 9lives secret", "A name must start with a letter"),
        ("dance", "I don't understand that. Type 'help'"),
        ("quit", "Goodbye!"),
    ):
        client.send_line(typed)
        await client.expect(answer)
    assert await client.wait_closed()


async def echo_turns(client: TelnetClient, *, off: bool, timeout: float = 0.5) -> bool:
    """Whether the server turns echo ``off`` (or on) within ``timeout``.

    The WILL/WONT ECHO follows the line before it and may come in a later read, so this
    reads on (the client answers negotiation as it reads); sleeping would not see it.
    """
    deadline = time.monotonic() + timeout
    while client.iac.echo_off != off and time.monotonic() < deadline:
        await client.read_line(0.05)
    return client.iac.echo_off == off


async def test_password_prompt_hides_typing(server: ServerProcess) -> None:
    name = unique_name("shy")
    first = await login(server.telnet_port, name, "hidden-pw")
    await first.close()
    client = await TelnetClient.connect("127.0.0.1", server.telnet_port)
    client.send_line(f"connect {name}")
    await client.expect("Password:")
    assert await echo_turns(client, off=True), "server should offer WILL ECHO at the prompt"
    client.send_line("hidden-pw")
    await client.expect(f"*** Connected as {name} ***")
    assert await echo_turns(client, off=False), "echo must be back on after the password"
    await client.close()


async def test_second_login_redirects_the_first(server: ServerProcess) -> None:
    name = unique_name("twice")
    first = await login(server.telnet_port, name, "secret")
    second = await login(server.telnet_port, name, "secret", create=False)
    await first.expect("*** Redirected to another connection ***")
    assert await first.wait_closed()
    assert await second.command("say still here", MARK) == ['You say, "still here"']
    await second.close()


async def test_prefix_and_suffix_markers(server: ServerProcess) -> None:
    alice, _ = await player(server)
    alice.send_line("PREFIX <<<")
    assert await alice.command("say x", MARK, begin=None) == ["<<<", 'You say, "x"']
    alice.send_line("PREFIX")
    assert await alice.command("say y", MARK, begin=None) == ['You say, "y"']
    await alice.close()

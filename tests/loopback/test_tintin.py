"""MCCP2, GMCP and MSSP with a real MUD client: tintin++ (tt++) against the real server.

Each test writes a tintin script that connects, answers the server's lines with ``#action``s,
logs what tintin decoded with ``#event``s and ends itself; see tintin_helpers.py. The
byte-level checks of the same protocols are in test_mud_protocols.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from moo import __version__
from tests.loopback.conftest import unique_name
from tests.loopback.test_mud_protocols import MCCP2_START, Mccp2Reader
from tests.loopback.tintin_helpers import Relay, run_tintin, session
from tests.server_process import ServerProcess

# The server's banner comes after its option offers, so tintin has answered them (DO MCCP2,
# DO MSSP, the GMCP hello) before this action sends the first command.
LOGIN = "#action {Welcome to the world!} {create NAME tintin-pw};\n"


def login_script(name: str, rest: str) -> str:
    return LOGIN.replace("NAME", name) + rest


async def test_tintin_plays_over_mccp2_and_the_wire_is_compressed(
    server: ServerProcess, tmp_path: Path
) -> None:
    log = tmp_path / "game.log"
    script = login_script(
        unique_name("tzip"),
        "#config {MCCP} {ON};\n"
        "#config {DEBUG TELNET} {ON};\n"
        "#action {^Exits: north} {say squeezed};\n"
        '#action {^You say, "squeezed"} {#delay {0} {#end}};\n',
    )
    async with Relay(server.telnet_port) as relay:
        screen = await run_tintin(script + session(relay.port, log), tmp_path)
    text = log.read_text()
    # tintin decompressed the stream and logged plain game text.
    assert "MCCP2 INITIALIZED" in text, screen[-1500:]
    assert "The First Room" in text and 'You say, "squeezed"' in text, text[-1500:]
    # On the wire: the start marker, then zlib data (no plain text), which inflates to that text.
    wire = relay.from_server
    start = wire.find(MCCP2_START)
    assert start >= 0, wire[-300:]
    assert b"squeezed" not in wire[start:] and b"The First Room" not in wire[start:]
    stream = Mccp2Reader()
    stream.feed(wire)
    assert stream.streams == 1
    assert b"The First Room" in stream.text and b'You say, "squeezed"' in stream.text
    assert len(wire) - start < len(stream.text[start:]), "compressed output is not smaller"


async def test_tintin_with_mccp_off_gets_plain_text(server: ServerProcess, tmp_path: Path) -> None:
    log = tmp_path / "game.log"
    script = login_script(
        unique_name("tplain"),
        "#config {MCCP} {OFF};\n"
        "#action {^Exits: north} {say unsqueezed};\n"
        '#action {^You say, "unsqueezed"} {#delay {0} {#end}};\n',
    )
    async with Relay(server.telnet_port) as relay:
        await run_tintin(script + session(relay.port, log), tmp_path)
    assert 'You say, "unsqueezed"' in log.read_text()
    assert MCCP2_START not in relay.from_server  # tintin said DONT MCCP2: nothing compressed
    assert b'You say, "unsqueezed"' in relay.from_server


# tintin answers WILL GMCP with DONT GMCP unless told otherwise: this event accepts it and sends
# the hello and the packages wanted, the way tintin users do.
GMCP_HELLO = (
    "#event {IAC WILL GMCP} {"
    "#send {\\xFF\\xFD\\xC9\\};"
    '#send {\\xFF\\xFA\\xC9Core.Hello {"client": "tintin", "version": "2"}\\xFF\\xF0\\};'
    '#send {\\xFF\\xFA\\xC9Core.Supports.Set ["Room 1"]\\xFF\\xF0\\}'
    "};\n"
)


async def test_tintin_gets_room_info_at_login_and_on_moving(
    server: ServerProcess, tmp_path: Path
) -> None:
    events = tmp_path / "gmcp.log"
    # In this event %1 is the module and its JSON as sent (%0 is tintin's table of it).
    script = login_script(
        unique_name("tgmcp"),
        GMCP_HELLO + f"#event {{IAC SB GMCP Room.Info IAC SE}} {{#line log {events} {{%1}}}};\n"
        "#action {^Exits: north} {north};\n"
        "#action {^Exits: south} {say arrived};\n"
        '#action {^You say, "arrived"} {#delay {0} {#end}};\n',
    )
    screen = await run_tintin(script + session(server.telnet_port, tmp_path / "game.log"), tmp_path)
    assert events.exists(), f"tintin logged no Room.Info; screen: {screen[-1500:]}"
    lines = events.read_text().splitlines()
    rooms = [json.loads(line.removeprefix("Room.Info ")) for line in lines]
    assert len(rooms) == 2, lines
    first, moved = rooms
    assert first["name"] == "The First Room" and "north" in first["exits"]
    assert moved["num"] == first["exits"]["north"] and moved["name"] != first["name"]
    assert moved["exits"]["south"] == first["num"]


async def test_tintin_without_the_hello_gets_no_gmcp(server: ServerProcess, tmp_path: Path) -> None:
    events = tmp_path / "gmcp.log"
    script = login_script(
        unique_name("tnogmcp"),
        f"#event {{IAC SB GMCP}} {{#line log {events} {{%0}}}};\n"
        "#action {^Exits: north} {north};\n"
        "#action {^Exits: south} {say arrived};\n"
        '#action {^You say, "arrived"} {#delay {0} {#end}};\n',
    )
    log = tmp_path / "game.log"
    await run_tintin(script + session(server.telnet_port, log), tmp_path)
    assert "The Garden" in log.read_text()  # it did move
    assert not events.exists()


async def test_tintin_reads_the_mssp_table(server: ServerProcess, tmp_path: Path) -> None:
    events = tmp_path / "mssp.log"
    # tintin 2.02 leaves WILL MSSP unanswered unless telnet debugging is on: this event asks.
    # The table then comes before the login's reply.
    script = login_script(
        unique_name("tmssp"),
        "#event {IAC WILL MSSP} {#send {\\xFF\\xFD\\x46\\}};\n"
        f"#event {{IAC SB MSSP}} {{#line log {events} {{%0=%1}}}};\n"
        "#action {^Exits: north} {#delay {0} {#end}};\n",
    )
    screen = await run_tintin(script + session(server.telnet_port, tmp_path / "game.log"), tmp_path)
    assert events.exists(), f"tintin logged no MSSP; screen: {screen[-1500:]}"
    table = dict(line.split("=", 1) for line in events.read_text().splitlines())
    assert table["NAME"] == "LambdaMOO-in-Python"
    assert re.fullmatch(r"\d+", table["PLAYERS"]), table
    assert table["PORT"] == str(server.telnet_port)
    assert table["CODEBASE"] == f"moo {__version__}"
    assert table["GMCP"] == "1" and table["MCCP"] == "1"

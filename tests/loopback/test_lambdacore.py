"""LambdaCore served: a real server (a front and an engine) whose starting world is
LambdaMOO's classic core database, imported from its textdump (``core_db`` naming the
file), played over telnet. The server calls LambdaMOO's ``#0`` notifications as LambdaMOO
does (``user_connected``, ``user_created``, ``user_client_disconnected`` ...), so the
core's own verbs greet players, move them out of Limbo, announce arrivals and departures,
and run ``look``, ``say``, ``@create``, ``@dig`` and the rest."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from moo.net.telnet_client import TelnetClient
from moo.textdump.importer import import_world
from moo.textdump.reader import read_textdump
from tests.server_process import WIZARD_PASSWORD, ServerProcess
from tests.unit.lang.test_lambdacore_verbs import lambdacore

CONNECTED = re.compile(r"^\*\*\* Connected as ")


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("lambdacore") / "data"
    proc = ServerProcess(data, extra_config={"core_db": str(lambdacore())}, ssh=False).start()
    yield proc
    proc.stop()


async def arrive(port: int, line: str) -> tuple[TelnetClient, list[str]]:
    """A client that typed ``line`` on the welcome screen, and what it was shown up to and
    including the login's greeting (LambdaCore's news line ends it)."""
    client = await TelnetClient.connect("127.0.0.1", port)
    client.send_line(line)
    await client.expect(CONNECTED, 20)
    await client.expect("There is new news.", 20)
    return client, list(client.lines)


async def answer(client: TelnetClient, command: str, last: str) -> list[str]:
    """The lines after ``command`` up to and including the first one containing ``last``."""
    client.send_line(command)
    seen: list[str] = []
    while not seen or last not in seen[-1]:
        line = await client.read_line(10)
        assert line is not None, f"no {last!r} after {command!r}: {seen}"
        seen.append(line)
    return seen


async def test_the_wizard_is_greeted_by_the_core_and_plays(core: ServerProcess) -> None:
    wiz, shown = await arrive(core.telnet_port, f"connect Wizard {WIZARD_PASSWORD}")
    # The core's own welcome ($login.welcome_message), then #0:user_connected, whose
    # Limbo moved the Wizard to The First Room and showed it.
    assert shown[0] == "Welcome to the LambdaCore database."
    after = shown[next(i for i, line in enumerate(shown) if CONNECTED.match(line)) :]
    assert after[1:3] == ["The First Room", "This is all there is right now."]
    assert (await answer(wiz, "say Hello, core.", "You say"))[-1] == 'You say, "Hello, core."'
    assert (await answer(wiz, ";player.location", "=>"))[-1] == "=> #62  (The First Room)"
    made = await answer(wiz, "@create $thing named ball", "You now have ball")
    assert "parent generic thing (#5)" in made[-1]
    assert (await answer(wiz, "drop ball", "You drop"))[-1] == "You drop ball."
    await answer(wiz, "@dig north|south to Garden", 'via {"south"} created')
    assert (await answer(wiz, "north", "Garden"))[-1] == "Garden"
    assert (await answer(wiz, "south", "The First Room"))[-1] == "The First Room"
    await wiz.close()


async def test_arrivals_and_departures_are_the_cores(core: ServerProcess) -> None:
    wiz, _ = await arrive(core.telnet_port, f"connect Wizard {WIZARD_PASSWORD}")
    newcomer, shown = await arrive(core.telnet_port, "create Newcomer secret1")
    assert "Wizard is here." in shown  # #0:user_created: the core's look, in $player_start
    assert "Confunc failed" not in "\n".join(shown)  # a $player_class: mail and news work
    await wiz.expect("Newcomer has connected.", 10)
    newest = ";{max_object().name, parent(max_object())}"  # the newcomer was made last
    assert (await answer(wiz, newest, "=>"))[-1] == '=> {"Newcomer", #40}'  # $player_class
    newcomer.send_line("say Hi there.")
    await wiz.expect('Newcomer says, "Hi there."', 10)
    await newcomer.close()  # the client goes: #0:user_client_disconnected
    await wiz.expect("Newcomer has disconnected.", 10)
    await wiz.close()


async def test_a_textdump_that_does_not_read_refuses_the_start(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.db"
    lines = lambdacore().read_text(encoding="latin-1").split("\n")
    lines[1] = "many"  # the object count
    damaged.write_text("\n".join(lines), encoding="latin-1")
    refused = ServerProcess(tmp_path / "data", extra_config={"core_db": str(damaged)}, ssh=False)
    with pytest.raises(RuntimeError) as error:
        refused.start()
    assert "damaged.db" in str(error.value) and "line 2" in str(error.value), error.value
    assert refused.process is not None and refused.process.returncode != 0


async def test_a_shutdown_does_not_tell_the_world_everyone_left(tmp_path: Path) -> None:
    """As LambdaMOO: a client's close runs #0:user_client_disconnected (LambdaCore's sets
    ``last_disconnect_time``), but the server stopping closes everyone without it."""
    config = {"core_db": str(lambdacore())}
    first = ServerProcess(tmp_path / "data", extra_config=config, ssh=False)
    first.flags = ("--single-process",)
    first.start()
    watcher: TelnetClient | None = None
    try:
        wiz, _ = await arrive(first.telnet_port, f"connect Wizard {WIZARD_PASSWORD}")
        await answer(wiz, ";#2.last_disconnect_time = 7", "=> 7")
        await wiz.close()
        watcher, _ = await arrive(first.telnet_port, f"connect Wizard {WIZARD_PASSWORD}")
        stamped = (await answer(watcher, ";#2.last_disconnect_time > 7", "=>"))[-1]
        assert stamped == "=> 1"  # the client's close ran the core's verb
        await answer(watcher, ";#2.last_disconnect_time = 8", "=> 8")
    finally:
        first.stop()  # SIGTERM: the server closes the Wizard's connection itself
        if watcher is not None:
            await watcher.close()
    second = ServerProcess(tmp_path / "data", extra_config=config, ssh=False)
    second.flags = ("--single-process",)
    second.start()
    try:
        wiz, _ = await arrive(second.telnet_port, f"connect Wizard {WIZARD_PASSWORD}")
        assert (await answer(wiz, ";#2.last_disconnect_time", "=>"))[-1] == "=> 8"
        await wiz.close()
    finally:
        second.stop()


def moo_export(data_dir: Path, target: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "moo", "export", "--data-dir", str(data_dir), str(target)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


async def test_moo_export_writes_the_live_world_as_a_textdump(
    core: ServerProcess, tmp_path: Path
) -> None:
    wiz, _ = await arrive(core.telnet_port, f"connect Wizard {WIZARD_PASSWORD}")
    await answer(wiz, "@create $thing named crate", "You now have crate")
    target = tmp_path / "export.db"
    done = moo_export(core.data_dir, target)  # while the server runs: read-only recovery
    assert done.returncode == 0, done.stderr
    assert f"to {target}" in done.stdout
    world, report = import_world(read_textdump(target.read_bytes().decode("latin-1")))
    assert report.dropped == [] and report.repaired == []
    names = {obj.name for obj in world.objects.values()}
    assert {"Wizard", "The First Room", "crate", "Checkpointer"} <= names
    await wiz.close()


def test_moo_export_of_a_directory_with_no_world_says_so(tmp_path: Path) -> None:
    done = moo_export(tmp_path / "empty", tmp_path / "out.db")
    assert done.returncode == 2
    assert "holds no world yet" in done.stderr
    assert not (tmp_path / "out.db").exists()


def moo_import(source: Path, data_dir: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "moo", "import", "--data-dir", str(data_dir), str(source)]
    return subprocess.run([*command, *flags], capture_output=True, text=True, timeout=120)


async def test_moo_import_makes_a_data_directory_that_serves_lambdacore(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = moo_import(lambdacore(), data)
    assert done.returncode == 0, done.stderr
    assert "97 objects" in done.stdout
    served = ServerProcess(data, ssh=False).start()  # no core_db: the data dir's own world
    try:
        wiz, shown = await arrive(served.telnet_port, f"connect Wizard {WIZARD_PASSWORD}")
        assert shown[0] == "Welcome to the LambdaCore database."
        assert (await answer(wiz, "look", "This is all"))[-2:] == [
            "The First Room",
            "This is all there is right now.",
        ]
        await wiz.close()
    finally:
        served.stop()
    again = moo_import(lambdacore(), data)  # a world is there: refused, untouched
    assert again.returncode == 2 and "already holds a world" in again.stderr
    forced = moo_import(lambdacore(), data, "--force")
    assert forced.returncode == 0, forced.stderr
    assert [p.name.split(".replaced-")[0] for p in tmp_path.glob("data.replaced-*")] == ["data"]


def test_moo_import_of_a_damaged_file_leaves_nothing(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.db"
    lines = lambdacore().read_text(encoding="latin-1").split("\n")
    lines[1] = "many"
    damaged.write_text("\n".join(lines), encoding="latin-1")
    done = moo_import(damaged, tmp_path / "data")
    assert done.returncode == 2
    assert "damaged.db" in done.stderr and "line 2" in done.stderr
    assert not (tmp_path / "data").exists()

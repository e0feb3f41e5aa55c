"""``moo serve --metrics``: a real server, real telnet clients, real HTTP scrapes, parsed
with prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from moo.net.telnet_client import TelnetClient
from tests.loopback.conftest import MARK, player, wizard
from tests.loopback.metrics_helpers import scrape, sessions, value
from tests.server_process import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("metrics") / "data",
        listen={"metrics": "127.0.0.1:0"},
        extra_config={"persist": {"checkpoint_interval_seconds": 0}},
    ).start()
    yield proc
    proc.stop()


async def test_the_figures_move_with_commands_sessions_and_a_checkpoint(
    server: ServerProcess,
) -> None:
    port = server.ports["metrics"]
    assert any(line.startswith("metrics listening on 127.0.0.1:") for line in server.output)
    before = await scrape(port)
    wiz = await wizard(server)
    alice, _ = await player(server)
    bob, _ = await player(server)
    welcome = await TelnetClient.connect("127.0.0.1", server.telnet_port)
    await welcome.expect("create <name> <password>")
    sent = 0
    for i in range(10):
        for client in (alice, bob):
            assert await client.command(f"say hello {i}", MARK) == [f'You say, "hello {i}"']
            sent += 1
    assert await wiz.command("@checkpoint now", MARK) == ["Checkpoint started."]
    await wiz.expect("Checkpoint done", timeout=15)
    sent += 1
    after = await scrape(port)

    commands = value(after, "moo_commands_total") - value(before, "moo_commands_total")
    assert commands >= sent
    timed = value(after, "moo_command_duration_seconds_count")
    assert timed == value(after, "moo_commands_total")
    assert value(after, "moo_command_duration_seconds_bucket", le="+Inf") == timed
    assert 0 < value(after, "moo_command_duration_seconds_sum") < timed  # under 1 s each
    assert sessions(after, "telnet", "logged_in") == 3
    assert sessions(after, "telnet", "welcome") == 1
    assert sessions(after, "ssh", "logged_in") == 0
    assert value(after, "moo_checkpoint_duration_seconds_count") >= 1
    assert value(after, "moo_checkpoints_total", outcome="ok") >= 1
    assert value(after, "moo_checkpoints_total", outcome="failed") == 0
    assert value(after, "moo_checkpoint_stall_seconds_count") >= 1
    assert value(after, "moo_checkpoint_last_size_bytes") > 1000
    assert value(after, "moo_checkpoint_last_success_timestamp_seconds") > time.time() - 60
    assert value(after, "moo_checkpoint_running") == 0
    assert value(after, "moo_journal_failed") == 0
    assert value(after, "moo_upgrades_total", outcome="ok") == 0
    assert value(after, "process_resident_memory_bytes") > 0
    # The players' creation went to the journal: the everysec sync (or the checkpoint's
    # rotation) fsynced it.
    assert value(after, "moo_journal_fsync_duration_seconds_count") >= 1

    await welcome.close()
    await alice.close()
    deadline = time.monotonic() + 10
    while True:
        now = await scrape(port)
        if sessions(now, "telnet", "logged_in") == 2 and sessions(now, "telnet", "welcome") == 0:
            break
        assert time.monotonic() < deadline, now
        await asyncio.sleep(0.05)
    for client in (wiz, bob):
        await client.close()


async def test_a_wrong_path_or_method_gets_an_http_error_and_the_server_carries_on(
    server: ServerProcess,
) -> None:
    port = server.ports["metrics"]

    def status(path: str, method: str = "GET") -> int:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    assert await asyncio.to_thread(status, "/nothing") == 404
    assert await asyncio.to_thread(status, "/metrics", "POST") == 405
    # Garbage, and a client that sends half a request and goes away.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"\x16\x03\x01garbage\r\n\r\n")
    assert (await reader.read()).startswith(b"HTTP/1.1 400 Bad Request")
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /met")
    writer.close()
    assert value(await scrape(port), "moo_journal_failed") == 0

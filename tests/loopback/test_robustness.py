"""Bad input and greedy clients must not hurt the server or anyone else on it."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Iterator

import pytest

from moo.net.telnet_client import TelnetClient
from tests.loopback.conftest import MARK, login, player, unique_name
from tests.server_process import ServerProcess

LIMITS = {
    "limits": {
        "output_buffer_bytes": 65536,
        "output_stall_seconds": 2.0,
        "commands_per_second": 20.0,
        "command_burst": 10,
        "max_pending_lines": 50,
    },
    "login": {"max_failures": 3, "failure_window_seconds": 60.0, "lockout_seconds": 60.0},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("robust") / "data", LIMITS, ssh=False).start()
    yield proc
    proc.stop()


async def still_serving(server: ServerProcess) -> None:
    """A fresh player can log in and talk."""
    client, _ = await player(server, "fine")
    assert await client.command("say all good", MARK) == ['You say, "all good"']
    await client.close()


async def raw(server: ServerProcess) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", server.telnet_port)


async def test_random_bytes_do_not_disturb_others(server: ServerProcess) -> None:
    bystander, _ = await player(server, "bystander")
    rng = random.Random(1234)
    writers = []
    for _ in range(5):
        _reader, writer = await raw(server)
        for _ in range(50):
            writer.write(rng.randbytes(rng.randint(1, 2000)))
        await writer.drain()
        writers.append(writer)
    assert await bystander.command("say unbothered", MARK) == ['You say, "unbothered"']
    for writer in writers:
        writer.close()
    await still_serving(server)
    await bystander.close()


async def test_a_one_megabyte_line_is_refused_with_a_message(server: ServerProcess) -> None:
    client, _ = await player(server, "longline")
    bystander, _ = await player(server, "bystander")
    client.send_raw(b"say " + b"x" * (1 << 20) + b"\r\n")
    await client.drain()
    await client.expect("That line was too long (1048580 bytes; the limit is 4096)", timeout=15)
    assert await client.command("say short again", MARK) == ['You say, "short again"']
    assert await bystander.command("say fine", MARK) == ['You say, "fine"']
    await client.close()
    await bystander.close()


async def test_a_stream_of_iac_bytes(server: ServerProcess) -> None:
    bystander, _ = await player(server, "bystander")
    _reader, writer = await raw(server)
    for _ in range(64):
        writer.write(b"\xff" * 16384)
    writer.write(b"\xff\xfa" + b"\x18" * 5000)  # a subnegotiation that never ends
    await writer.drain()
    assert await bystander.command("say calm", MARK) == ['You say, "calm"']
    writer.close()
    await still_serving(server)
    await bystander.close()


@pytest.fixture
def fast_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Small output cap, short stall limit, and a command rate high enough to fill both."""
    limits = {
        "limits": {
            "output_buffer_bytes": 65536,
            "output_stall_seconds": 1.0,
            "commands_per_second": 2000.0,
            "command_burst": 100,
        }
    }
    proc = ServerProcess(tmp_path_factory.mktemp("fast") / "data", limits, ssh=False).start()
    yield proc
    proc.stop()


async def test_a_client_that_never_reads(fast_server: ServerProcess) -> None:
    """Its output is capped, then it is disconnected; others keep being served."""
    server = fast_server
    name = unique_name("sleepy")
    await (await login(server.telnet_port, name, "secret")).close()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # keep the kernel's share small
    sock.connect(("127.0.0.1", server.telnet_port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(f"connect {name} secret\r\n@describe me as {'z' * 3900}\r\n".encode())
    bystander, _ = await player(server, "bystander")
    # Ask for ~24 MB of output (4 KB a command), far more than the 64 KiB cap plus what the
    # kernel buffers, and read none of it for longer than output_stall_seconds.
    deadline = asyncio.get_running_loop().time() + 6.0
    while asyncio.get_running_loop().time() < deadline and not writer.is_closing():
        writer.write(b"look me\r\n" * 100)
        try:
            await asyncio.wait_for(writer.drain(), 1.0)
        except (TimeoutError, ConnectionError):
            break
        await asyncio.sleep(0.1)
    assert await bystander.command("say responsive", MARK) == ['You say, "responsive"']
    # Now read: whatever was queued arrives, then the server's close.
    received = 0
    while True:
        try:
            chunk = await asyncio.wait_for(reader.read(65536), 10)
        except ConnectionError:
            break
        if not chunk:
            break
        received += len(chunk)
    assert received < 12 << 20, f"{received} bytes: output beyond the cap must not pile up"
    writer.close()
    await still_serving(server)
    await bystander.close()


async def test_a_flooding_client_is_throttled_not_served_first(server: ServerProcess) -> None:
    flooder, _ = await player(server, "flooder")
    bystander, _ = await player(server, "bystander")
    for i in range(200):
        flooder.send_line(f"say flood {i}")
    await flooder.drain()
    assert await bystander.command("say me first", MARK) == ['You say, "me first"']
    # Every flood line is eventually answered, in order: throttling delays but never drops.
    seen = 0
    while seen < 200:
        line = await flooder.read_line(timeout=30)
        assert line is not None, f"only {seen} of 200 flood lines were answered"
        if line.startswith('You say, "flood '):
            assert line == f'You say, "flood {seen}"'
            seen += 1
    await flooder.close()
    await bystander.close()


async def test_wrong_password_is_refused_and_then_throttled(server: ServerProcess) -> None:
    name = unique_name("victim")
    victim = await login(server.telnet_port, name, "right-pw")
    await victim.close()
    attacker = await TelnetClient.connect("127.0.0.1", server.telnet_port)
    for _ in range(3):
        attacker.send_line(f"connect {name} wrong-pw")
        await attacker.expect("Either that player does not exist, or has a different password.")
    attacker.send_line(f"connect {name} right-pw")
    await attacker.expect("Too many failed logins; try again in")
    await attacker.close()
    await still_serving(server)


async def test_garbage_on_the_gate_socket_closes_only_that_connection(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    proc = ServerProcess(tmp_path_factory.mktemp("gate") / "data").start()
    try:
        gate_path = proc.data_dir / "run" / "gate.sock"
        reader, writer = await asyncio.open_unix_connection(str(gate_path))
        writer.write(b"\x00\x00\x00\x05hello")  # a frame whose body is not JSON
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
        writer.close()
        await still_serving(proc)
    finally:
        proc.stop()

"""``moo serve --telnet-tls``: real TLS clients (Python's ``ssl``, verifying the server's
self-signed certificate) beside plain telnet players, bad clients, and a hot upgrade."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from moo.net.telnet_client import TelnetClient
from tests.loopback.conftest import MARK, login, player, wizard
from tests.loopback.metrics_helpers import scrape, value
from tests.loopback.upgrade_helpers import (
    UPGRADE_CONFIG,
    failed_upgrade,
    program,
    still_talking,
    upgrade,
)
from tests.server_process import ServerProcess

TLS_RECONNECT = "*** The server is being upgraded; please reconnect ***"


def client_context(data_dir: Path) -> ssl.SSLContext:
    """Trusts exactly the certificate the server made on its first start."""
    return ssl.create_default_context(cafile=data_dir / "tls-cert.pem")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("tls") / "data", listen={"telnet-tls": "127.0.0.1:0"}
    ).start()
    yield proc
    proc.stop()


async def tls_player(server: ServerProcess, name: str) -> TelnetClient:
    context = client_context(server.data_dir)
    return await login(server.ports["telnet-tls"], name, "secret", tls=context)


def raw_exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` on a plain socket; everything the server says until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


async def test_a_tls_player_plays_beside_plain_telnet(server: ServerProcess) -> None:
    assert any(line.startswith("telnet-tls listening on ") for line in server.output)
    assert any("made a self-signed TLS certificate" in line for line in server.stderr_lines)
    for name in ("tls-cert.pem", "tls-key.pem"):
        mode = (server.data_dir / name).stat().st_mode
        assert stat.S_IMODE(mode) == 0o600, (name, oct(mode))
    secure = await tls_player(server, "secure")
    plain, _ = await player(server)
    assert await secure.command("@terminal", MARK) == [
        "Connection: telnet over TLS; window: unknown; terminal: unknown; echo: normal."
    ]
    assert await secure.command("say over TLS", MARK) == ['You say, "over TLS"']
    await plain.expect('secure says, "over TLS"')
    assert await plain.command("say in the clear", MARK) == ['You say, "in the clear"']
    await secure.expect('says, "in the clear"')
    await secure.close()
    await plain.close()


async def test_a_client_that_does_not_verify_the_certificate_it_is_given_is_refused(
    server: ServerProcess,
) -> None:
    """The default trust store does not know the self-signed certificate: the check that
    the test above passes is a real one."""
    with pytest.raises(ssl.SSLCertVerificationError):
        await TelnetClient.connect(
            "127.0.0.1", server.ports["telnet-tls"], tls=ssl.create_default_context()
        )


async def test_bad_clients_on_the_tls_port_are_closed_without_disturbing_players(
    server: ServerProcess,
) -> None:
    port = server.ports["telnet-tls"]
    secure = await tls_player(server, "steady")
    plain, _ = await player(server)
    # Plain telnet at the TLS port: told in plain text, closed.
    said = await asyncio.to_thread(raw_exchange, port, b"connect someone pw\r\n")
    assert said == (
        b"This port speaks telnet over TLS: connect with a TLS client, or use the plain "
        b"telnet port.\r\n"
    )
    # A TLS record header followed by garbage: a failed handshake, closed (with an alert).
    said = await asyncio.to_thread(raw_exchange, port, b"\x16\x03\x01\x00\x05" + b"\xff" * 5000)
    assert len(said) < 100, said
    # Random bytes that happen to start like a handshake, then silence from the client:
    # the server waits for more, so the client closes; nothing breaks.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"\x16\x03")
    # Everyone else carries on, and a new TLS client still gets in.
    await still_talking([secure, plain], "still here")
    late = await tls_player(server, "late")
    assert await late.command("say late", MARK) == ['You say, "late"']
    for client in (secure, plain, late):
        await client.close()


async def test_an_upgrade_tells_tls_players_to_reconnect_and_carries_the_rest(
    tmp_path: Path,
) -> None:
    """A single-process server's upgrade: TLS state cannot move to the new process, so
    TLS players get one line and are closed once it serves; plain telnet players stay
    connected; the TLS and metrics listeners carry on in the new process (the replacement
    counts the upgrade). Behind a front, TLS players stay: tests/loopback/test_front.py."""
    server = ServerProcess(
        tmp_path / "data",
        extra_config=UPGRADE_CONFIG,
        listen={"telnet-tls": "127.0.0.1:0", "metrics": "127.0.0.1:0"},
        flags=("--single-process",),
    ).start()
    try:
        wiz = await wizard(server)
        plain, _ = await player(server)
        secure = await tls_player(server, "secure")
        await upgrade(server, wiz)
        await secure.expect(TLS_RECONNECT, timeout=15)
        assert await secure.wait_closed(10), "the TLS player must be closed"
        assert any(re.search(r"closed 1 TLS connection", line) for line in server.stderr_lines)
        await still_talking([wiz, plain], "after")
        again = await login(
            server.ports["telnet-tls"],
            "secure",
            "secret",
            create=False,
            tls=client_context(server.data_dir),
        )
        assert await again.command("say back", MARK) == ['You say, "back"']
        samples = await scrape(server.ports["metrics"])
        assert value(samples, "moo_upgrades_total", outcome="ok") == 1
        assert value(samples, "moo_sessions", transport="telnet-tls", state="logged_in") == 1
        assert value(samples, "moo_sessions", transport="telnet", state="logged_in") == 2
        for client in (wiz, plain, again):
            await client.close()
    finally:
        server.stop()


async def test_an_upgrade_that_fails_after_the_freeze_leaves_tls_players_connected(
    tmp_path: Path,
) -> None:
    """The replacement takes the sockets and never answers READY: the running server
    thaws, and its TLS players carry on as if nothing happened."""
    server = ServerProcess(
        tmp_path / "data", extra_config=UPGRADE_CONFIG, listen={"telnet-tls": "127.0.0.1:0"}
    ).start()
    try:
        wiz = await wizard(server)
        secure = await tls_player(server, "secure")
        line = await failed_upgrade(server, wiz, "to " + program("hangs_after_freeze.py"))
        assert "did not send READY" in line
        await still_talking([secure, wiz], "after")
        assert not any(TLS_RECONNECT in text for text in secure.lines)
        for client in (wiz, secure):
            await client.close()
    finally:
        server.stop()


def test_a_configured_certificate_that_is_missing_stops_the_start_naming_it(
    tmp_path: Path,
) -> None:
    missing = ServerProcess(
        tmp_path / "data",
        ssh=False,
        extra_config={"tls": {"cert": str(tmp_path / "none.pem"), "key": str(tmp_path / "k")}},
        listen={"telnet-tls": "127.0.0.1:0"},
    )
    with pytest.raises(RuntimeError, match=r"moo: tls.cert: \S*none.pem does not exist"):
        missing.start()
    assert missing.process is not None and missing.process.returncode == 2
    assert not (tmp_path / "none.pem").exists()

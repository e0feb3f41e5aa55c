"""Which side ended a connection, as the world's disconnect notification names it
(``#0:user_client_disconnected`` for the client's, ``user_disconnected`` for the
server's): every reason the transports give (moo/net/events.py)."""

from __future__ import annotations

import pytest

from moo.net.events import client_closed


@pytest.mark.parametrize(
    "reason",
    [
        "closed by client",  # telnet EOF, a browser's close (moo/net/connection.py, web.py)
        "read error: Connection reset by peer",
        "write error: Broken pipe",
        "client closed the session",  # moo/net/ssh_gate.py
        "ssh connection lost: Connection lost",
    ],
)
def test_the_clients_side(reason: str) -> None:
    assert client_closed(reason)


@pytest.mark.parametrize(
    "reason", ["quit", "redirected", "booted", "login timeout", "server shutting down", ""]
)
def test_the_servers_side(reason: str) -> None:
    assert not client_closed(reason)

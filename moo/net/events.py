"""Events that codecs produce from incoming bytes.

A codec (telnet, SSH gate) turns bytes into these plain records; the
connection hands them to its session. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

# Why a connection ended, when the client's side ended it (its close, a broken socket, an
# SSH client leaving): the reasons the transports give, and the test a world's disconnect
# notification uses (#0:user_client_disconnected rather than user_disconnected).
CLIENT_CLOSED = "closed by client"
SSH_CLIENT_CLOSED = "client closed the session"
READ_ERROR = "read error"
WRITE_ERROR = "write error"
SSH_LOST = "ssh connection lost"


def client_closed(reason: str) -> bool:
    """Whether ``reason`` says the client's side ended the connection, not the server
    (quit, boot, a timeout, the server stopping)."""
    return reason in (CLIENT_CLOSED, SSH_CLIENT_CLOSED) or reason.startswith(
        (READ_ERROR, WRITE_ERROR, SSH_LOST)
    )


@dataclass(frozen=True, slots=True)
class LineReceived:
    """A complete input line, decoded to text, without its line ending."""

    text: str


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """An input line passed the length limit; its bytes were discarded up to the next newline."""

    length: int


@dataclass(frozen=True, slots=True)
class WindowSize:
    """The client's terminal size (telnet NAWS, SSH window change)."""

    cols: int
    rows: int


@dataclass(frozen=True, slots=True)
class TerminalType:
    """The client's terminal type (telnet TTYPE, SSH pty request)."""

    name: str


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """SSH gate: check a login. ``method`` is "password" or "publickey"; ``secret`` is the
    password or the public key in OpenSSH one-line format."""

    user: str
    method: str
    secret: str


@dataclass(frozen=True, slots=True)
class SessionOpen:
    """SSH gate: the authenticated user opened a shell session."""

    term: str
    cols: int
    rows: int


@dataclass(frozen=True, slots=True)
class ControlHello:
    """SSH gate: this connection is the gate's control line (its lifeline), from process ``pid``."""

    pid: int


@dataclass(frozen=True, slots=True)
class PeerClosed:
    """The peer said it is closing (gate ``close`` frame)."""

    reason: str


@dataclass(frozen=True, slots=True)
class MsspRequested:
    """The client (a MUD crawler, usually) agreed to MSSP: send it the server's facts."""


@dataclass(frozen=True, slots=True)
class GmcpReceived:
    """A GMCP message from the client: ``package`` (``Core.Hello``) and its JSON text."""

    package: str
    data: str


Event = (
    LineReceived
    | LineTooLong
    | WindowSize
    | TerminalType
    | AuthRequest
    | SessionOpen
    | ControlHello
    | PeerClosed
    | MsspRequested
    | GmcpReceived
)

"""A session: one person at the other end of some transport, logged in or not.

It knows who is connected (an opaque player id once logged in), the lines
waiting to run, the client's output markers and its command budget. It knows
nothing of rooms or verbs, and nothing of sockets: telnet and SSH-gate
connections both meet it through ``Transport``. Everything here is plain data,
so a hot upgrade can write a session down and rebuild it in another process.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import msgspec

SESSION_STATE_VERSION = 1

# Where a session is: on the welcome screen, at the password prompt (``name`` typed),
# through SSH authentication but not yet in a session channel (``name`` is the player),
# or connected as a player.
Stage = Literal["welcome", "password", "ssh-authenticated", "connected"]


class ForcedLine(str):
    """A line ``force_input()`` queued: it runs as a typed one does, but the client never
    sent it, so a front's numbering of typed lines must not count it."""

    __slots__ = ()


class Transport(Protocol):
    """A session's client connection: a socket here (``Connection``) or one the front
    holds (the engine's ``RemoteTransport``)."""

    kind: str
    peer: str
    closed: bool

    def send_text(self, text: str) -> None: ...

    def send_gmcp(self, package: str, payload: str) -> None: ...

    def send_mssp(self, table: dict[str, str | list[str]]) -> None: ...

    def send_auth_result(self, ok: bool, reason: str) -> None: ...

    @property
    def gmcp_enabled(self) -> bool: ...

    @property
    def echo_off(self) -> bool: ...

    @property
    def window(self) -> tuple[int, int] | None: ...

    @property
    def terminal_type(self) -> str | None: ...

    def set_echo(self, server_echoes: bool) -> None: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def close(self, reason: str) -> None: ...


@dataclass
class LoginState:
    """Where a session is in logging in (``Stage``)."""

    stage: Stage = "welcome"
    name: str = ""  # the name typed before a password prompt


@dataclass
class TokenBucket:
    """Commands allowed per second, with a burst."""

    rate: float
    burst: float
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def take(self, now: float) -> float:
        """Take one token; return 0 if taken, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate if self.rate > 0 else 1.0


class Session:
    """One connection's person: login state, input queue, output markers."""

    def __init__(self, sid: int, transport: Transport, *, rate: float, burst: int) -> None:
        self.id = sid
        self.transport = transport
        self.player: int | None = None
        self.login = LoginState()
        self.pending: deque[str] = deque()
        self.busy = False  # a line of this session is being handled asynchronously
        # That line and the login state before it: if a hot upgrade freezes before it is
        # done, the replacement runs it again from that state.
        self.in_flight: tuple[str, Stage, str] | None = None
        self.connected_at = time.monotonic()
        self.last_input = self.connected_at
        self.output_prefix: str | None = None
        self.output_suffix: str | None = None
        self.gmcp_supports: set[str] = set()  # GMCP packages the client named (lower case)
        self.budget = TokenBucket(rate=rate, burst=float(burst))
        self.closed = False
        # LambdaMOO's connection options (``set_connection_option``). ``flush_command``:
        # None until the first line after login, which takes the world's default.
        self.hold_input = False
        self.client_echo = True
        self.flush_command: str | None = None
        self.disable_oob = False  # ``#$#`` lines are typed lines like any other

    @property
    def logged_in(self) -> bool:
        return self.player is not None

    def tell(self, text: str) -> None:
        """Send text followed by a newline (nothing if the transport is gone)."""
        if not self.transport.closed:
            self.transport.send_text(text + "\n")

    def tell_lines(self, lines: list[str]) -> None:
        if lines and not self.transport.closed:
            self.transport.send_text("\n".join(lines) + "\n")

    def set_echo(self, server_echoes: bool) -> None:
        self.transport.set_echo(server_echoes)

    def export_state(self, now: float) -> dict[str, object]:
        """The session as plain data, for a hot upgrade (times become ages: clocks differ)."""
        pending = list(self.pending)
        stage, name = self.login.stage, self.login.name
        if self.in_flight is not None:
            line, stage, name = self.in_flight
            pending.insert(0, line)
        return {
            "version": SESSION_STATE_VERSION,
            "id": self.id,
            "player": self.player,
            "login": {"stage": stage, "name": name},
            "pending": [str(line) for line in pending],  # a ForcedLine is no encodable str
            "connected_for": now - self.connected_at,
            "idle_for": now - self.last_input,
            "prefix": self.output_prefix,
            "suffix": self.output_suffix,
            "tokens": self.budget.tokens,
            "gmcp_supports": sorted(self.gmcp_supports),
            "forced": [n for n, line in enumerate(pending) if line.__class__ is ForcedLine],
            "hold_input": self.hold_input,
            "client_echo": self.client_echo,
            "flush_command": self.flush_command,
            "disable_oob": self.disable_oob,
        }

    @classmethod
    def from_state(
        cls, state: dict[str, Any], transport: Transport, *, rate: float, burst: int, now: float
    ) -> Session:
        """Rebuild an exported session on ``transport``. ValueError if the state is not ours
        (validated by msgspec: a thousand sessions are rebuilt while every player waits)."""
        if not isinstance(state, dict) or state.get("version") != SESSION_STATE_VERSION:
            version = state.get("version") if isinstance(state, dict) else state
            raise ValueError(f"session state version {version!r} is not supported")
        try:
            valid = msgspec.convert(state, _State)
        except msgspec.ValidationError as error:
            raise ValueError(f"session state: {error}") from None
        session = cls(valid.id, transport, rate=rate, burst=burst)
        session.player = valid.player
        session.login = LoginState(valid.login.stage, valid.login.name)
        forced = set(valid.forced)
        session.pending = deque(
            ForcedLine(line) if n in forced else line for n, line in enumerate(valid.pending)
        )
        session.connected_at = now - valid.connected_for
        session.last_input = now - valid.idle_for
        session.output_prefix = valid.prefix
        session.output_suffix = valid.suffix
        if valid.tokens is not None:
            session.budget.tokens = valid.tokens
        session.gmcp_supports = set(valid.gmcp_supports)
        session.hold_input = valid.hold_input
        session.client_echo = valid.client_echo
        session.flush_command = valid.flush_command
        session.disable_oob = valid.disable_oob
        return session

    def idle_seconds(self, now: float) -> float:
        return now - self.last_input

    def connected_seconds(self, now: float) -> float:
        return now - self.connected_at


class _Login(msgspec.Struct, frozen=True):
    stage: Stage = "welcome"
    name: str = ""


class _State(msgspec.Struct, frozen=True):
    """``Session.export_state()`` as ``from_state`` validates it."""

    version: int
    id: int
    player: int | None = None
    login: _Login = msgspec.field(default_factory=_Login)
    pending: list[str] = msgspec.field(default_factory=list)
    connected_for: float = 0.0
    idle_for: float = 0.0
    prefix: str | None = None
    suffix: str | None = None
    tokens: float | None = None
    gmcp_supports: list[str] = msgspec.field(default_factory=list)
    forced: list[int] = msgspec.field(default_factory=list)  # pending's ForcedLines
    hold_input: bool = False
    client_echo: bool = True
    flush_command: str | None = None
    disable_oob: bool = False

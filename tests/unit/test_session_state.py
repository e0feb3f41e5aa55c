"""A session written down for a hot upgrade comes back the same (pure, no sockets)."""

from __future__ import annotations

import json
from typing import get_args

import pytest

from moo.net.session import SESSION_STATE_VERSION, LoginState, Session, Stage


class FakeTransport:
    """A ``Transport`` that sends nothing: these tests only write sessions down."""

    kind = "telnet"
    peer = "127.0.0.1:1"
    closed = False
    gmcp_enabled = False
    echo_off = False
    window: tuple[int, int] | None = None
    terminal_type: str | None = None

    def send_text(self, text: str) -> None: ...

    def send_gmcp(self, package: str, payload: str) -> None: ...

    def send_mssp(self, table: dict[str, str | list[str]]) -> None: ...

    def send_auth_result(self, ok: bool, reason: str) -> None: ...

    def set_echo(self, server_echoes: bool) -> None: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def close(self, reason: str) -> None: ...


def test_a_password_prompt_session_round_trips_and_stays_logged_out() -> None:
    session = Session(7, FakeTransport(), rate=10.0, burst=20)
    session.login = LoginState("password", "alice")
    session.pending.extend(["look", "say hi"])
    session.output_suffix = "--done--"
    session.budget.tokens = 3.5
    session.connected_at, session.last_input = 100.0, 140.0
    state = json.loads(json.dumps(session.export_state(now=150.0)))
    back = Session.from_state(state, FakeTransport(), rate=10.0, burst=20, now=1000.0)
    assert back.player is None and not back.logged_in
    assert (back.login.stage, back.login.name) == ("password", "alice")
    assert list(back.pending) == ["look", "say hi"]
    assert (back.output_prefix, back.output_suffix) == (None, "--done--")
    assert back.budget.tokens == 3.5
    assert back.connected_seconds(1000.0) == pytest.approx(50.0)
    assert back.idle_seconds(1000.0) == pytest.approx(10.0)


def test_a_logged_in_session_keeps_its_player() -> None:
    session = Session(1, FakeTransport(), rate=1.0, burst=1)
    session.player = 42
    back = Session.from_state(
        session.export_state(now=0.0), FakeTransport(), rate=1.0, burst=1, now=0.0
    )
    assert back.player == 42 and back.logged_in


def test_an_unknown_state_version_is_refused() -> None:
    state = Session(1, FakeTransport(), rate=1.0, burst=1).export_state(now=0.0)
    state["version"] = SESSION_STATE_VERSION + 1
    with pytest.raises(ValueError, match="not supported"):
        Session.from_state(state, FakeTransport(), rate=1.0, burst=1, now=0.0)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("player", "Wizard", r"Expected `int \| null`, got `str` - at `\$.player`"),
        ("login", {"stage": "elsewhere"}, r"Invalid enum value 'elsewhere'"),
        ("pending", ["look", 5], r"Expected `str`, got `int`"),
        ("id", None, r"Expected `int`, got `null` - at `\$.id`"),
        ("tokens", "many", r"at `\$.tokens`"),
    ],
)
def test_a_malformed_state_is_refused_naming_the_field(
    key: str, value: object, message: str
) -> None:
    state = Session(1, FakeTransport(), rate=1.0, burst=1).export_state(now=0.0)
    state[key] = value
    with pytest.raises(ValueError, match=message):
        Session.from_state(state, FakeTransport(), rate=1.0, burst=1, now=0.0)


def test_a_state_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValueError, match="not supported"):
        Session.from_state([1], FakeTransport(), rate=1.0, burst=1, now=0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("stage", get_args(Stage))
def test_every_login_stage_round_trips(stage: Stage) -> None:
    session = Session(1, FakeTransport(), rate=1.0, burst=1)
    session.login = LoginState(stage, "7")
    state = json.loads(json.dumps(session.export_state(now=0.0)))
    back = Session.from_state(state, FakeTransport(), rate=1.0, burst=1, now=0.0)
    assert (back.login.stage, back.login.name) == (stage, "7")


def test_forced_lines_stay_forced_across_an_upgrade() -> None:
    """A ``force_input`` line is not one the client typed: a front numbers only typed lines,
    so the replacement must still know which waiting lines were forced."""
    import msgspec

    from moo.net.session import ForcedLine

    session = Session(9, FakeTransport(), rate=10.0, burst=20)
    session.player = 4
    session.login = LoginState("connected", "bob")
    session.pending.extend(["look", ForcedLine("say forced"), "say typed"])
    encoded = msgspec.msgpack.encode(session.export_state(now=10.0))
    state = msgspec.msgpack.decode(encoded)
    back = Session.from_state(state, FakeTransport(), rate=10.0, burst=20, now=20.0)
    assert list(back.pending) == ["look", "say forced", "say typed"]
    assert [line.__class__ is ForcedLine for line in back.pending] == [False, True, False]
    del state["forced"]  # a state written before forced lines existed: all typed
    old = Session.from_state(state, FakeTransport(), rate=10.0, burst=20, now=20.0)
    assert not any(line.__class__ is ForcedLine for line in old.pending)


def test_the_connection_options_round_trip_and_an_older_state_has_the_defaults() -> None:
    session = Session(3, FakeTransport(), rate=1.0, burst=1)
    session.hold_input, session.client_echo = True, False
    session.disable_oob, session.flush_command = True, ".stop"
    state = session.export_state(now=0.0)
    back = Session.from_state(state, FakeTransport(), rate=1.0, burst=1, now=0.0)
    assert (back.hold_input, back.client_echo, back.disable_oob, back.flush_command) == (
        True,
        False,
        True,
        ".stop",
    )
    for key in ("hold_input", "client_echo", "disable_oob", "flush_command"):
        del state[key]  # a server before these options wrote none of them
    older = Session.from_state(state, FakeTransport(), rate=1.0, burst=1, now=0.0)
    assert (older.hold_input, older.client_echo, older.disable_oob) == (False, True, False)
    assert older.flush_command is None

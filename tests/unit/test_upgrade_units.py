"""The pure parts of a hot upgrade: choosing the level from HELLO, catching up with the
journal read-only, a session handed over mid-login, and the serve arguments passed on."""

from __future__ import annotations

import asyncio
import gc
import socket
import weakref
from pathlib import Path
from typing import Any

import msgspec
import pytest

from moo.accounts import Passwords
from moo.cli import serve_arguments
from moo.config import Config
from moo.errors import ProtocolError
from moo.gc_control import adopting
from moo.net.connection import Connection
from moo.net.session import Session
from moo.net.telnet_codec import TelnetCodec
from moo.persist import journal_format as jf
from moo.persist.recovery import RecoveryError, catch_up, recover
from moo.protocol.upgrade import HANDOFF_PROTOCOL, Hello, decode_hello
from moo.server import Server
from moo.upgrade import adopt, protocol
from moo.world import mutations as m
from moo.world.loader import build_core_world
from tests.unit.test_journal_gap import write_frames
from tests.unit.test_session_state import FakeTransport


def hello(**changes: Any) -> Hello:
    """Our HELLO with ``changes``, through the wire: as the running server reads it."""
    message = msgspec.to_builtins(protocol.hello({"world": "ok", "verbs": "ok"}, 0.5))
    message.update(changes)
    decoded = decode_hello(msgspec.json.encode(message))
    assert isinstance(decoded, Hello)
    return decoded


def test_a_replacement_that_reads_everything_gets_level_1() -> None:
    plan = protocol.choose_level(hello())
    assert (plan.level, plan.why) == (1, "")


def test_another_session_state_version_gets_level_2() -> None:
    reads = {**protocol.reads(), "session_state": [7]}
    plan = protocol.choose_level(hello(reads=reads))
    assert plan.level == 2 and "session state version 1" in plan.why


def test_no_socket_adoption_gets_level_3() -> None:
    plan = protocol.choose_level(hello(accepts=["restart"]))
    assert plan.level == 3


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"protocol": 1}, "handoff protocol 1"),
        ({"checks": {"verbs": "3 verb(s) have no code"}}, "self-checks failed: verbs: 3 verb"),
        ({"reads": {**protocol.reads(), "journal": [9]}}, "journal format"),
        ({"reads": "nonsense"}, r"bad HELLO: Expected `object`, got `str` - at `\$.reads`"),
        ({"reads": {}}, "checkpoint format"),
        # a release before saved tasks: it cannot read format 2 nor the task records
        ({"reads": {**protocol.reads(), "checkpoint": [1]}}, r"checkpoint format \(version 2\)"),
        ({"pid": "x"}, r"bad HELLO: .* at `\$.pid`"),
        ({"pid": 0}, r"bad HELLO: Expected `int` >= 1 - at `\$.pid`"),
        ({"accepts": []}, "no way of taking over"),
    ],
)
def test_an_incompatible_replacement_is_refused(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        protocol.choose_level(hello(**changes))


def test_another_gate_protocol_gets_level_3() -> None:
    plan = protocol.choose_level(hello(reads={**protocol.reads(), "gate": [1]}))
    assert plan.level == 3 and "SSH gate protocol" in plan.why


@pytest.mark.parametrize("theirs", [HANDOFF_PROTOCOL - 1, HANDOFF_PROTOCOL + 1, "3.0"])
def test_a_hello_of_another_protocol_is_refused_naming_both(theirs: object) -> None:
    """Whatever else that release put in its HELLO: only ``protocol`` is read first."""
    old = {"t": "hello", "protocol": theirs, "version": "0.9", "pid": 12, "formats": {}}
    with pytest.raises(ProtocolError) as caught:
        decode_hello(msgspec.json.encode(old))
    assert str(caught.value) == (
        f"it speaks handoff protocol {theirs!r}; this server speaks {HANDOFF_PROTOCOL}"
    )


def test_a_hello_is_json_that_any_release_can_read() -> None:
    """A running server of an older release reads ``protocol`` and refuses it itself."""
    data = msgspec.json.encode(protocol.hello({"world": "ok"}, 0.5))
    raw = msgspec.json.decode(data)
    assert raw["t"] == "hello" and raw["protocol"] == HANDOFF_PROTOCOL
    assert raw["reads"] == protocol.reads()


def test_catch_up_applies_exactly_to_the_old_servers_position(tmp_path: Path) -> None:
    journal_dir = tmp_path / "journal"
    write_frames(journal_dir, 1, 3)
    recovered = recover(tmp_path / "ck", journal_dir, build_core_world, readonly=True)
    assert recovered.position == 3
    write_frames(journal_dir, 4, 4)  # the old server went on writing: frames 4 to 7
    assert catch_up(recovered.world, journal_dir, 3, 6) == 3
    assert recovered.world.next_id == 1006  # frame 7 (next_id 1007) is not applied
    with pytest.raises(RecoveryError, match="ends at 7 but the running server is at 9"):
        catch_up(recovered.world, journal_dir, 6, 9)


def test_read_only_recovery_leaves_a_torn_tail_alone(tmp_path: Path) -> None:
    journal_dir = tmp_path / "journal"
    write_frames(journal_dir, 1, 2)
    segment = journal_dir / jf.segment_name(1)
    whole = segment.read_bytes()
    torn = jf.encode_frame(3, [m.SetNextId(5000)])[:-3]  # a frame being written right now
    segment.write_bytes(whole + torn)
    recovered = recover(tmp_path / "ck", journal_dir, build_core_world, readonly=True)
    assert recovered.position == 2
    assert segment.read_bytes() == whole + torn, "a read-only recovery must not truncate"


def test_a_password_being_checked_is_handed_over_to_run_again() -> None:
    session = Session(1, FakeTransport(), rate=10, burst=10)
    session.pending.append("look")
    # "connect bob" then the password: the login screen moved on before the check ended.
    session.in_flight = ("hunter2", "password", "bob")
    session.login.stage, session.login.name = "welcome", ""
    state = session.export_state(now=0.0)
    assert state["pending"] == ["hunter2", "look"]
    assert state["login"] == {"stage": "password", "name": "bob"}
    again = Session.from_state(state, FakeTransport(), rate=10, burst=10, now=0.0)
    assert again.player is None and again.login.stage == "password"


def test_the_serve_arguments_are_passed_on_without_the_upgrade_fd() -> None:
    argv = ["serve", "--config", "c.yaml", "--upgrade-fd", "7", "--telnet", "0.0.0.0:7777"]
    assert serve_arguments(argv) == ["--config", "c.yaml", "--telnet", "0.0.0.0:7777"]
    assert serve_arguments(["serve", "--upgrade-fd=9"]) == []


def exported_sessions(
    count: int,
) -> tuple[Server, list[tuple[socket.socket, socket.socket]], list[tuple[dict[str, Any], int]]]:
    """A server, ``count`` socket pairs, and a telnet session exported on each (ids from 1),
    its socket detached as a hot upgrade sends it."""
    config = Config()
    server = Server(config, build_core_world(), Passwords(config.password_hash))
    pairs = [socket.socketpair() for _ in range(count)]
    items = []
    for sid, (ours, _theirs) in enumerate(pairs, start=1):
        conn = Connection(
            asyncio.get_running_loop(),
            ours,
            TelnetCodec(),
            server,
            config.limits,
            kind="telnet",
            peer="test",
        )
        session = Session(sid, conn, rate=1.0, burst=1)
        state = {"session": session.export_state(0.0), "conn": conn.export_state()}
        items.append((state, conn.detach()))
    return server, pairs, items


async def test_adopted_sessions_are_freed_without_the_cycle_collector() -> None:
    """The replacement freezes what it adopts out of the cycle collector (gc_control.
    adopting): that is only safe while a session, its connection and codec form no
    reference cycle, so a closed session is freed by reference counting alone."""
    server, pairs, states = exported_sessions(3)
    gc.disable()
    try:
        with adopting():
            prebuilt = adopt.Prebuilt(0.0)
            prebuilt.build(server, states)
            prebuilt.hand_to(server)
        refs: list[weakref.ref[object]] = [weakref.ref(s) for s in server.sessions.values()]
        refs += [weakref.ref(c) for c in server.sessions]
        server.thaw()
        for theirs in (b for _a, b in pairs):
            theirs.close()  # the client hangs up: each connection reads EOF and closes
        for _ in range(20):
            await asyncio.sleep(0.01)
            if not server.sessions:
                break
        assert not server.sessions
        server.let_go()
        await asyncio.sleep(0)
        assert [ref() for ref in refs] == [None] * len(refs)
    finally:
        gc.enable()
        gc.unfreeze()


async def test_prebuilt_sessions_are_updated_on_their_socket_dropped_or_refused() -> None:
    server, pairs, items = exported_sessions(2)
    prebuilt = adopt.Prebuilt(0.0)
    prebuilt.build(server, items)
    before = prebuilt.sessions[1][0]
    changed = {**items[0][0], "session": {**items[0][0]["session"], "pending": ["look"]}}
    prebuilt.rebuild(server, [changed])
    after, session = prebuilt.sessions[1]
    assert after is not before and after.fd == before.fd and list(session.pending) == ["look"]
    with pytest.raises(ProtocolError, match="never sent"):
        prebuilt.rebuild(server, [{**changed, "session": {**changed["session"], "id": 9}}])
    with pytest.raises(ProtocolError, match="never sent"):
        prebuilt.drop(9)
    prebuilt.drop(2)  # our copy is closed: the last one, so the client sees EOF
    assert pairs[1][1].recv(10) == b""
    assert prebuilt.hand_to(server) == 1 and prebuilt.count == 0
    assert [s.id for s in server.sessions.values()] == [1]
    server.let_go()
    for _ours, theirs in pairs:
        theirs.close()

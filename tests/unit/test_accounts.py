"""Accounts: argon2id passwords, the failed-login throttle (with a fake clock), player creation."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
import time

import pytest

from moo.accounts import (
    CHECK_NICENESS,
    LoginThrottle,
    Passwords,
    create_player,
    name_problem,
    yield_to_players,
)
from moo.config import Login, PasswordHash
from moo.errors import VerbError
from moo.login import LoginScreen
from moo.world.loader import build_core_world
from moo.world.model import Flag
from moo.world.values import ObjRef
from moo.world.world import World

CHEAP = PasswordHash(time_cost=1, memory_cost_kib=1024, parallelism=1)


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords(CHEAP)


@pytest.fixture(scope="module")
def stored(passwords: Passwords) -> str:
    return passwords.hash_now("correct horse")


# ----------------------------------------------------------------------- passwords


def test_hash_is_argon2id_with_the_configured_cost(stored: str) -> None:
    assert stored.startswith("$argon2id$")
    assert "m=1024,t=1,p=1" in stored
    assert "correct horse" not in stored


def test_hash_verify_round_trip(passwords: Passwords, stored: str) -> None:
    assert passwords.verify_now(stored, "correct horse") is True


def test_each_hash_is_salted(passwords: Passwords, stored: str) -> None:
    again = passwords.hash_now("correct horse")
    assert again != stored
    assert passwords.verify_now(again, "correct horse")


@pytest.mark.parametrize("attempt", ["wrong", "", "correct horse ", "Correct horse", "correct"])
def test_wrong_password_is_false(passwords: Passwords, stored: str, attempt: str) -> None:
    assert passwords.verify_now(stored, attempt) is False


def test_unicode_password(passwords: Passwords) -> None:
    stored = passwords.hash_now("pässwörd ☃")
    assert passwords.verify_now(stored, "pässwörd ☃")
    assert not passwords.verify_now(stored, "passwort ☃")


def test_hash_made_with_other_costs_still_verifies(passwords: Passwords) -> None:
    other = Passwords(PasswordHash(time_cost=2, memory_cost_kib=2048, parallelism=2))
    assert passwords.verify_now(other.hash_now("pw"), "pw")


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "garbage",
        "$argon2id$",
        "$argon2id$v=19$m=1024,t=1,p=1$AAAA$BBBB",
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$2b$12$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01",
        "$argon2id$v=19$m=1024,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "not ascii: é",
        "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$☃",
    ],
)
def test_garbage_stored_hash_is_false_not_an_exception(passwords: Passwords, garbage: str) -> None:
    assert passwords.verify_now(garbage, "anything") is False


def test_truncated_stored_hash_is_false(passwords: Passwords, stored: str) -> None:
    assert passwords.verify_now(stored[:-4], "correct horse") is False


async def test_async_hash_and_verify(passwords: Passwords) -> None:
    stored = await passwords.hash("async pw")
    assert await passwords.verify(stored, "async pw") is True
    assert await passwords.verify(stored, "nope") is False


# ------------------------------------------------------------------------- throttle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


POLICY = Login(max_failures=3, failure_window_seconds=60.0, lockout_seconds=30.0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(clock: Clock) -> LoginThrottle:
    return LoginThrottle(POLICY, clock=clock)


def test_unknown_source_may_try(throttle: LoginThrottle) -> None:
    assert throttle.retry_after("1.2.3.4") == 0.0


def test_locks_after_max_failures_within_the_window(throttle: LoginThrottle, clock: Clock) -> None:
    for _ in range(2):
        throttle.failed("a")
        clock.now += 10
        assert throttle.retry_after("a") == 0.0
    throttle.failed("a")  # third failure at t=1020
    assert throttle.retry_after("a") == pytest.approx(30.0)
    clock.now += 12
    assert throttle.retry_after("a") == pytest.approx(18.0)


def test_unlocks_after_the_lockout(throttle: LoginThrottle, clock: Clock) -> None:
    for _ in range(3):
        throttle.failed("a")
    clock.now += 29.9
    assert throttle.retry_after("a") > 0
    clock.now += 0.1
    assert throttle.retry_after("a") == 0.0
    # The slate is clean: one more failure does not lock again.
    throttle.failed("a")
    assert throttle.retry_after("a") == 0.0


def test_failures_spread_beyond_the_window_never_lock(
    throttle: LoginThrottle, clock: Clock
) -> None:
    for _ in range(10):
        throttle.failed("a")
        assert throttle.retry_after("a") == 0.0
        clock.now += 31  # two failures fit in the 60 s window, never three


def test_failures_just_inside_the_window_lock(throttle: LoginThrottle, clock: Clock) -> None:
    throttle.failed("a")
    clock.now += 30
    throttle.failed("a")
    clock.now += 30  # exactly the window after the first failure
    throttle.failed("a")
    assert throttle.retry_after("a") == pytest.approx(30.0)


def test_more_failures_while_locked_extend_the_lockout(
    throttle: LoginThrottle, clock: Clock
) -> None:
    for _ in range(3):
        throttle.failed("a")
    clock.now += 20
    throttle.failed("a")
    assert throttle.retry_after("a") == pytest.approx(30.0)


def test_sources_are_independent(throttle: LoginThrottle) -> None:
    for _ in range(3):
        throttle.failed("a")
    throttle.failed("b")
    assert throttle.retry_after("a") > 0
    assert throttle.retry_after("b") == 0.0


def test_success_clears_the_failures(throttle: LoginThrottle) -> None:
    throttle.failed("a")
    throttle.failed("a")
    throttle.succeeded("a")
    throttle.failed("a")
    assert throttle.retry_after("a") == 0.0
    throttle.succeeded("never-seen")  # harmless


def test_memory_stays_bounded_under_a_spray_of_sources(throttle: LoginThrottle) -> None:
    for n in range(100_005):
        throttle.failed(f"10.{n}")
    assert len(throttle._failures) == 100_000
    assert "10.100004" in throttle._failures and "10.0" not in throttle._failures


def test_default_clock_is_monotonic() -> None:
    throttle = LoginThrottle(Login(max_failures=1, lockout_seconds=60.0))
    throttle.failed("x")
    assert 59.0 < throttle.retry_after("x") <= 60.0


# ------------------------------------------------------------------------ names


@pytest.mark.parametrize("name", ["Al", "Alice", "O'Brien", "a-b_c", "Zed99", "x" * 24])
def test_good_names(name: str) -> None:
    assert name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("A", "2 to 24"),
        ("", "2 to 24"),
        ("x" * 25, "2 to 24"),
        ("9lives", "start with a letter"),
        ("_under", "start with a letter"),
        ("two words", "start with a letter"),
        ("bang!", "start with a letter"),
        ("émile", "start with a letter"),
        ("tab\there", "start with a letter"),
        ("me", "reserved"),
        ("Here", "reserved"),
        ("NOBODY", "reserved"),
        ("everyone", "reserved"),
        ("all", "reserved"),
        ("home", "reserved"),
    ],
)
def test_bad_names(name: str, words: str) -> None:
    problem = name_problem(name)
    assert problem is not None and words in problem


# ---------------------------------------------------------------------- players


@pytest.fixture
def world() -> World:
    return build_core_world()


def test_create_player(world: World, passwords: Passwords, stored: str) -> None:
    digest = world.digest()
    batches: list[int] = []
    world.add_observer(lambda records: batches.append(len(records)))
    player = create_player(world, "Alice", stored)
    obj = world.get(player)
    assert obj.name == "Alice"
    assert obj.flags == Flag.PLAYER
    assert obj.owner == player
    assert obj.parent == world.sys("player")
    assert obj.location == world.sys("first_room")
    assert player in world.get(world.sys("first_room")).contents
    assert world.player_by_name("alice") == player
    assert passwords.verify_now(world.get_prop(player, "password"), "correct horse")
    assert world.digest() != digest
    assert len(batches) == 1  # one transaction


def test_create_player_goes_to_its_home_when_valid(world: World) -> None:
    world.set_prop(world.sys("player"), "home", ObjRef(11))
    assert world.get(create_player(world, "Bob", "x")).location == 11
    world.set_prop(world.sys("player"), "home", ObjRef(999))
    assert world.get(create_player(world, "Carol", "x")).location == world.sys("first_room")


@pytest.mark.parametrize("name", ["Wizard", "wizard", "WIZARD"])
def test_create_player_refuses_a_taken_name(world: World, name: str) -> None:
    digest = world.digest()
    with pytest.raises(VerbError, match="already taken"):
        create_player(world, name, "x")
    assert world.digest() == digest


def test_create_player_refuses_a_name_taken_by_a_new_player(world: World) -> None:
    create_player(world, "Dana", "x")
    digest = world.digest()
    with pytest.raises(VerbError, match="already taken"):
        create_player(world, "DANA", "y")
    assert world.digest() == digest


@pytest.mark.parametrize("name", ["me", "x", "1abc", "has space"])
def test_create_player_refuses_a_bad_name(world: World, name: str) -> None:
    digest = world.digest()
    with pytest.raises(VerbError, match=r"reserved|2 to 24|start with a letter"):
        create_player(world, name, "x")
    assert world.digest() == digest


# ------------------------------------------------------------ bounded checks, rehash


class SlowPasswords(Passwords):
    """Real hashing, each check held 50 ms longer in its thread, counting checks at once."""

    def __init__(self, cost: PasswordHash) -> None:
        super().__init__(cost)
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def verify_now(self, stored: str, password: str) -> bool:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            time.sleep(0.05)
            return super().verify_now(stored, password)
        finally:
            with self._lock:
                self.running -= 1


async def test_no_more_checks_run_at_once_than_configured(stored: str) -> None:
    passwords = SlowPasswords(dataclasses.replace(CHEAP, max_concurrent=2))
    checks = [asyncio.ensure_future(passwords.verify(stored, "correct horse")) for _ in range(6)]
    await asyncio.sleep(0)
    assert passwords.queued == 6 and passwords.busy
    assert await asyncio.gather(*checks) == [True] * 6
    assert passwords.most_at_once == 2
    assert passwords.queued == 0 and not passwords.busy


async def test_a_cancelled_waiting_check_gives_its_turn_to_the_next(stored: str) -> None:
    passwords = SlowPasswords(dataclasses.replace(CHEAP, max_concurrent=1))
    first, second, third = (
        asyncio.ensure_future(passwords.verify(stored, "correct horse")) for _ in range(3)
    )
    await asyncio.sleep(0)
    second.cancel()  # its session went away while it waited
    assert await first is True and await third is True
    assert second.cancelled()
    assert passwords.most_at_once == 1
    assert passwords.queued == 0 and not passwords.busy


class PriorityPasswords(Passwords):
    """Real hashing; each check notes its thread's nice value."""

    def __init__(self, cost: PasswordHash) -> None:
        super().__init__(cost)
        self.niceness: list[int] = []

    def verify_now(self, stored: str, password: str) -> bool:
        self.niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return super().verify_now(stored, password)


async def test_checks_run_at_the_lowest_priority_and_the_loop_keeps_its_own(stored: str) -> None:
    loop_niceness = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    passwords = PriorityPasswords(dataclasses.replace(CHEAP, max_concurrent=2))
    checks = [passwords.verify(stored, "correct horse") for _ in range(4)]
    assert await asyncio.gather(*checks) == [True] * 4
    assert passwords.niceness == [CHECK_NICENESS] * 4
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == loop_niceness


def test_a_refused_priority_is_logged_and_checks_go_on(caplog: pytest.LogCaptureFixture) -> None:
    def refuse(which: int, who: int, niceness: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    yield_to_players(refuse)  # does not raise: the pool would be broken for every login
    assert "password checks run at normal CPU priority" in caplog.text
    assert "Operation not permitted" in caplog.text


def test_priority_is_left_alone_where_threads_have_no_nice_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[int, int, int]] = []
    monkeypatch.setattr("sys.platform", "darwin")
    yield_to_players(lambda *args: calls.append(args))
    assert calls == []


def test_by_default_one_cpu_is_left_for_play() -> None:
    expected = max(1, (os.cpu_count() or 2) - 1)
    assert Passwords(CHEAP).workers == expected


def test_a_hash_with_other_costs_needs_a_rehash(passwords: Passwords, stored: str) -> None:
    older = Passwords(PasswordHash(time_cost=2, memory_cost_kib=2048, parallelism=2))
    assert passwords.needs_rehash(older.hash_now("pw"))
    assert not passwords.needs_rehash(stored)
    assert not passwords.needs_rehash("not a hash")


class NoHost:
    """check_password needs no host: nothing here is ever called."""

    def attach(self, session: object, player: int, *, created: bool = False) -> None:
        raise AssertionError("not used")

    def who_lines(self) -> list[str]:
        raise AssertionError("not used")

    def end_session(self, session: object, message: str) -> None:
        raise AssertionError("not used")


async def test_a_good_login_replaces_an_old_hash_and_a_bad_one_does_not() -> None:
    world = build_core_world()
    older = Passwords(PasswordHash(time_cost=2, memory_cost_kib=2048, parallelism=2))
    player = create_player(world, "Oldtimer", older.hash_now("secret"))
    screen = LoginScreen(world, Passwords(CHEAP), LoginThrottle(Login()), NoHost())

    assert await screen.check_password("Oldtimer", "wrong", "1.2.3.4") == (
        None,
        "Either that player does not exist, or has a different password.",
    )
    assert "m=2048,t=2,p=2" in world.prop(player, "password")
    assert await screen.check_password("Oldtimer", "secret", "1.2.3.4") == (player, "")
    upgraded = world.prop(player, "password")
    assert "m=1024,t=1,p=1" in upgraded
    assert await screen.check_password("Oldtimer", "secret", "1.2.3.4") == (player, "")
    assert world.prop(player, "password") == upgraded  # no second rehash


async def test_a_lambdamoo_crypt_password_logs_in_once_and_becomes_argon2() -> None:
    """A player imported from a LambdaMOO textdump keeps their password: Unix DES
    ``crypt()`` (two salt characters, eleven of hash; only the first 8 characters count, as
    in LambdaMOO), replaced by the configured argon2 at the first good login."""
    world = build_core_world()
    legacy = "ab0ozUNIgzCZ."  # crypt("hunter2", "ab"), as glibc and LambdaMOO make it
    player = create_player(world, "Imported", legacy)
    passwords = Passwords(CHEAP)
    assert passwords.verify_now(legacy, "hunter2")
    assert not passwords.verify_now(legacy, "hunter3")
    assert passwords.needs_rehash(legacy)
    assert not passwords.verify_now("impossible password to type", "")  # LambdaCore's
    screen = LoginScreen(world, passwords, LoginThrottle(Login()), NoHost())
    assert (await screen.check_password("Imported", "hunter3", "1.2.3.4"))[0] is None
    assert world.prop(player, "password") == legacy
    assert await screen.check_password("Imported", "hunter2", "1.2.3.4") == (player, "")
    upgraded = world.prop(player, "password")
    assert upgraded.startswith("$argon2id$")
    assert await screen.check_password("Imported", "hunter2", "1.2.3.4") == (player, "")

"""Player accounts: password hashing (argon2id), login checks, and the failed-login throttle.

Hashing costs milliseconds of CPU by design, so it runs in a small pool of worker threads
(argon2-cffi releases the GIL) and never stalls the event loop; hashes made with older costs
are replaced at the next good login. The worker threads run at the lowest CPU priority
(nice 19): a crowd of logins keeps a core busy for as long as it lasts (1000 checks, ~16 s
here), and at normal priority that thread took its share of the CPU from the event loops,
so the players already playing waited for it (their ``look`` p99 went from 5 ms to 69 ms;
at nice 19, 33 ms). Checks still use every cycle the players leave idle.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError
from passlib.hash import des_crypt  # type: ignore[import-untyped]

from moo.config import Login, PasswordHash
from moo.errors import VerbError
from moo.world.model import Flag
from moo.world.values import NOTHING, ObjRef
from moo.world.world import World

_T = TypeVar("_T")
log = logging.getLogger(__name__)


class Passwords:
    """argon2id hashing with the configured cost, a bounded number of checks at a time.

    Each check costs ~15 ms of CPU and 7 MiB (the default profile); a crowd logging in at
    once (after a network blip) used to run as many as the default thread pool has threads:
    100 logins took 454 MB and starved the players already playing. Checks now run in a pool
    of ``max_concurrent`` threads (argon2-cffi releases the GIL), the rest wait their turn,
    and ``queued`` tells the login screen how many are ahead.
    """

    def __init__(self, cost: PasswordHash) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=cost.time_cost,
            memory_cost=cost.memory_cost_kib,
            parallelism=cost.parallelism,
        )
        self.workers = cost.max_concurrent or max(1, (os.cpu_count() or 2) - 1)
        # Checks past ``workers`` wait here, as one future each, and go to the pool as
        # threads free up: handing all of a crowd's 1000 to the pool at once cost the
        # event loop ~0.1 ms each (executor futures, locks, callbacks) in one burst.
        self._turns = asyncio.Semaphore(self.workers)
        self._pool = ThreadPoolExecutor(
            self.workers, thread_name_prefix="password-check", initializer=yield_to_players
        )
        self.queued = 0  # checks running or waiting for a thread

    def hash_now(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify_now(self, stored: str, password: str) -> bool:
        """Whether ``password`` is the one ``stored`` was made from: an argon2 hash, or a
        LambdaMOO world's Unix DES ``crypt()`` (a player imported from a textdump keeps
        their password; ``needs_rehash`` then has it replaced at the next good login)."""
        if not stored:
            return False
        if des_crypt.identify(stored):
            try:
                return bool(des_crypt.verify(password, stored))
            except ValueError:  # passlib refuses a password it cannot hash (a NUL)
                return False
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError, UnicodeError, ValueError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """True when ``stored`` was made with other costs than the configured ones, or by
        LambdaMOO's ``crypt()``."""
        if des_crypt.identify(stored):
            return True
        try:
            return self._hasher.check_needs_rehash(stored)
        except (InvalidHashError, ValueError):
            return False

    @property
    def busy(self) -> bool:
        """Every thread is taken: a new check waits behind ``queued`` others."""
        return self.queued >= self.workers

    async def hash(self, password: str) -> str:
        return await self._in_turn(self.hash_now, password)

    async def verify(self, stored: str, password: str) -> bool:
        return await self._in_turn(self.verify_now, stored, password)

    async def _in_turn(self, function: Callable[..., _T], *args: str) -> _T:
        self.queued += 1
        try:
            async with self._turns:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._pool, function, *args)
        finally:
            self.queued -= 1


CHECK_NICENESS = 19
"""The password-check threads' nice value: the lowest priority, so any thread of the
server (or of another program) that wants a core gets it first."""


def yield_to_players(set_priority: Callable[[int, int, int], None] = os.setpriority) -> None:
    """Lower the calling thread's CPU priority to ``CHECK_NICENESS`` (a check pool's
    initializer). Linux gives each thread its own nice value (``setpriority`` on the
    thread's id); elsewhere that id is not a process's, so nothing is done. If the system
    refuses, the checks run at normal priority and the log says so once per thread:
    logins must not fail for it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        set_priority(os.PRIO_PROCESS, threading.get_native_id(), CHECK_NICENESS)
    except OSError as error:
        log.warning("password checks run at normal CPU priority (nice refused: %s)", error)


class LoginThrottle:
    """Refuse logins from a source after too many failures in a window, for a while."""

    def __init__(self, policy: Login, clock: object = time.monotonic) -> None:
        self._policy = policy
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]

    def retry_after(self, source: str) -> float:
        """Seconds until ``source`` may try again (0 when it may try now)."""
        failures = self._failures.get(source)
        if not failures or len(failures) < self._policy.max_failures:
            return 0.0
        wait = failures[-1] + self._policy.lockout_seconds - self._now()
        if wait <= 0:
            del self._failures[source]
            return 0.0
        return wait

    def failed(self, source: str) -> None:
        now = self._now()
        failures = self._failures.setdefault(source, deque(maxlen=self._policy.max_failures))
        while failures and now - failures[0] > self._policy.failure_window_seconds:
            failures.popleft()
        failures.append(now)
        if len(self._failures) > 100_000:  # bounded memory under a spray of sources
            self._failures.pop(next(iter(self._failures)))

    def succeeded(self, source: str) -> None:
        self._failures.pop(source, None)


VALID_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-'")


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a player name, or None when it can."""
    if not 2 <= len(name) <= 24:
        return "A name must be 2 to 24 characters long."
    if not set(name) <= VALID_NAME_CHARS or not name[0].isalpha():
        return "A name must start with a letter and use only letters, digits, _ - and '."
    if name.lower() in {"me", "here", "nobody", "everyone", "all", "home"}:
        return f"{name!r} is reserved; please choose another name."
    return None


def create_player(world: World, name: str, password_hash: str) -> int:
    """Make a player object owned by itself, with its password set, in its home room."""
    problem = name_problem(name)
    if problem:
        raise VerbError(problem)
    if world.player_by_name(name) is not None:
        raise VerbError(f"The name {name!r} is already taken.")
    # LambdaCore makes players of $player_class (its mail-receiving player), not $player.
    parent = world.sys("player_class")
    if not world.valid(parent):
        parent = world.sys("player")
    with world.transaction():
        player = world.create(parent, NOTHING, name, flags=Flag.PLAYER)
        world.set_prop(player, "password", password_hash)
        home = world.prop(player, "home")
        start = (
            home.id
            if isinstance(home, ObjRef) and world.valid(home.id)
            else next(
                (
                    room
                    for room in map(world.sys, ("player_start", "first_room"))
                    if world.valid(room)
                ),
                NOTHING,
            )
        )
        if world.valid(start):
            world.move(player, start)
    return player

"""The welcome screen: what a connection can do before it is a player.

LambdaCore's conventions: ``connect <name> <password>``, ``create <name>
<password>``, ``who``, ``quit``, ``help``. ``connect <name>`` alone asks for the
password with echo off. Password checks run off the event loop; failures are
throttled per source address. SSH logins arrive already checked by the gate
(``check_password`` / ``check_key``) and skip this screen.
"""

from __future__ import annotations

import logging
from typing import Protocol

from moo.accounts import LoginThrottle, Passwords, create_player
from moo.errors import MooError
from moo.net.session import Session
from moo.world.world import World

log = logging.getLogger(__name__)

HELP = [
    "Commands on this screen:",
    "  connect <name> <password>   log in (or 'connect <name>' to be asked for the password)",
    "  create <name> <password>    make a new character",
    "  who                         list who is connected",
    "  quit                        disconnect",
]


class LoginHost(Protocol):
    def attach(self, session: Session, player: int, *, created: bool = False) -> None: ...

    def who_lines(self) -> list[str]: ...

    def end_session(self, session: Session, message: str) -> None: ...


class LoginScreen:
    def __init__(
        self, world: World, passwords: Passwords, throttle: LoginThrottle, host: LoginHost
    ) -> None:
        self.world = world
        self.passwords = passwords
        self.throttle = throttle
        self.host = host

    def welcome(self) -> list[str]:
        """#0.welcome_message, else ``$login.welcome_message`` (where LambdaCore keeps it)."""
        world = self.world
        lines = world.prop(0, "welcome_message", None)
        if lines is None and world.valid(login := world.sys("login")):
            lines = world.prop(login, "welcome_message", [])
        if isinstance(lines, str):
            return [lines]
        return [str(line) for line in lines] if isinstance(lines, list) else []

    async def handle(self, session: Session, line: str, source: str) -> None:
        """One line typed on the welcome screen."""
        if session.login.stage == "password":
            name, session.login.stage, session.login.name = session.login.name, "welcome", ""
            session.set_echo(False)
            session.tell("")
            await self._connect(session, name, line, source)
            return
        words = line.split()
        if not words:
            return
        command = words[0].lower()
        if command in ("co", "con", "conn", "connect"):
            if len(words) == 2:
                session.login.stage, session.login.name = "password", words[1]
                session.tell("Password:")
                session.set_echo(True)
            elif len(words) == 3:
                await self._connect(session, words[1], words[2], source)
            else:
                session.tell("Usage: connect <name> <password>")
        elif command in ("cr", "create"):
            if len(words) != 3:
                session.tell("Usage: create <name> <password>")
            else:
                await self._create(session, words[1], words[2])
        elif command in ("wh", "who"):
            session.tell_lines(self.host.who_lines())
        elif command in ("qu", "quit", "@quit"):
            self.host.end_session(session, "Goodbye!")
        elif command in ("help", "?"):
            session.tell_lines(HELP)
        else:
            session.tell_lines(["I don't understand that. Type 'help' for the commands here."])

    async def check_password(self, name: str, password: str, source: str) -> tuple[int | None, str]:
        """(player, "") when ``name``/``password`` are right, else (None, reason)."""
        wait = self.throttle.retry_after(source)
        if wait > 0:
            return None, f"Too many failed logins; try again in {int(wait) + 1} seconds."
        player = self.world.player_by_name(name)
        stored = self.world.prop(player, "password", "") if player is not None else ""
        # Verify even for unknown names, so the time taken does not tell which names exist.
        ok = await self.passwords.verify(stored or _DUMMY_HASH.get(self.passwords), password)
        if player is None or not stored or not ok or not self.world.valid(player):
            self.throttle.failed(source)
            return None, "Either that player does not exist, or has a different password."
        self.throttle.succeeded(source)
        if self.passwords.needs_rehash(stored):
            await self._rehash(player, stored, password)
        return player, ""

    async def _rehash(self, player: int, stored: str, password: str) -> None:
        """Replace a hash made with older costs (unless the password changed meanwhile)."""
        fresh = await self.passwords.hash(password)
        if self.world.valid(player) and self.world.prop(player, "password", "") == stored:
            with self.world.transaction():
                self.world.set_prop(player, "password", fresh)
            log.info("#%d: password hash upgraded to the configured costs", player)

    def _tell_if_queued(self, session: Session) -> None:
        """A line for a player whose password check must wait for others to finish."""
        if self.passwords.busy:
            session.tell(
                "Many players are logging in at once; your password will be checked in turn "
                f"({self.passwords.queued} ahead of you)."
            )

    def check_key(self, name: str, key: str, source: str) -> tuple[int | None, str]:
        wait = self.throttle.retry_after(source)
        if wait > 0:
            return None, f"Too many failed logins; try again in {int(wait) + 1} seconds."
        player = self.world.player_by_name(name)
        keys = self.world.prop(player, "ssh_keys", []) if player is not None else []
        wanted = " ".join(key.split()[:2])
        if player is not None and any(" ".join(str(k).split()[:2]) == wanted for k in keys):
            return player, ""
        return None, "That key is not registered for that player."

    async def _connect(self, session: Session, name: str, password: str, source: str) -> None:
        self._tell_if_queued(session)
        player, reason = await self.check_password(name, password, source)
        if session.closed:
            return
        if player is None:
            session.tell(reason)
            return
        log.info("%s connected from %s", self.world.objects[player].name, source)
        self.host.attach(session, player)

    async def _create(self, session: Session, name: str, password: str) -> None:
        if len(password) < 4:
            session.tell("Please choose a password of at least 4 characters.")
            return
        self._tell_if_queued(session)
        hashed = await self.passwords.hash(password)
        if session.closed:
            return
        try:
            player = create_player(self.world, name, hashed)
        except MooError as error:
            session.tell(str(error))
            return
        log.info("created player %s (#%d)", name, player)
        self.host.attach(session, player, created=True)


class _DummyHash:
    """A real hash of a random password, made once, so unknown names cost a full verify."""

    def __init__(self) -> None:
        self._value: str | None = None

    def get(self, passwords: Passwords) -> str:
        if self._value is None:
            self._value = passwords.hash_now("not a password anyone has")
        return self._value


_DUMMY_HASH = _DummyHash()

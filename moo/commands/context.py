"""What a verb gets to work with: the world, who typed, what matched, and ways to speak.

Output is held until the command commits: a command that fails shows only its
error, so nobody hears about a change that was undone (and a journal with
``fsync: always`` can sync before anyone sees the result).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from moo.world.values import NOTHING
from moo.world.world import World


@dataclass(frozen=True)
class ConnectedPlayer:
    player: int
    connected_seconds: float
    idle_seconds: float
    transport: str


LineReader = Callable[["VerbContext", str], bool]
"""Takes one typed line (with a context to speak through); True when it wants no more."""


class Host(Protocol):
    """The server services a verb may use. Implemented by ``moo.server.Server``."""

    def notify(self, player: int, text: str) -> None: ...

    def notify_many(self, players: Iterable[int], text: str) -> None:
        """``notify`` each of ``players`` with the same text (encoded once where it can)."""
        ...

    def connected_players(self) -> list[ConnectedPlayer]: ...

    def is_connected(self, player: int) -> bool: ...

    def boot(self, player: int, reason: str) -> bool: ...

    def disconnect(self, player: int, reason: str) -> None: ...

    def request_shutdown(self, message: str, by: int) -> None: ...

    def change_password(self, player: int, old: str, new: str) -> None: ...

    def terminal_info(self, player: int) -> str | None: ...

    def read_lines(self, player: int, reader: LineReader) -> None:
        """Send ``player``'s next typed lines to ``reader`` instead of the command parser,
        until it returns True (``@program``'s lines up to ``.``, MOO's ``read()``)."""
        ...

    @property
    def output_is_held(self) -> bool:
        """True when what players are told is held (by the front) until the journal has
        the changes before it: a command's output may then leave before its commit."""
        ...

    def commit_output_begins(self) -> None:
        """(When ``output_is_held``.) What is said from here to the commit is the command's
        answer: taken back if the commit cannot be written."""
        ...

    # Typed ``object`` here: their modules import what the world and the language (which
    # import this module) must not reach; the verbs that use them narrow the type.
    @property
    def moo_tasks(self) -> object:
        """The world's one MOO task scheduler (``;``, MOO verbs, forks, suspends)."""
        ...

    @property
    def checkpointer(self) -> object | None: ...

    @property
    def upgrader(self) -> object | None: ...


@dataclass
class VerbContext:
    """Passed to every verb as ``ctx``."""

    world: World
    host: Host
    player: int
    this: int
    verb: str
    dobj: int = NOTHING
    iobj: int = NOTHING
    _pending: list[tuple[int, str]] = field(default_factory=list)

    @property
    def location(self) -> int:
        return self.world.get(self.player).location

    def tell(self, text: str) -> None:
        """Say something to the player who typed the command."""
        self._pending.append((self.player, text))

    def tell_to(self, player: int, text: str) -> None:
        """Say something to any player (ignored when they are not connected)."""
        self._pending.append((player, text))

    def announce(self, text: str, *, room: int | None = None, exclude: Iterable[int] = ()) -> None:
        """Say something to everyone in ``room`` (default: the player's) except the player."""
        where = self.location if room is None else room
        skip = {self.player, *exclude} if room is None else set(exclude)
        if not self.world.valid(where):
            return
        for oid in self.world.get(where).contents:
            if oid not in skip and self.world.objects[oid].is_player:
                self._pending.append((oid, text))

    def announce_all(self, text: str, *, room: int | None = None) -> None:
        """Say something to everyone in the room, the player included."""
        self.announce(text, room=room, exclude=())
        if room is None:
            self._pending.append((self.player, text))

    def flush(self) -> None:
        """Deliver held output (the dispatcher calls this after the command commits).

        Each player's lines go out as one text, so a many-line reply costs one write; a
        text many players hear is encoded once (``Host.notify_many``).
        """
        pending, self._pending = self._pending, []
        if len(pending) == 1:
            self.host.notify(*pending[0])
            return
        by_player: dict[int, list[str]] = {}
        for player, text in pending:
            by_player.setdefault(player, []).append(text)
        # Players who hear the same text (a room hearing a say) get it in one notify_many.
        by_text: dict[str, list[int]] = {}
        for player, lines in by_player.items():
            by_text.setdefault("\n".join(lines), []).append(player)
        for text, players in by_text.items():
            if len(players) == 1:
                self.host.notify(players[0], text)
            else:
                self.host.notify_many(players, text)

    def discard(self) -> None:
        self._pending.clear()

"""Lines a verb asked for: ``@program``'s program text, MOO's ``read()``.

``Host.read_lines(player, reader)`` parks a reader for the player; while one is parked, each
line that player types goes to it (not to the command parser), inside a world transaction
with a ``VerbContext`` to speak through, until the reader returns True. A reader that raises
``MooError`` ends: the player sees the message, its transaction is undone.
"""

from __future__ import annotations

from moo.commands.context import Host, LineReader, VerbContext
from moo.commands.dispatch import run_committed
from moo.world.world import World


class LineReaders:
    """The parked readers, one per player at most (a newer one replaces an older one)."""

    def __init__(self, world: World, host: Host) -> None:
        self.world = world
        self.host = host
        self._readers: dict[int, LineReader] = {}

    def park(self, player: int, reader: LineReader) -> None:
        self._readers[player] = reader

    def waiting(self, player: int) -> bool:
        return player in self._readers

    def drop(self, player: int) -> None:
        """Forget ``player``'s reader (they disconnected)."""
        self._readers.pop(player, None)

    def feed(self, player: int, line: str) -> None:
        """Give ``line`` to ``player``'s reader. Never raises."""
        reader = self._readers[player]
        ctx = VerbContext(self.world, self.host, player, player, "read")
        wants_more = [False]

        def take() -> None:
            wants_more[0] = not reader(ctx, line)

        run_committed(ctx, take, f"a line reader on {line!r}")
        if not wants_more[0] and self._readers.get(player) is reader:
            del self._readers[player]

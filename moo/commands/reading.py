"""Lines a verb asked for: ``@program``'s program text, MOO's ``read()``.

``Host.read_lines(player, reader)`` parks a reader for the player; while one is parked, each
line that player types goes to it (not to the command parser), inside a world transaction
with a ``VerbContext`` to speak through, until the reader returns True. A reader that raises
``MooError`` ends: the player sees the message, its transaction is undone.
"""

from __future__ import annotations

import logging

from moo.commands.context import Host, LineReader, VerbContext
from moo.errors import MooError
from moo.world.world import World

log = logging.getLogger(__name__)


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
        done = True
        try:
            with self.world.transaction():
                done = reader(ctx, line)
        except MooError as error:
            ctx.discard()
            self.host.notify(player, str(error))
        except Exception:
            ctx.discard()
            log.exception("a line reader failed on %r (player #%d)", line, player)
            self.host.notify(player, "Something went wrong with that line; it was logged.")
        else:
            ctx.flush()
        if done and self._readers.get(player) is reader:
            del self._readers[player]

"""What a MOO task may ask of the server: the typed façade builtins reach it through.

``notify``, ``connected_players``, ``boot_player``, ``read()`` and friends need the server's
sessions; the language must not import the network layer, so a task carries a
``TaskServices``.
``moo.server.Server`` satisfies it as it is (the same methods serve Python verbs through
``Host``); tests pass a small fake.
"""

from __future__ import annotations

from typing import Protocol

from moo.commands.context import ConnectedPlayer, LineReader


class TaskServices(Protocol):
    def notify(self, player: int, text: str) -> None: ...

    def connected_players(self) -> list[ConnectedPlayer]: ...

    def is_connected(self, player: int) -> bool: ...

    def boot(self, player: int, reason: str) -> bool: ...

    def read_lines(self, player: int, reader: LineReader) -> None: ...

    def request_shutdown(self, message: str, by: int) -> None: ...


class NoServices:
    """Services of a world with nobody connected (scripts, tests): output goes nowhere."""

    def notify(self, player: int, text: str) -> None:
        pass

    def connected_players(self) -> list[ConnectedPlayer]:
        return []

    def is_connected(self, player: int) -> bool:
        return False

    def boot(self, player: int, reason: str) -> bool:
        return False

    def read_lines(self, player: int, reader: LineReader) -> None:
        pass

    def request_shutdown(self, message: str, by: int) -> None:
        pass

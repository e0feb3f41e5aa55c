"""What a MOO task may ask of the server: the typed façade builtins reach it through.

``notify``, ``connected_players``, ``boot_player``, ``read()``, ``force_input`` and friends
need the server's sessions, ``dump_database`` and ``db_disk_size`` its checkpoints; the
language must not import the network layer, so a task carries a ``TaskServices``.
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

    def request_checkpoint(self, by: int) -> None:
        """``dump_database()``: a checkpoint starts soon (after this task)."""
        ...

    def database_size(self) -> int | None:
        """``db_disk_size()``: the newest checkpoint's bytes (None: none written yet)."""
        ...

    def force_input(self, player: int, line: str, at_front: bool) -> bool:
        """``force_input()``: ``line`` joins ``player``'s typed lines (first, if
        ``at_front``), to run as if typed; False when they are not connected."""
        ...

    def flush_input(self, player: int, show_messages: bool) -> None:
        """``flush_input()``: drop ``player``'s lines waiting to run (telling them which,
        when ``show_messages``)."""
        ...

    def output_delimiters(self, player: int) -> tuple[str, str] | None:
        """``output_delimiters()``: the connection's PREFIX and SUFFIX ("" when unset);
        None when ``player`` is not connected."""
        ...

    def connection_options(self, player: int) -> dict[str, object] | None:
        """``connection_options()``: each option's value by name (None: not connected)."""
        ...

    def set_connection_option(self, player: int, name: str, value: object) -> bool:
        """``set_connection_option()``; False: not connected, or no such option here."""
        ...


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

    def request_checkpoint(self, by: int) -> None:
        pass

    def database_size(self) -> int | None:
        return None

    def force_input(self, player: int, line: str, at_front: bool) -> bool:
        return False

    def flush_input(self, player: int, show_messages: bool) -> None:
        pass

    def output_delimiters(self, player: int) -> tuple[str, str] | None:
        return None

    def connection_options(self, player: int) -> dict[str, object] | None:
        return None

    def set_connection_option(self, player: int, name: str, value: object) -> bool:
        return False

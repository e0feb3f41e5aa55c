"""What a verb may ask of the server, beyond the line input's builtins.

The layer of ``Server`` (moo/server.py lists them all) that, with ``Server``'s own
``notify``, ``notify_many``, ``is_connected``, ``connected_players`` and
``request_shutdown`` and ``line_input.py``'s connection builtins, implements
``moo.commands.context.Host`` (Python verbs) and ``moo.lang.services.TaskServices``
(MOO builtins):

- output held behind a front (``output_is_held``, ``commit_output_begins``);
- players' connections: ``boot``, ``disconnect``, ``terminal_info``, ``connected_ids``;
- ``read_lines``: a player's next typed lines go to a reader (``@program``, ``read()``);
- ``run_verb`` (for the checkpointer), ``change_password`` (hashing in a task),
  ``request_checkpoint`` and ``database_size`` (``dump_database()``, ``db_disk_size()``).
"""

from __future__ import annotations

from moo.commands.context import LineReader
from moo.serving.hot_upgrade import ServerHotUpgrade


class ServerVerbHost(ServerHotUpgrade):
    """The server's services to verbs: connections, reading lines, passwords, checkpoints."""

    @property
    def output_is_held(self) -> bool:
        """Behind a front, output is held there until the journal has what came before."""
        return self.line_tracker is not None

    def commit_output_begins(self) -> None:
        if self.line_tracker is not None:
            self.line_tracker.commit_output_begins()

    def boot(self, player: int, reason: str) -> bool:
        session = self._by_player.get(player)
        if session is None:
            return False
        session.tell(f"*** You have been booted: {reason} ***" if reason else "*** Booted ***")
        session.transport.close("booted")
        return True

    def disconnect(self, player: int, reason: str) -> None:
        session = self._by_player.get(player)
        if session is not None:
            session.tell(reason)
            session.transport.close("quit")

    def terminal_info(self, player: int) -> str | None:
        """One line on ``player``'s connection (``@terminal``)."""
        session = self._by_player.get(player)
        if session is None:
            return None
        transport = session.transport
        window = transport.window
        size = f"{window[0]}x{window[1]}" if window else "unknown"
        kind = {"ssh": "ssh", "telnet-tls": "telnet over TLS", "web": "web"}.get(
            transport.kind, "telnet"
        )
        return (
            f"Connection: {kind}; window: {size}; "
            f"terminal: {transport.terminal_type or 'unknown'}; "
            f"echo: {'hidden' if transport.echo_off else 'normal'}."
        )

    def read_lines(self, player: int, reader: LineReader) -> None:
        self.line_readers.park(player, reader)
        session = self._by_player.get(player)
        if session is not None and session.hold_input and session.pending:
            self._mark_ready(session)  # a line held for read() goes to it now

    def connected_ids(self) -> list[int]:
        return list(self._by_player)

    def run_verb(self, oid: int, name: str) -> bool:
        """Run verb ``name`` of ``oid`` as its owner would (for $checkpointer.prepare)."""
        return self.dispatcher.run_verb(oid, name)

    def change_password(self, player: int, old: str, new: str) -> None:
        self._spawn(self._change_password(player, old, new))

    async def _change_password(self, player: int, old: str, new: str) -> None:
        stored = self.world.prop(player, "password", "")
        if not await self.passwords.verify(stored, old):
            self.notify(player, "That is not your current password; nothing was changed.")
            return
        hashed = await self.passwords.hash(new)
        if self.world.valid(player):
            self.world.set_prop(player, "password", hashed)
            self.notify(player, "Password changed.")

    def request_checkpoint(self, by: int) -> None:
        """MOO's ``dump_database()``: a checkpoint as ``@checkpoint now`` starts one."""
        if self.checkpointer is not None:
            name = self.world.objects[by].name if by in self.world.objects else "server"
            self.checkpointer.start_checkpoint("manual", f"{name} (#{by})")

    def database_size(self) -> int | None:
        """MOO's ``db_disk_size()``: the newest checkpoint's bytes."""
        return self.checkpointer.store.disk_size() if self.checkpointer is not None else None

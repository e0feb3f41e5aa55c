"""The transaction layer of ``World``: the ONE path every change takes, and its undo.

How a record is committed (``_commit_record``; ``_commit_task`` for queued tasks):

1. While the world refuses changes (``refuse_changes``: the journal failed), raise
   ``WorldError`` with the reason; nothing changes.
2. Outside a ``transaction()``, open one just for this record.
3. For each object the record touches, the first time in this transaction: tell the
   change hooks (a snapshot in progress saves its copy first), then save a ``clone`` of
   the object (or None if it does not exist yet).
4. ``apply(record)`` changes the world (``replay.py``: the same code recovery runs), and
   the record joins the transaction's list.
5. When the outermost ``transaction()`` ends without an exception, its records go to
   every observer (the journal first) in one batch; an observer that raises undoes the
   lot. If it ends with an exception, ``_rollback`` puts the saved objects, tasks and
   ``next_id`` back and observers hear nothing: a command that fails leaves no trace.
   Then the ``on_undo`` hooks run, for what lives outside the world and follows it.

A nested ``transaction()`` joins the outer one: if code catches an exception raised
inside a nested block, that block's changes stay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from moo.errors import WorldError
from moo.world import mutations as m
from moo.world.edit import clone
from moo.world.model import MooObject
from moo.world.state import WorldState
from moo.world.tasks import QueuedTask
from moo.world.values import NOTHING

CommitObserver = Callable[[list[m.Mutation]], None]
ChangeHook = Callable[[int], None]


@dataclass
class _Transaction:
    records: list[m.Mutation] = field(default_factory=list)
    saved: dict[int, MooObject | None] = field(default_factory=dict)
    saved_tasks: dict[int, QueuedTask | None] = field(default_factory=dict)
    next_id: int = 0
    undo_hooks: list[Callable[[], None]] = field(default_factory=list)


class TransactionScope:
    """``with world.transaction():`` (a class, not a generator: every command opens one, and
    ``@contextmanager`` made an empty one cost 1.45 us instead of 0.78)."""

    __slots__ = ("_txn", "_world")

    def __init__(self, world: WorldTransactions) -> None:
        self._world = world
        self._txn: _Transaction | None = None

    def __enter__(self) -> None:
        world = self._world
        if world._txn is None:  # else this joins the outer transaction
            self._txn = world._txn = _Transaction(next_id=world.next_id)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        txn = self._txn
        if txn is None:
            return
        world = self._world
        if kind is None:
            try:
                if txn.records:
                    for observer in world._observers:
                        observer(txn.records)  # the journal: if it cannot write, nothing happened
            except BaseException:
                world._txn = None
                world._rollback(txn)
                raise
            world._txn = None
            return
        world._txn = None
        world._rollback(txn)


class WorldTransactions(WorldState):
    """Observers, change hooks, ``transaction()`` and the commit of each record."""

    def __init__(self) -> None:
        super().__init__()
        self._observers: list[CommitObserver] = []
        self._change_hooks: list[ChangeHook] = []
        self._txn: _Transaction | None = None
        self.read_only_reason: str | None = None

    def apply(self, record: m.Mutation) -> None:
        """Apply one record to the world: ``WorldReplay.apply`` (``replay.py``), a layer
        above, is the one that does; a bare transaction layer has nothing to apply with."""
        raise NotImplementedError

    # ------------------------------------------------------------------ hooks

    def add_observer(self, observer: CommitObserver) -> None:
        """Call ``observer(records)`` with each transaction's records as it commits.

        An observer that raises undoes the transaction (so a journal that cannot write
        refuses the change); observers are called in order, the journal first.
        """
        self._observers.append(observer)

    def refuse_changes(self, reason: str) -> None:
        """From now on every mutation raises WorldError(reason) (e.g. the journal failed)."""
        self.read_only_reason = reason

    def accept_changes(self, reason: str) -> None:
        """Undo ``refuse_changes(reason)`` (a refusal for another reason stays)."""
        if self.read_only_reason == reason:
            self.read_only_reason = None

    def remove_observer(self, observer: CommitObserver) -> None:
        self._observers.remove(observer)

    def add_change_hook(self, hook: ChangeHook) -> None:
        """Call ``hook(object_id)`` just before an object is first changed in a transaction."""
        self._change_hooks.append(hook)

    def remove_change_hook(self, hook: ChangeHook) -> None:
        self._change_hooks.remove(hook)

    # ------------------------------------------------------------ transactions

    def transaction(self) -> TransactionScope:
        """Group mutations: all commit together, or none do (nested calls join the outer one)."""
        return TransactionScope(self)

    @property
    def in_transaction(self) -> bool:
        return self._txn is not None

    def on_undo(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` if the current transaction is undone, after the world is put
        back: memory that mirrors its records (the scheduler's queued tasks) follows them.
        Outside a transaction there is nothing to undo: never called. A hook must not
        raise."""
        if self._txn is not None:
            self._txn.undo_hooks.append(hook)

    def _rollback(self, txn: _Transaction) -> None:
        self.verbs_epoch += 1
        self._names_in.clear()  # restored contents lists: rare enough to rebuild on demand
        for oid, old in reversed(list(txn.saved.items())):
            current = self.objects.pop(oid, None)
            if current is not None:
                self._unindex(current)
            if old is not None:
                self.objects[oid] = old
                self._index(old)
        for task_id, task in txn.saved_tasks.items():
            if task is None:
                self.tasks.pop(task_id, None)
            else:
                self.tasks[task_id] = task
        self.next_id = txn.next_id
        for hook in reversed(txn.undo_hooks):
            hook()

    def _commit_record(self, record: m.Mutation, touched: tuple[int, ...]) -> None:
        """Apply ``record`` inside the current transaction (or one of its own), having saved
        each object in ``touched`` first (module docstring). Raises WorldError, changing
        nothing, while the world refuses changes; what ``apply`` raises undoes the
        transaction."""
        if self.read_only_reason is not None:
            raise WorldError(self.read_only_reason)
        if self._txn is None:
            with self.transaction():
                self._commit_record(record, touched)
            return
        saved = self._txn.saved
        for oid in touched:
            if oid not in saved and oid != NOTHING:
                for hook in self._change_hooks:
                    hook(oid)
                obj = self.objects.get(oid)
                saved[oid] = clone(obj) if obj is not None else None
        self.apply(record)
        self._txn.records.append(record)

    def _commit_task(self, record: m.QueueTask | m.DropTask, task_id: int) -> None:
        """``_commit_record`` for a queued task's record: saves the task's old record (or
        None) instead of objects."""
        if self.read_only_reason is not None:
            raise WorldError(self.read_only_reason)
        if self._txn is None:
            with self.transaction():
                self._commit_task(record, task_id)
            return
        self._txn.saved_tasks.setdefault(task_id, self.tasks.get(task_id))
        self.apply(record)
        self._txn.records.append(record)

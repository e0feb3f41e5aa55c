"""Saving waiting tasks in the world and queueing them again: the ``Scheduler``'s part
that ``saved_tasks.py`` (forks) and ``suspended.py`` (suspended tasks) work for, and what
keeps the tasks in memory agreeing with the records in the world.

1. ``new_id``: a task's id is random, as LambdaMOO's ``new_task_id`` (31 bits, not 0), and
   never one a live task holds (waiting, running, or saved in the world). Not a counter:
   a counter starts again after a restart (the world keeps no finished task), so an id
   a verb kept for ``kill_task`` or ``resume`` would name a later task.
2. ``_save_fork`` / ``_save_suspended``: when a task starts to wait, its record goes into
   the world (``World.queue_task``) in the transaction it waits in. A world that refuses
   changes (a failed journal) leaves it in memory only, with a log line. The record says
   what kind of task it is (a ``;`` task prints its value when it ends).
3. ``restore_saved`` (once, when the server starts serving): ``saved_tasks.restore``
   queues each record again through ``requeue_fork`` / ``requeue_suspended``, under its
   own id.
4. While the world refuses changes (a hot upgrade's freeze), a saved task that is due
   waits ``POSTPONE`` seconds more (``Scheduler._start_forked`` / ``_resume_now``): it
   stays saved for whichever server goes on.
5. ``_undo_slice``: a server bug undoes a running task's transaction, with the records it
   wrote or dropped. Memory follows: the forks it queued are cancelled, and the records
   it dropped of tasks that end anyway (its own; those it killed) are dropped again. A
   task run in its command's transaction (``;``) has the same done for it if that
   transaction is undone after the task is over (``_undo_with_enclosing``, through the
   world's ``on_undo``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from moo.errors import WorldError
from moo.lang.task import Task
from moo.lang.task_api import Frame, Limits, TaskApi
from moo.world.tasks import QueuedTask
from moo.world.world import World

if TYPE_CHECKING:
    from moo.lang.scheduler import Scheduler

log = logging.getLogger(__name__)

POSTPONE = 1.0
"""Seconds a due saved task waits again while the world refuses changes."""

TASK_ID_BITS = 31
"""Task ids are random below 2 ** 31, as LambdaMOO's (its ``RANDOM()``)."""


@dataclass
class Slice:
    """What a running task did in its current transaction that memory must forget if a
    server bug undoes it (``TaskSaving._undo_slice``)."""

    forks: list[Task] = field(default_factory=list)  # the forks it queued
    killed: list[int] = field(default_factory=list)  # saved tasks it killed


class TaskSaving:
    """The saving half of ``Scheduler`` (its base class)."""

    world: World
    waiting: dict[int, Task]
    slices: dict[int, Slice | None]
    random: random.Random
    background: Limits
    _restored: bool

    def new_id(self) -> int:
        """A new task's id: random, positive, below 2 ** 31, and held by no task that is
        waiting, running or saved (~0.3 us)."""
        while True:
            task_id = self.random.getrandbits(TASK_ID_BITS)
            if (
                task_id
                and task_id not in self.waiting
                and task_id not in self.slices
                and task_id not in self.world.tasks
            ):
                return task_id

    def _slice(self, task_id: int) -> Slice | None:
        """The running task's ``Slice``, made at its first fork or kill (most slices have
        neither: none is made for them); None if that task is not running."""
        if task_id not in self.slices:
            return None
        done = self.slices[task_id]
        if done is None:
            done = self.slices[task_id] = Slice()
        return done

    def _undo_slice(self, task: Task, done: Slice | None, *, nested: bool) -> None:
        """``task``'s transaction is undone (a server bug): the records it wrote or
        dropped are as they were before it. The forks it queued are cancelled now (their
        records are gone, or go with the enclosing transaction when ``nested``: a ``;``
        runs in its command's). The records it dropped of tasks that end anyway (its own,
        those it killed) are dropped again, in a transaction of their own: now, or when
        ``nested``, once the enclosing command is over (a loop callback)."""
        done = done or Slice()
        for child in done.forks:
            if self.waiting.get(child.id) is child:
                del self.waiting[child.id]
            if child.timer is not None:
                child.timer.cancel()
                child.timer = None
            child.saved = False
            child.state = "killed"
        ended = [task.id, *done.killed]
        if not nested:
            self._drop_ended(ended)
            return
        try:
            asyncio.get_running_loop().call_soon(self._drop_ended, ended)
        except RuntimeError:  # no loop: no task can start or restart from this world
            log.warning("ended tasks %s may stay saved in the world (no event loop)", ended)

    def _undo_with_enclosing(self, task: Task, done: Slice | None) -> None:
        """``task`` ran in its command's transaction (``;``): if that transaction is undone
        after the task is over (the journal cannot write the command's changes), the
        forks it queued and the kills it made are undone as a failed task's are."""
        if done is not None:
            self.world.on_undo(lambda: self._undo_slice(task, done, nested=True))

    def _drop_ended(self, ended: list[int]) -> None:
        """Drop the records of ended tasks that the world still holds (an undone
        transaction brought them back) and that no task in memory holds again."""
        for task_id in ended:
            if task_id in self.world.tasks and task_id not in self.waiting:
                try:
                    self.world.drop_task(task_id)
                except WorldError as error:
                    log.warning("ended task %d stays saved in the world: %s", task_id, error)

    def _loop(self) -> asyncio.AbstractEventLoop:
        raise NotImplementedError

    def _start_forked(self, task: Task, body: Callable[[TaskApi], None]) -> None:
        raise NotImplementedError

    def _resume_now(self, task: Task, value: Any) -> None:
        raise NotImplementedError

    def _save_fork(self, child: Task, body: Callable[[TaskApi], None]) -> None:
        """Record the queued fork in the world, in the forking task's transaction."""
        from moo.lang.ops import ForkBody
        from moo.lang.saved_tasks import fork_record

        if not isinstance(body, ForkBody):
            return
        record = fork_record(child, body)
        if record is None:
            return
        child.saved = self._record(record, "queued")

    def requeue_fork(
        self, record: QueuedTask, frame: Frame, body: Callable[[TaskApi], None], delay: float
    ) -> Task:
        """Queue again a fork saved in the world (``saved_tasks.restore``), under its id."""
        task = Task(cast("Scheduler", self), record.id, record.player, self.background, kind="fork")
        task.owner = record.owner
        task.push(frame)
        task.state = "queued"
        task.start_time = record.start
        task.saved = True
        self.waiting[task.id] = task
        task.timer = self._loop().call_later(delay, self._start_forked, task, body)
        return task

    def load_saving(self) -> None:
        """Import what saving and restoring tasks take (the compiler with it: ~70 ms) now,
        while the world loads, not at the first fork or, worse, in ``restore_saved`` as a
        hot upgrade's replacement starts serving, with every player waiting (it was). Not
        at module level: those modules import the scheduler."""
        import moo.lang.saved_tasks
        import moo.lang.suspended  # noqa: F401

    def restore_saved(self) -> int:
        """Queue the tasks saved in the world, once (the server starts serving; a server
        that thaws after a failed hot upgrade has them already). How many."""
        if self._restored:
            return 0
        self._restored = True
        if not self.world.tasks:
            return 0
        from moo.lang.saved_tasks import restore

        return restore(cast("Scheduler", self))

    def _save_suspended(self, task: Task) -> None:
        """Record a suspending task in the world, in its transaction (``suspended.py``);
        one that cannot be saved waits in memory only, with a log line saying why."""
        from moo.lang.suspended import NotSaved, capture

        try:
            record = capture(task)
        except NotSaved as why:
            log.info("task %d is suspended in memory only (a restart ends it): %s", task.id, why)
            return
        task.saved = self._record(record, "suspended")

    def _record(self, record: QueuedTask, how: str) -> bool:
        """Write a task's record into the world; a world that refuses changes (a failed
        journal) leaves the task in memory only, with a log line. Whether it was written."""
        try:
            self.world.queue_task(record)
        except WorldError as error:
            log.warning(
                "task %d is %s in memory only (a restart ends it): %s", record.id, how, error
            )
            return False
        return True

    def requeue_suspended(
        self, record: QueuedTask, frame: Frame, body: Callable[[Task], Any]
    ) -> Task:
        """Queue again a suspended task saved in the world, under its id: it goes on at
        its time (at once if that passed) or when ``resume()`` names it. It is of the kind
        it was (a ``;`` task shows its value when it ends); a record that does not say
        (written before it was kept) makes a command, as it did then."""
        kind = record.origin or "command"
        task = Task(cast("Scheduler", self), record.id, record.player, self.background, kind=kind)
        task.owner = record.owner
        task.push(frame)  # the innermost, for queued_tasks(); the body builds them again
        task.state = "suspended"
        task.start_time = record.start
        task.saved = True
        task.restart = body
        self.waiting[task.id] = task
        if record.start >= 0:
            delay = max(record.start - time.time(), 0.0)
            task.timer = self._loop().call_later(delay, self._resume_now, task, 0)
        return task

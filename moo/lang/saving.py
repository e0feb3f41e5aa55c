"""Saving waiting tasks in the world and queueing them again: the ``Scheduler``'s part
that ``saved_tasks.py`` (forks) and ``suspended.py`` (suspended tasks) work for.

1. ``_save_fork`` / ``_save_suspended``: when a task starts to wait, its record goes into
   the world (``World.queue_task``) in the transaction it waits in. A world that refuses
   changes (a failed journal) leaves it in memory only, with a log line.
2. ``restore_saved`` (once, when the server starts serving): ``saved_tasks.restore``
   queues each record again through ``requeue_fork`` / ``requeue_suspended``, under its
   own id (new ids start after the highest).
3. While the world refuses changes (a hot upgrade's freeze), a saved task that is due
   waits ``POSTPONE`` seconds more (``Scheduler._start_forked`` / ``_resume_now``): it
   stays saved for whichever server goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
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


class TaskSaving:
    """The saving half of ``Scheduler`` (its base class)."""

    world: World
    waiting: dict[int, Task]
    background: Limits
    _next_id: int
    _restored: bool

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
        self._next_id = max(self._next_id, record.id + 1)
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
        its time (at once if that passed) or when ``resume()`` names it."""
        task = Task(
            cast("Scheduler", self), record.id, record.player, self.background, kind="command"
        )
        task.owner = record.owner
        task.push(frame)  # the innermost, for queued_tasks(); the body builds them again
        task.state = "suspended"
        task.start_time = record.start
        task.saved = True
        task.restart = body
        self._next_id = max(self._next_id, record.id + 1)
        self.waiting[task.id] = task
        if record.start >= 0:
            delay = max(record.start - time.time(), 0.0)
            task.timer = self._loop().call_later(delay, self._resume_now, task, 0)
        return task

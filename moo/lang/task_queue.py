"""What the task builtins ask of the scheduler: ``fork``, ``suspend``, ``resume``,
``read``, ``kill_task`` and ``queued_tasks`` (``builtins/tasks.py`` calls them on
``task.scheduler``). The ``Scheduler``'s part that queues tasks and hands them back to it.

1. ``fork`` makes the child task (its base frame a copy of the forking one's), records it
   in the world when its body can be named again (``saving.py``), and queues a loop timer
   that ``_start_forked`` answers, in a transaction of its own.
2. ``suspend`` and ``read`` leave the task's greenlet (``Scheduler._wait``); a timer,
   ``resume`` or the player's next line brings it back (``Scheduler._resume_now``).
3. ``kill`` drops a queued task, or throws ``TaskAbort("killed")`` into a waiting one
   (``Throw``), in a transaction of its own, so its MOO ``finally`` code is journaled.
4. ``queued`` lists the waiting tasks as LambdaMOO's ``queued_tasks()`` does.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from moo.commands.context import VerbContext
from moo.errors import WorldError
from moo.lang import access
from moo.lang.activations import waiting_line
from moo.lang.errors import MooRaise, TaskAbort
from moo.lang.saving import POSTPONE, TaskSaving
from moo.lang.services import TaskServices
from moo.lang.task import Task
from moo.lang.task_api import Frame, Limits, TaskApi
from moo.world.values import NOTHING, Err, ObjRef

if TYPE_CHECKING:
    from moo.lang.scheduler import Outcome, Sink


class Throw:
    """Resume a waiting task by raising ``error`` where it waits."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class TaskQueue(TaskSaving):
    """The task builtins' half of ``Scheduler`` (its base class)."""

    services: TaskServices

    def new_task(self, player: int, kind: str) -> Task:
        raise NotImplementedError

    def start(self, task: Task, body: Callable[[Task], Any], output: Sink | None = None) -> Outcome:
        raise NotImplementedError

    def _enter(self, task: Task, value: Any, sink: Sink, limits: Limits) -> Outcome:
        raise NotImplementedError

    def _wait(self, task: Task, state: str) -> Any:
        raise NotImplementedError

    @staticmethod
    def _loop() -> asyncio.AbstractEventLoop:
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            raise MooRaise(Err.E_INVARG, "No event loop to queue tasks on") from None

    def fork(self, parent: Task, delay: Any, body: Callable[[TaskApi], None]) -> int:
        if delay.__class__ is not int and delay.__class__ is not float:
            raise MooRaise(Err.E_TYPE)
        if delay < 0:
            raise MooRaise(Err.E_INVARG)
        loop = self._loop()
        child = self.new_task(parent.player, "fork")
        child.owner = parent.frame.programmer
        base = parent.frame
        child.push(
            Frame.make(
                this=base.this,
                player=base.player,
                caller=base.caller,
                verb=base.verb,
                args=base.args,
                programmer=base.programmer,
                definer=base.definer,
                verb_names=base.verb_names,
                argstr=base.argstr,
                dobj=base.dobj,
                dobjstr=base.dobjstr,
                prepstr=base.prepstr,
                iobj=base.iobj,
                iobjstr=base.iobjstr,
            )
        )
        child.frame.line = waiting_line(sys._getframe()) or base.line  # the fork's line
        child.state = "queued"
        child.start_time = time.time() + float(delay)
        if getattr(body, "number", -1) >= 0:  # an ``ops.ForkBody`` (ops imports this module)
            self._save_fork(child, body)
        self.waiting[child.id] = child
        child.timer = loop.call_later(float(delay), self._start_forked, child, body)
        forking = self._slice(parent.id)
        if forking is not None:  # cancelled if its transaction is undone (``_undo_slice``)
            forking.forks.append(child)
        return child.id

    def _start_forked(self, task: Task, body: Callable[[TaskApi], None]) -> None:
        if self.waiting.get(task.id) is not task:
            return  # killed before it started
        if task.saved and self.world.read_only_reason is not None:
            task.timer = self._loop().call_later(POSTPONE, self._start_forked, task, body)
            return
        del self.waiting[task.id]
        task.timer = None
        if task.saved:
            world = self.world

            def started(t: Task) -> Any:
                world.drop_task(t.id)  # in the task's own transaction
                return body(t)

            self.start(task, started)
            return
        self.start(task, body)

    def suspend(self, task: Task, seconds: Any = None) -> Any:
        """``suspend([seconds])``: wait that long (or until ``resume()``); returns the value
        ``resume`` gave, else 0."""
        if seconds is not None:
            if seconds.__class__ is not int and seconds.__class__ is not float:
                raise MooRaise(Err.E_TYPE)
            if seconds < 0:
                raise MooRaise(Err.E_INVARG)
            task.timer = self._loop().call_later(float(seconds), self._resume_now, task, 0)
            task.start_time = time.time() + float(seconds)
        else:
            task.start_time = -1
        self._save_suspended(task)
        value = self._wait(task, "suspended")
        if task.saved:  # in the transaction it goes on in
            task.saved = False
            self.world.drop_task(task.id)
        return value

    def resume(self, progr: int, task_id: int, value: Any) -> None:
        """``resume(id, value)``: a suspended task goes on after the current one."""
        task = self.waiting.get(task_id)
        if task is None or task.state != "suspended":
            raise MooRaise(Err.E_INVARG)
        if not access.is_wizard(self.world, progr) and progr != task.owner:
            raise MooRaise(Err.E_PERM)
        if task.timer is not None:
            task.timer.cancel()
        task.state = "resuming"
        task.timer = self._loop().call_soon(self._resume_now, task, value)

    def read(self, task: Task, player: int) -> str:
        """``read()``: wait for ``player``'s next typed line and return it."""
        if not self.services.is_connected(player):
            raise MooRaise(Err.E_INVARG)
        loop = self._loop()

        def reader(_ctx: VerbContext, line: str) -> bool:
            if self.waiting.get(task.id) is task and task.state == "reading":
                task.state = "resuming"
                task.timer = loop.call_soon(self._resume_now, task, line)
            return True

        self.services.read_lines(player, reader)
        task.start_time = -1
        result: str = self._wait(task, "reading")
        return result

    def kill(self, progr: int, current: Task, task_id: int) -> None:
        """``kill_task(id)``: ``E_INVARG`` for no such task, ``E_PERM`` unless a wizard or
        the task's owner. Killing the current task ends it at once."""
        if task_id == current.id:
            raise TaskAbort("killed")
        task = self.waiting.get(task_id)
        if task is None:
            raise MooRaise(Err.E_INVARG)
        if not access.is_wizard(self.world, progr) and progr != task.owner:
            raise MooRaise(Err.E_PERM)
        if task.saved:
            try:
                self.world.drop_task(task_id)  # in the killer's transaction
            except WorldError as error:
                raise MooRaise(Err.E_INVARG, str(error)) from None
            task.saved = False
            killing = self._slice(current.id)
            if killing is not None:  # dropped again if the transaction is undone
                killing.killed.append(task_id)
        started = task.greenlet is not None
        loop = self._loop() if started else None
        del self.waiting[task_id]
        if task.timer is not None:
            task.timer.cancel()
            task.timer = None
        task.state = "killed"
        if loop is not None:
            loop.call_soon(self._finish_killed, task)

    def _finish_killed(self, task: Task) -> None:
        """End a killed task's greenlet now, in a transaction (its MOO ``finally`` code runs)."""
        self._enter(task, Throw(TaskAbort("killed")), self.services.notify, self.background)

    def queued(self, progr: int) -> list[list[Any]]:
        """``queued_tasks()``: LambdaMOO's 9-element entries, the caller's own tasks only
        unless a wizard. As LambdaMOO's, a row names the innermost frame (where a suspended
        task waits; a fork's one frame), its programmer and the line it waits on."""
        wizard = access.is_wizard(self.world, progr)
        rows: list[list[Any]] = []
        for task in self.waiting.values():
            if not wizard and task.owner != progr:
                continue
            frame = task.frames[-1] if task.frames else None
            line = frame.line if frame else 0
            if task.greenlet is not None:
                line = waiting_line(task.greenlet.gr_frame) or line
            rows.append(
                [
                    task.id,
                    int(task.start_time),
                    0,
                    self.background.ticks,
                    ObjRef(frame.programmer if frame else task.owner),
                    ObjRef(frame.definer if frame else NOTHING),
                    frame.verb_names if frame else "",
                    line,
                    frame.this if frame else ObjRef(NOTHING),
                ]
            )
        return rows

"""The scheduler: runs MOO tasks, each in its own greenlet, and keeps the waiting ones.

How a task runs (the server starts them through ``entries.py``):

1. ``start`` makes a greenlet for the task's body and ``_enter``s it: a world transaction
   opens, the greenlet runs until the body ends or the task waits (``suspend``, ``read``),
   then the task's held output goes out and the transaction commits.
2. The body ends with a value, an uncaught ``MooRaise`` (its traceback goes to the player)
   or a ``TaskAbort`` (ticks, seconds, killed). As in LambdaMOO, what a task changed before
   an error or an abort stays: only a Python exception (a bug) undoes the transaction, and
   memory follows it (``TaskSaving._undo_slice``: the forks it queued are cancelled).
3. ``fork`` (``task_queue.py``, as are 4 and 5) queues a new task on the asyncio loop to
   start after its delay, with the background budget (15,000 ticks / 3 s) and its own
   transaction.
4. ``suspend`` commits what the task did so far, delivers its output and switches back to
   whoever entered it; a loop timer (or ``resume()``, or the player's next line for
   ``read()``) enters it again later, in a new transaction, with a fresh background budget.
5. ``kill_task`` drops a queued task, or ends a waiting one by throwing ``TaskAbort``
   into it (in a transaction of its own, so whatever its ``finally`` code does is journaled).

Why greenlets: compiled MOO code is ordinary Python calls (verb calls nest as Python
frames), so a task that suspends mid-call needs its whole stack kept. A greenlet keeps it for
~0.5 us a switch, against rewriting every compiled function as a generator; making one costs
~8 us, so greenlets that finished a task wait in a small pool for the next (a task that runs
``return 1;`` costs ~5 us in all, measured here).

What survives a restart (``saving.py``): a queued fork (``saved_tasks.py``) and a
suspended task (``suspended.py``, when its frames can be resumed) are also records in the
world, written when they start to wait and dropped when they go on or are killed;
``restore_saved`` queues them again when the server starts serving. Reading tasks live in
memory only. Task ids are random, as LambdaMOO's, and never one a live or saved task holds
(``TaskSaving.new_id``): a restart hands out no id a verb may still hold.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from greenlet import getcurrent, greenlet

from moo.commands.dispatch import VerbCache
from moo.lang.activations import moo_line, unwind_line
from moo.lang.errors import MooRaise, MooSyntaxError, TaskAbort
from moo.lang.options import with_server_options
from moo.lang.saving import POSTPONE, Slice
from moo.lang.services import TaskServices
from moo.lang.task import Task
from moo.lang.task_api import Frame, Limits
from moo.lang.task_queue import TaskQueue, Throw
from moo.lang.values import toliteral
from moo.world.model import MOO_IMPL, VerbDef
from moo.world.values import Err
from moo.world.world import World

log = logging.getLogger(__name__)

FOREGROUND = Limits()
BACKGROUND = Limits(ticks=15_000, seconds=3.0)
INTERNAL_ERROR = (
    "Something went wrong running that MOO code; its changes were undone. (It was logged.)"
)
MAX_CACHED_PROGRAMS = 10_000
MAX_CACHED_CALLEES = 100_000
IDLE_GREENLETS = 8

Sink = Callable[[int, str], None]
Callee = tuple[int, VerbDef, Callable[[Any, Frame], Any] | None, str]
"""A callable verb as ``Task.call_verb`` needs it: (definer, record, compiled function or
None before ``compile_callee``, its code's filename)."""


@dataclass
class Outcome:
    """How a run of a task ended (for now: it may be suspended and go on later).

    ``status``: "done" (``value`` is what it returned), "error" (``value`` is the error code,
    ``traceback`` LambdaMOO's lines), "aborted" / "killed", "suspended" (it waits;
    ``task_id`` names it), "compile_error" (``errors``), "failed" (a server bug; undone).
    """

    status: str
    value: Any = 0
    traceback: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    task_id: int = 0

    def lines(self) -> list[str]:
        """What ``;`` shows: ``=> value``, the traceback, or the compile errors."""
        if self.status == "done":
            try:
                return [f"=> {toliteral(self.value)}"]
            except MooRaise:
                return ["=> (a value too large to show: its text passes the server's limit)"]
        if self.status in ("error", "aborted"):
            return list(self.traceback)
        if self.status == "compile_error":
            return list(self.errors)
        if self.status == "failed":
            return [INTERNAL_ERROR]
        return []


_WAITING = object()  # what a task's greenlet switches back with when it waits


def compile_source(source: str, debug: bool = True) -> Any:
    """``compile_program(source)``; raises ``MooSyntaxError``. ``debug``: the verb's ``d``
    bit (without it, its errors are values: quiet.py)."""
    from moo.lang.compiler import compile_program

    return compile_program(source, debug=debug)


class Scheduler(TaskQueue):
    """Every task of one world: the running one and those queued, suspended or reading.
    What the task builtins ask of it: ``TaskQueue``; saving waiting tasks in the world and
    queueing them again: ``TaskSaving``."""

    def __init__(
        self,
        world: World,
        services: TaskServices,
        *,
        foreground: Limits = FOREGROUND,
        background: Limits = BACKGROUND,
    ) -> None:
        self.world = world
        self.services = services
        self.foreground = foreground
        self.background = background
        self.verbs = VerbCache(world)
        self.waiting: dict[int, Task] = {}  # queued (forked), suspended and reading tasks
        self.programs: dict[tuple[str, bool], Any] = {}  # compiled, by (source, d bit)
        self.callees: dict[tuple[int, str], Callee | None] = {}  # Task.call_verb's cache
        self.callees_epoch = world.verbs_epoch
        self.site_token = object()  # marks what call sites cached from this world
        self._idle: list[Any] = []  # greenlets that finished a task, ready for the next
        self.random = random.Random()  # task ids (``new_id``)
        self.slices: dict[int, Slice | None] = {}  # the running tasks, by id (``TaskSaving``)
        self._restored = False
        self.load_saving()

    # ------------------------------------------------------------ programs

    def program(self, source: str, debug: bool = True) -> Any:
        """The compiled program of a verb's source (cached by its text); ``debug``: the
        verb has LambdaMOO's ``d`` bit (``verb_program`` says)."""
        programs = self.programs
        program = programs.get((source, debug))
        if program is None:
            try:
                program = compile_source(source, debug)
            except MooSyntaxError:
                raise MooRaise(Err.E_INVARG, "The verb's program does not compile") from None
            if len(programs) >= MAX_CACHED_PROGRAMS:
                programs.clear()
            programs[(source, debug)] = program
        return program

    def verb_program(self, verb: VerbDef) -> Any:
        """``verb``'s compiled program, as its ``d`` bit asks."""
        return self.program(verb.program, verb.debug)

    def forget_callees(self) -> None:
        """Drop the callee cache (verbs or parents changed: ``world.verbs_epoch`` moved)."""
        self.callees.clear()
        self.callees_epoch = self.world.verbs_epoch

    def find_callee(self, oid: int, name: str) -> Callee | None:
        """What ``oid:name()`` calls (LambdaMOO's ``db_find_callable_verb``), cached by the
        exact (object, name) until ``world.verbs_epoch`` moves; None: no callable verb.
        Its function is None until ``compile_callee`` (a verb that is not MOO code, or whose
        program does not compile, errs only after the call's tick, as in ``Task.invoke``)."""
        found = self.verbs.callable(oid, name)
        callee = None if found is None else (found[0], found[1], None, "")
        if len(self.callees) >= MAX_CACHED_CALLEES:
            self.callees.clear()
        self.callees[(oid, name)] = callee
        return callee

    def compile_callee(self, oid: int, name: str, callee: Callee) -> Callee:
        """``callee`` with its compiled function (``E_PERM`` for a Python verb, ``E_INVARG``
        for a program that does not compile), cached again. A compiled ``Program`` gives its
        own function (``Program.body``): ``Task.call_verb`` converts its Python errors."""
        definer, verb, _, _ = callee
        if verb.impl != MOO_IMPL:
            raise MooRaise(Err.E_PERM, "Python verbs cannot be called from MOO code")
        program = self.verb_program(verb)
        run = getattr(program, "body", None) or program.run
        compiled = (definer, verb, run, getattr(program, "filename", ""))
        self.callees[(oid, name)] = compiled
        return compiled

    def new_task(self, player: int, kind: str) -> Task:
        task_id = self.new_id()
        background = kind == "fork"
        limits = with_server_options(
            self.world, self.background if background else self.foreground, background=background
        )
        return Task(self, task_id, player, limits, kind=kind)

    # ------------------------------------------------------------- running

    def start(self, task: Task, body: Callable[[Task], Any], output: Sink | None = None) -> Outcome:
        """Run a new task now, in a greenlet of its own (an idle one from the pool: making
        one costs ~8 us, reusing one ~0.5 us) and a transaction of its own."""
        task.greenlet = self._idle.pop() if self._idle else greenlet(self._runner)
        return self._enter(task, (task, body), output or self.services.notify, task.limits)

    def _runner(self, job: tuple[Task, Callable[[Task], Any]]) -> None:
        """A pooled greenlet's life: run a task's body, hand the outcome back, wait for
        the next one."""
        while True:
            task, body = job
            outcome = self._main(task, body)
            job = task.resumer.switch(outcome)

    def _main(self, task: Task, body: Callable[[Task], Any]) -> Outcome:
        try:
            outcome = Outcome("done", body(task), task_id=task.id)
            if task.resumed and task.kind == "eval":
                for line in outcome.lines():  # ``;`` stopped waiting at the suspend
                    task.notify(task.player, line)
            return outcome
        except MooRaise as error:
            lines = self._close_traceback(task, error, error.traceback, error.message)
            if task.uncaught_to_player:
                for line in lines:
                    task.notify(task.player, line)
            return Outcome("error", error.code, lines, task_id=task.id)
        except TaskAbort as abort:
            if abort.reason == "killed":
                return Outcome("killed", task_id=task.id)
            lines = self._close_traceback(task, abort, task.abort_traceback, task.abort_message)
            if task.uncaught_to_player:
                for line in lines:
                    task.notify(task.player, line)
            return Outcome("aborted", abort.reason, lines, task_id=task.id)

    @staticmethod
    def _close_traceback(
        task: Task, error: BaseException, lines: list[str], message: str
    ) -> list[str]:
        """The whole traceback: a forked task's base frame (not run by ``run_frame``) adds
        its line, then LambdaMOO's last line."""
        lines = list(lines)
        if task.frames:
            frame = task.frames[0]
            frame.line = moo_line(error.__traceback__, "", frame.line)
            unwind_line(frame, lines, message)
        return [*lines, "(End of traceback)"]

    def _enter(self, task: Task, value: Any, sink: Sink, limits: Limits) -> Outcome:
        """Switch into the task's greenlet inside a transaction until it ends or waits."""
        glet = task.greenlet
        assert glet is not None
        here = getcurrent()
        glet.parent = here  # where control goes when the body ends
        task.resumer = here  # where it switches to when it waits
        task.state = "running"
        task.begin_slice(limits)
        nested = self.world.in_transaction  # ``;`` from a Python verb: its transaction
        self.slices[task.id] = None  # a ``Slice`` at its first fork or kill
        try:
            with self.world.transaction():
                result = glet.switch(value)
                # Inside the transaction: behind a front, the output must be in the group
                # its commit seals (moo/engine/link.py); sockets still send it after.
                self._deliver(task, sink)
                if nested:  # the enclosing command may still fail to commit
                    self._undo_with_enclosing(task, self.slices.get(task.id))
        except Exception:
            task.pending.clear()
            task.state = "done"
            self.waiting.pop(task.id, None)
            self._undo_slice(task, self.slices.get(task.id), nested=nested)
            if nested:
                raise  # the enclosing command must fail, and undo what the task did
            log.exception("MOO task %d failed (player #%d)", task.id, task.player)
            self.services.notify(task.player, INTERNAL_ERROR)
            return Outcome("failed", task_id=task.id)
        finally:
            self.slices.pop(task.id, None)
        if isinstance(result, Outcome):
            task.state = "done"
            task.greenlet = None
            if len(self._idle) < IDLE_GREENLETS:
                self._idle.append(glet)
            return result
        return Outcome("suspended", task_id=task.id)

    @staticmethod
    def _deliver(task: Task, sink: Sink) -> None:
        pending, task.pending = task.pending, []
        by_player: dict[int, list[str]] = {}
        for player, text in pending:
            by_player.setdefault(player, []).append(text)
        for player, lines in by_player.items():
            sink(player, "\n".join(lines))

    def _wait(self, task: Task, state: str) -> Any:
        """Leave the running task's greenlet until something enters it again."""
        if getcurrent() is not task.greenlet:
            raise MooRaise(Err.E_INVARG, "This task cannot wait here")
        task.state = state
        self.waiting[task.id] = task
        value = task.resumer.switch(_WAITING)
        if isinstance(value, Throw):
            raise value.error
        return value

    def _resume_now(self, task: Task, value: Any) -> None:
        """A loop callback: run a waiting task on from where it waits."""
        if self.waiting.get(task.id) is not task:
            return  # killed or resumed already
        if task.saved and self.world.read_only_reason is not None:
            task.timer = self._loop().call_later(POSTPONE, self._resume_now, task, value)
            return
        del self.waiting[task.id]
        task.timer = None
        task.resumed = True
        task.uncaught_to_player = True  # whoever started it has stopped waiting
        if task.greenlet is None and task.restart is not None:  # restored from the world
            task.resume_value = value
            self.start(task, task.restart)
            return
        self._enter(task, value, self.services.notify, self.background)

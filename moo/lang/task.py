"""``Task``: the ``TaskApi`` that compiled MOO code runs against, on the real world.

One task is one command, one ``;`` evaluation, one forked body, or a suspended task
resumed. What it does for compiled code:

1. Ticks: the budget (``Limits.ticks``) is handed to the code ``SLICE`` ticks at a time;
   between slices ``out_of_ticks`` checks the seconds limit too, so a runaway loop ends
   with ``TaskAbort("ticks")`` or ``("seconds")`` and LambdaMOO's "Task ran out of ticks".
2. Properties and verbs: ``get_prop`` / ``set_prop`` / ``call_verb`` / ``pass_verb`` with
   LambdaMOO's errors and permissions (``access.py``); each verb call pushes an activation
   on ``stack`` (a ``Frame``: ``caller`` = the calling frame's ``this``, ``programmer`` =
   the verb's owner) and costs a tick; past ``Limits.max_depth`` of them it is
   ``E_MAXREC``. A verb called directly from a call site that reads no built-in variable
   but ``this`` and ``args`` pushes a ``Light`` tuple instead (``verb_calls.call_entry``),
   made into that very ``Frame`` when ``frame`` or ``frames`` is read.
3. Errors: a ``MooRaise`` (or a ``TaskAbort``) leaving a frame adds that frame's line of
   LambdaMOO's traceback, with the MOO line found in the Python traceback of the frame's
   compiled code (``moo_line``); the scheduler closes it with "(End of traceback)".
4. Output (``notify``) is held in ``pending`` and delivered by the scheduler after the
   task's transaction commits.
5. ``fork``, ``suspend`` and ``read`` hand over to the ``Scheduler`` (``scheduler.py``),
   which runs every task in its own greenlet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from moo.errors import WorldError
from moo.lang import access
from moo.lang.activations import Activations, moo_line, unwind, unwind_line
from moo.lang.errors import MooRaise, TaskAbort
from moo.lang.task_api import Frame, Limits, TaskApi
from moo.world.model import MOO_IMPL, VerbDef
from moo.world.values import Err, ObjRef

if TYPE_CHECKING:
    from greenlet import greenlet

    from moo.lang.scheduler import Callee, Scheduler

_MISSING: Any = object()
CONVERTED = (NameError, RecursionError, MemoryError)  # ``ops.CONVERTED`` (a test keeps them equal)

SLICE = 256
"""Ticks handed to compiled code at a time; the seconds limit is checked between slices.
At most 256, ``task.ticks`` stays among CPython's cached small ints: no int is made at each
tick (500 before: fib(25) 4,562 -> 4,519 instructions a call)."""


class Task(Activations):
    """One running (or suspended) MOO task. Created by the ``Scheduler`` only."""

    def __init__(
        self, scheduler: Scheduler, task_id: int, player: int, limits: Limits, *, kind: str
    ) -> None:
        self.scheduler = scheduler
        self.world = scheduler.world
        self.id = task_id
        self.player = player
        self.limits = limits
        self.max_depth = limits.max_depth  # ``limits.max_depth``, for ``call_verb``
        self.kind = kind  # "command", "eval", "fork", "server"
        self.site_token = scheduler.site_token  # what call sites compare (one load less)
        self.stack = []  # a ``Frame``, or a direct call's ``Light``, per activation
        self.ticks = 0
        self._budget = 0
        self._started = 0.0
        self._deadline = 0.0
        self.pending: list[tuple[int, str]] = []
        self.greenlet: greenlet | None = None
        self.resumer: Any = None  # the greenlet that entered it last (it switches back there)
        self.state = "new"  # "queued", "running", "suspended", "reading", "done"
        self.start_time = time.time()  # when it runs next (queued tasks), for queued_tasks()
        self.abort_traceback: list[str] = []  # written as an abort unwinds the frames
        self.abort_message = ""
        self.timer: Any = None  # the loop's handle that will start or resume it
        self.owner = player  # the programmer it started as (kill_task/resume permissions)
        self.uncaught_to_player = True  # tell the player its traceback (not for ;)
        self.resumed = False  # it has waited (suspend, read) and gone on since
        self.saved = False  # the world holds a record of it while it waits (saved_tasks.py)
        self.restart: Callable[[Task], Any] | None = None  # a restored suspended task's body
        self.resume_value: Any = 0  # what suspend() returns to a restored task
        self.outer_saved: list[Any] = []  # a restored task's outer frames (suspended.py)

    # ------------------------------------------------------------------ ticks

    def begin_slice(self, limits: Limits) -> None:
        """A fresh budget and clock for a run (start, or resumption after a suspend)."""
        self.limits = limits
        self.max_depth = limits.max_depth
        self.ticks = min(SLICE, limits.ticks)
        self._budget = limits.ticks - self.ticks
        self._started = time.monotonic()
        self._deadline = self._started + limits.seconds

    def out_of_ticks(self) -> None:
        if time.monotonic() > self._deadline:
            self._abort("seconds")
        if self._budget <= 0:
            self._abort("ticks")
        grant = min(SLICE, self._budget)
        self._budget -= grant
        self.ticks += grant

    def _abort(self, reason: str) -> None:
        self.abort_traceback = []
        self.abort_message = f"Task ran out of {reason}"
        raise TaskAbort(reason)

    @property
    def ticks_left(self) -> int:
        return max(self._budget + self.ticks, 0)

    @property
    def seconds_left(self) -> float:
        return max(self._deadline - time.monotonic(), 0.0)

    def _tick(self) -> None:
        self.ticks -= 1
        if self.ticks <= 0:
            self.out_of_ticks()

    # ------------------------------------------------------------------ output

    def notify(self, player: int, text: str) -> None:
        self.pending.append((player, text))

    # ------------------------------------------------------------------ frames

    def run_frame(self, program: Any, frame: Frame, *, via: str = "") -> Any:
        """Run ``program`` as a new activation ``frame``; tracebacks are written here.
        ``via``: the builtin that made the call (``move`` calling ``accept``, ``eval``)."""
        if len(self.stack) >= self.limits.max_depth:
            raise MooRaise(Err.E_MAXREC)
        self.push(frame)
        try:
            return program.run(self, frame)
        except MooRaise as error:
            frame.line = moo_line(error.__traceback__, getattr(program, "filename", ""), frame.line)
            unwind(frame, error, via)
            raise
        except TaskAbort as abort:
            frame.line = moo_line(abort.__traceback__, getattr(program, "filename", ""), frame.line)
            unwind_line(frame, self.abort_traceback, self.abort_message, via)
            raise
        finally:
            self.pop()

    # ------------------------------------------------------------- properties

    def get_prop(self, obj: Any, name: Any) -> Any:
        if obj.__class__ is not ObjRef or name.__class__ is not str:
            raise MooRaise(Err.E_TYPE)
        world = self.world
        target = world.objects.get(obj.id)
        if target is None:
            raise MooRaise(Err.E_INVIND)
        lowered = name.lower()
        if lowered in access.BUILTIN_NAMES:
            return access.get_builtin(target, lowered)
        found = access.find_property(world, obj.id, name)
        if found is None:
            raise MooRaise(Err.E_PROPNF)
        key, _definer, slot = found
        if "r" not in slot.perms and not access.property_allows(
            world, self.frame.programmer, slot, "r"
        ):
            raise MooRaise(Err.E_PERM)
        return world.get_prop(obj.id, key)

    def set_prop(self, obj: Any, name: Any, value: Any) -> None:
        if obj.__class__ is not ObjRef or name.__class__ is not str:
            raise MooRaise(Err.E_TYPE)
        world = self.world
        target = world.objects.get(obj.id)
        if target is None:
            raise MooRaise(Err.E_INVIND)
        progr = self.frame.programmer
        lowered = name.lower()
        if lowered in access.BUILTIN_NAMES:
            access.set_builtin(world, progr, target, lowered, value)
            return
        found = access.find_property(world, obj.id, name)
        if found is None:
            raise MooRaise(Err.E_PROPNF)
        key, _definer, slot = found
        if not access.property_allows(world, progr, slot, "w"):
            raise MooRaise(Err.E_PERM)
        try:
            world.set_prop(obj.id, key, value)
        except WorldError as error:
            raise MooRaise(Err.E_INVARG, str(error)) from None

    # ------------------------------------------------------------------ verbs

    def call_verb(self, obj: Any, name: Any, args: list[Any], site: list[Any] | None = None) -> Any:
        """``obj:name(@args)`` from compiled code: the hot path of every verb call.

        It does what ``invoke`` and ``run_frame`` do, inline, with the verb and its compiled
        function taken from the scheduler's callee cache (``Scheduler.callee``, dropped when
        ``world.verbs_epoch`` moves) and the program's own Python function called directly
        (the ``Program.run`` conversions are done here, in the ``except``). Measured with
        ``bench/lang.py``'s recursive fib(25), 242,785 calls: 0.62 s before (lookup through
        ``VerbCache.callable``, five Python frames, a 15-field ``Frame``), 0.17 s
        after, fib's own code included. Then ``Frame()`` without ``__init__``, the object's
        existence checked only on a cache miss, and ``site`` (a call with a literal verb
        name keeps its callee there: no tuple key, no dict lookup): ~0.55 -> ~0.43 us a call
        of an empty verb. Then the site holds the ``ObjRef`` and the epoch object themselves,
        compared with ``is``, and the type checks are made only when it misses (an object
        found there is an ``ObjRef``; a site's name is a literal): fib(25) 133 -> 125 ms.
        Keep the miss inline: moving it to a method made fib(25) ~20 ms slower at most
        stack depths (``return #1:w(d)`` wrapping it in d verb calls) though it ran fewer
        instructions; timings that depend on the depth are a layout effect to check for.
        Then 7 frame fields instead of 10 (``Frame``: the site keeps ``entry``, the task's
        ``context`` is handed on): ~127 -> ~117 ms. Measured and left out (under 2%): frames
        kept by depth and reused (no ``Frame()``), frames chained (``up``) with a depth count
        instead of the ``frames`` list, ``del frames[n]`` for ``pop()`` (slower).
        A call site whose receiver, epoch and world are the ones it kept calls the verb's
        ``run`` itself, which then does this method's work (``verb_calls.call_entry``): one
        Python frame less, ~114 -> ~106 ms. This method is the first call from a site, a
        miss, a name computed at run time, and what ``MemoryTask`` sees.
        Then (``tests/unit/lang/bench_lang.py``, callgrind instructions per fib call from
        ``fib(20) - fib(16)``): a verb that reads only ``this`` and ``args`` pushes a
        ``Light`` tuple, no ``Frame`` until one is asked for, and ``task.frame`` is no
        longer stored at each call and return (``frame`` reads ``stack[-1]``): 5,769 ->
        4,809 instructions, fib(25) ~116 -> ~82 ms. The price: ``task.frame`` is a property
        (~40 ns more for each builtin that checks permissions). Then every directly called
        verb pushes a ``Light``, with the task's context for one that reads ``player``,
        ``caller``, ``verb`` or the command's words: fib reading ``player`` 5,793 -> 4,910.
        (From here with ``PYTHONHASHSEED=0``: these counts depend on the hash seed.)
        A call that misses its site (a receiver other than the last: ``l[i]:f()``) keeps
        the new callee there and calls it as the site will, its entry pushing a ``Light``:
        an iteration of such a loop 11,730 -> 10,359 instructions.
        Measured and left out: a depth counter instead of the ``Light`` push, the frames of
        light verbs found by walking the Python stack when asked for (4,562 -> 4,082 for
        fib, but each permission check in such a verb would walk the stack and read the
        Python frame's locals); the depth handed to the callee as an argument (no gain).
        """
        scheduler = self.scheduler
        epoch = self.world.verbs_epoch
        callee: Any
        if (
            site is not None
            and site[0] is obj  # then it is an ``ObjRef``, and the literal name a str
            and site[1] is epoch
            and site[2] is self.site_token
        ):
            run = site[3]  # what it found last, for this very ``obj``
            filename, owner, entry = site[4]
        else:
            if obj.__class__ is not ObjRef or name.__class__ is not str:
                raise MooRaise(Err.E_TYPE)
            if scheduler.callees_epoch != epoch:
                scheduler.forget_callees()
            callee = scheduler.callees.get((obj.id, name))
            if callee is None:
                callee = self._find_callee(obj.id, name)  # a cached callee's object exists
            definer, verb, run, filename = callee
            owner = verb.owner
            entry = (definer, verb.names, name)
            if site is not None and getattr(run, "__globals__", {}).get("_CALLABLE"):
                site[:] = (obj, epoch, self.site_token, run, (filename, owner, entry))
                return run(self, obj, args, site)  # as the site will: its entry does the rest
        self.ticks -= 1
        if self.ticks <= 0:
            self.out_of_ticks()
        if run is None:
            _, _, run, filename = scheduler.compile_callee(obj.id, name, callee)
        stack = self.stack
        if len(stack) >= self.max_depth:
            raise MooRaise(Err.E_MAXREC)
        caller = stack[-1]
        if caller.__class__ is not Frame:
            caller = self.frame
        frame = Frame()  # ``Frame.call``, inlined: one Python call less
        frame.this = obj
        frame.caller = caller.this
        frame.args = args
        frame.programmer = owner
        frame.entry = entry
        frame.context = caller.context
        frame.line = 0
        stack.append(frame)
        try:
            return run(self, frame)
        except MooRaise as error:
            frame.line = moo_line(error.__traceback__, filename, frame.line)
            unwind(frame, error)
            raise
        except TaskAbort as abort:
            frame.line = moo_line(abort.__traceback__, filename, frame.line)
            unwind_line(frame, self.abort_traceback, self.abort_message)
            raise
        except CONVERTED as exc:  # what ``Program.run`` turns into MOO errors
            from moo.lang.ops import to_moo  # ops imports the builtins, which import this

            converted = to_moo(exc).with_traceback(exc.__traceback__)
            frame.line = moo_line(exc.__traceback__, filename, frame.line)
            unwind(frame, converted)
            raise converted from None
        finally:
            stack.pop()

    def left(self, exc: BaseException, filename: str) -> BaseException | None:
        """What ``call_verb`` does as an error leaves a verb, for a verb's ``run`` called
        directly (``verb_calls.CALL_EXIT``; its activation is still the innermost): the
        traceback line, and the MOO error that a Python one becomes (None: raise ``exc``
        itself)."""
        frame = self.frame
        if isinstance(exc, MooRaise):
            frame.line = moo_line(exc.__traceback__, filename, frame.line)
            unwind(frame, exc)
            return None
        if isinstance(exc, TaskAbort):
            frame.line = moo_line(exc.__traceback__, filename, frame.line)
            unwind_line(frame, self.abort_traceback, self.abort_message)
            return None
        from moo.lang.ops import to_moo  # ops imports the builtins, which import this

        converted = to_moo(exc).with_traceback(exc.__traceback__)
        frame.line = moo_line(exc.__traceback__, filename, frame.line)
        unwind(frame, converted)
        return converted

    def _find_callee(self, oid: int, name: str) -> Callee:
        """``oid:name``'s callee when the cache has none: E_INVIND for an object that does
        not exist, E_VERBNF when it has no callable verb of that name."""
        if oid not in self.world.objects:
            raise MooRaise(Err.E_INVIND)
        scheduler = self.scheduler
        callee: Callee | None = scheduler.callees.get((oid, name), _MISSING)
        if callee is _MISSING:
            callee = scheduler.find_callee(oid, name)
        if callee is None:
            raise MooRaise(Err.E_VERBNF)
        return callee

    def pass_verb(self, args: list[Any]) -> Any:
        frame = self.frame
        definer = self.world.objects.get(frame.definer)
        if definer is None or definer.parent not in self.world.objects:
            raise MooRaise(Err.E_INVIND)
        found = self.scheduler.verbs.callable(definer.parent, frame.verb)
        if found is None:
            raise MooRaise(Err.E_VERBNF)
        where, verb = found
        return self.invoke(frame.this, where, verb, frame.verb, args)

    def invoke(
        self, this: ObjRef, definer: int, verb: VerbDef, name: str, args: list[Any], via: str = ""
    ) -> Any:
        """Call ``verb`` (found on ``definer``) on ``this`` from the current frame."""
        self._tick()
        if verb.impl != MOO_IMPL:
            raise MooRaise(Err.E_PERM, "Python verbs cannot be called from MOO code")
        program = self.scheduler.verb_program(verb)
        frame = self.frame.call(this, name, args, verb.owner, definer, verb.names)
        return self.run_frame(program, frame, via=via)

    def call_if_defined(self, obj: int, name: str, args: list[Any], *, via: str) -> Any:
        """Call ``obj:name(@args)`` for builtin ``via`` when such a callable verb exists
        (``initialize``, ``accept``, ``enterfunc`` ...); None when it does not."""
        found = self.scheduler.verbs.callable(obj, name)
        if found is None:
            return None
        definer, verb = found
        return self.invoke(ObjRef(obj), definer, verb, name, args, via)

    # ------------------------------------------------------------------- tasks

    def fork(self, delay: Any, body: Callable[[TaskApi], None]) -> int:
        return self.scheduler.fork(self, delay, body)


def _satisfies_contract(task: Task) -> TaskApi:
    """mypy checks here that ``Task`` implements ``TaskApi``."""
    return task

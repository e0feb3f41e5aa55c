"""Suspended tasks saved in the world, and resumed from it after a restart.

A task that calls ``suspend()`` waits in its greenlet, which cannot be saved. So at the
moment it suspends (inside its transaction: the record commits with what the task did so
far) ``capture`` writes down what a restart needs to go on, from the Python frames of its
compiled MOO code, outermost first:

1. Each compiled frame must be one ``Task.frames`` entry, called by a plain verb call
   (directly from its call site, or through ``Task.call_verb``) or ``pass()``; the
   innermost is in ``suspend()``. A frame called by a builtin (``move()`` calling
   ``accept``, ``eval()``), a catch expression or a Python verb cannot be resumed: the
   task then stays in memory only (a log line says why), as every suspended task did
   before.
2. Where each frame waits: its MOO line (the compiled code's line numbers are MOO lines)
   and ``positions.locate``, which asks that it be the only call that can wait on that
   line; the variables (``v_*`` locals) and the hidden state of the loops around it.
3. The record (``world/tasks.py``, kind ``suspended``, with the task's ``origin``: a ``;``
   task restored shows its value when it ends, as one never restarted does) is dropped
   when the task goes on.

After a restart ``resume_body`` makes the task's body: the innermost frame's program is
compiled in the resumable mode (``resumed.py``) with the waiting call replaced by the value
``suspend()`` returns (0, or what ``resume()`` gave); what it returns (or the error it
raises) is the result of the waiting call in the frame around it, and so on out. A frame
whose verb was reprogrammed since (its source hash differs) makes the whole task be
dropped with a line in the log, as LambdaMOO drops a task it cannot read back.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from moo.lang import tree as t
from moo.lang.activations import MOO_CODE_PREFIX, unwind
from moo.lang.analysis import walk
from moo.lang.compiler import Program, compile_program
from moo.lang.errors import MooRaise, MooSyntaxError
from moo.lang.positions import follow, header, locate, numbered, root_block, waits
from moo.lang.resumed import NotResumable, ResumeSpec, compile_resumed
from moo.lang.saved_tasks import Unrestorable, load_frame, save_frame, saved_program
from moo.world.codec import encoder
from moo.world.tasks import SUSPENDED, QueuedTask, SavedFrame
from moo.world.values import Err
from moo.world.world import World

if TYPE_CHECKING:
    from moo.lang.task import Task

VERB_CALL = ((), ("call_verb",))  # a call site's direct call, or through ``call_verb``
PASS_CALL = ("run", "run_frame", "invoke", "pass_verb")  # innermost first


class NotSaved(Exception):
    """Why a suspended task cannot be saved (it stays in memory only)."""


def _compiled_frames(start: FrameType | None) -> list[tuple[FrameType, tuple[str, ...]]]:
    """The compiled MOO frames from ``start`` outwards, innermost first, each with the
    names of the Python frames between it and the next one in."""
    found: list[tuple[FrameType, tuple[str, ...]]] = []
    between: list[str] = []
    frame = start
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith(MOO_CODE_PREFIX):
            found.append((frame, tuple(between)))
            between = []
        else:
            between.append(code.co_name)
        frame = frame.f_back
    return found


def _root_of(frame: FrameType) -> int:
    name = frame.f_code.co_name
    if name == "run":
        root: int = frame.f_globals.get("_ROOT", -1)
        return root
    for number, function in frame.f_globals.get("_FORKS", {}).items():
        if function == name:
            return int(number)
    raise NotSaved("it waits inside a catch expression or a nested function")


def capture(task: Task) -> QueuedTask:
    """The record of ``task``, which is suspending now (called from its greenlet, under
    ``suspend()``). Raises ``NotSaved``."""
    compiled = _compiled_frames(sys._getframe(1))
    roots = [_root_of(frame) for frame, _ in compiled]  # NotSaved for a closure's frame
    outer = task.outer_saved  # a restored task's frames still waiting for their call
    if len(compiled) + len(outer) != len(task.frames) or not compiled:
        raise NotSaved("not every frame is compiled MOO code")
    if "suspend" not in compiled[0][1]:
        raise NotSaved("it does not wait in suspend()")
    saved: list[SavedFrame] = []
    for i, (frame, between) in enumerate(compiled):
        root = roots[i]
        callee = task.frames[len(task.frames) - i] if i else None  # the frame it called
        if i == 0:
            wanted = ("suspend", "")
        elif between in VERB_CALL and callee is not None:
            wanted = ("verb", callee.verb)
        elif between == PASS_CALL:
            wanted = ("pass", "")
        else:
            raise NotSaved("a verb was called by a builtin")
        moo_frame = task.frames[len(task.frames) - 1 - i]
        saved.append(_save(task.world, moo_frame, frame, root, wanted))
    saved.reverse()
    saved = [*outer, *saved]
    try:
        encoder.encode(saved)
    except (TypeError, NotImplementedError, ValueError) as error:
        raise NotSaved(f"a variable holds a value that cannot be saved ({error})") from None
    return QueuedTask(
        id=task.id,
        kind=SUSPENDED,
        start=task.start_time,
        owner=task.owner,
        player=task.player,
        fork=-1,
        frames=saved,
        origin=task.kind,
    )


Where = tuple[list[list[int]], str, tuple[tuple[str, int, str], ...]]
"""A waiting position: its path, the waiting call's kind ("verb", or the builtin's name)
and the ``for`` loops around it (kind "list"/"range", number, variable)."""


@functools.lru_cache(maxsize=4096)
def _where(source: str, root: int, line: int, kind: str, verb: str) -> Where | str:
    """Where a frame of ``source`` (root ``root``) waits when on ``line``, or why it cannot
    be saved there. Cached: finding it walks the program (~0.3 ms for a loop of a few
    statements, most of a save's cost before the cache; ~5 us after)."""
    program = compile_program(source)
    block = root_block(program.tree, root)
    found = locate(block, line, kind, verb)
    if found is None:
        return f"line {line} has more than one call that can wait, or none in a statement"
    path, call = found
    kind = "verb" if isinstance(call, t.VerbCall) else str(getattr(call, "name", ""))
    along = follow(block, path)
    again = header(along[-1], path[-1][1])  # what is evaluated again when it goes on
    if sum(1 for n in walk(tuple(again)) if waits(n)) != 1:  # the others would run again
        return f"the statement on line {line} makes more than one call that can wait"
    for step, s in zip(path, along, strict=True):
        if isinstance(s, t.TryFinally) and step[1] != 0:
            return "it waits in a finally block"
    _, loop_ids = numbered(program.tree)
    loops = tuple(
        ("list" if isinstance(s, t.ForList) else "range", loop_ids[id(s)], s.var.lower())
        for s in along[:-1]
        if isinstance(s, (t.ForList, t.ForRange))
    )
    return path, kind, loops


def _save(
    world: World, moo_frame: Any, frame: FrameType, root: int, wanted: tuple[str, str]
) -> SavedFrame:
    source = frame.f_globals.get("_SOURCE", "")
    if not source:
        raise NotSaved("a frame's program is unknown")
    line = frame.f_lineno
    where = _where(source, root, line, *wanted)
    if isinstance(where, str):
        raise NotSaved(where)
    path, _, loops_around = where
    local = frame.f_locals
    loops: list[list[Any]] = []
    for loop_kind, k, var in loops_around:
        try:
            if loop_kind == "list":
                state = [local[f"_fl{k}"], local[f"_fi{k}"]]
                if f"v_{var}" in local:
                    state.append(local[f"v_{var}"])
            else:
                state = [local[f"_fi{k}"], local[f"_fe{k}"]]
        except KeyError:
            raise NotSaved("a loop's position is unknown") from None
        loops.append([k, *state])
    variables = {name[2:]: value for name, value in local.items() if name.startswith("v_")}
    record = save_frame(world, moo_frame, source, variables)
    record.line = line
    record.resume = [root, path, loops]  # the cached path: records are never changed in place
    return record


def _spec(saved: SavedFrame, result: t.Expr) -> ResumeSpec:
    try:
        root, path, loops = saved.resume
        return ResumeSpec(
            root=int(root),
            path=[[int(i), int(b)] for i, b in path],
            variables=dict(saved.variables),
            loops={int(k[0]): list(k[1:]) for k in loops},
            result=result,
        )
    except (TypeError, ValueError) as error:
        raise Unrestorable(f"its saved position is damaged ({error})") from None


def resumed_program(world: World, saved: SavedFrame, result: t.Expr) -> Program:
    """``saved``'s program, resumed with ``result`` for its waiting call. Raises
    ``Unrestorable``."""
    original = saved_program(world, saved)
    try:
        return compile_resumed(_source_of(original), _spec(saved, result), original.debug)
    except NotResumable as why:
        raise Unrestorable(str(why)) from None
    except MooSyntaxError:
        raise Unrestorable("its program no longer compiles") from None


def _source_of(program: Program) -> str:
    text: str = program.body.__globals__["_SOURCE"]
    return text


def _passed_through(raised: MooRaise, delivered: MooRaise) -> bool:
    """Whether ``raised`` is the error delivered to this frame's waiting call, leaving it
    uncaught: then its traceback is the one it had, and this frame's line."""
    return (
        len(raised.traceback) == 1
        and raised.code == delivered.code
        and raised.message == delivered.message
        and raised.value == delivered.value
    )


def resume_body(world: World, record: QueuedTask) -> Callable[[Task], Any]:
    """The body that goes on with a saved suspended task. Checks first that every frame
    resumes (raises ``Unrestorable``)."""
    for saved in record.frames:
        resumed_program(world, saved, t.Literal(0))

    def body(task: Task) -> Any:
        if task.saved:  # in the transaction it goes on in
            task.saved = False
            world.drop_task(task.id)
        task.frames.clear()
        frames = [load_frame(saved) for saved in record.frames]
        for frame in frames[:-1]:
            task.push(frame)
        value: Any = task.resume_value
        error: MooRaise | None = None
        for i in reversed(range(len(frames))):
            if i < len(frames) - 1:
                task.pop()
            if error is None:
                result: t.Expr = t.Literal(value)
            else:
                parts = (error.code, error.message, error.value)
                result = t.Call("raise", tuple(t.Literal(p) for p in parts))
            try:
                program = resumed_program(world, record.frames[i], result)
            except Unrestorable as why:
                raise MooRaise(Err.E_INVARG, f"The task cannot go on: {why}") from None
            task.outer_saved = record.frames[:i]
            try:
                value, error = task.run_frame(program, frames[i]), None
            except MooRaise as raised:
                if error is not None and _passed_through(raised, error):
                    raised.traceback = list(error.traceback)  # the frames it came from
                    raised.stack = list(error.stack)
                    unwind(frames[i], raised)
                if i == 0:
                    raise
                error = raised
            finally:
                task.outer_saved = []
        return value

    return body

"""Queued tasks saved in the world, and made again from it after a restart.

A greenlet cannot be saved, so what the world keeps of a queued task is what is needed to
build it again (``moo/world/tasks.py``):

1. ``fork_record``: when ``fork (delay) ... endfork`` queues a task, the scheduler records
   it (``World.queue_task``, in the forking task's transaction: journaled with what the
   task did so far). A fork is saved as its base frame (``this``, ``player``, ``caller``,
   ``verb``, ``args``, the command words, the programmer), the program it is in (by verb
   and source hash, or its text for ``;`` code), which ``fork`` statement it is (counted in
   source order) and the copy of the variables it runs over (LambdaMOO copies them too).
2. The record is dropped when the task starts (in the started task's own transaction) or
   is killed (in the killer's).
3. ``restore``, once the server serves (``Server.start_housekeeping``): every record
   (forks, and suspended tasks through ``suspended.py``) becomes a queued task again
   under its own id, due at its wall-clock time (one whose
   time passed while the server was down starts at once, as in LambdaMOO; those due
   together go in the order they were queued, not by their random ids). A record whose
   program cannot be found again (the verb was reprogrammed or removed since: its source
   hash differs) is dropped with a line in the server log, as LambdaMOO drops a task it
   cannot read back.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from moo.errors import WorldError
from moo.lang.compiler import Program, compile_program, source_hash
from moo.lang.errors import MooSyntaxError
from moo.lang.ops import UNSET, ForkBody
from moo.lang.task_api import Frame
from moo.world.model import MOO_IMPL
from moo.world.tasks import FORK, SUSPENDED, QueuedTask, SavedFrame
from moo.world.values import ObjRef
from moo.world.world import World

if TYPE_CHECKING:
    from moo.lang.scheduler import Scheduler
    from moo.lang.task import Task

log = logging.getLogger(__name__)


def program_reference(world: World, frame: Frame, source: str) -> tuple[str, str]:
    """(source hash, source text to keep): the text is kept only when it is no verb's
    program on the frame's definer (``;`` code, ``eval()``)."""
    digest = source_hash(source)
    definer = world.objects.get(frame.definer)
    if definer is not None:
        for verb in definer.verbs:
            if verb.impl == MOO_IMPL and verb.program == source:
                return digest, ""
    return digest, source


def save_frame(world: World, frame: Frame, source: str, variables: dict[str, Any]) -> SavedFrame:
    digest, text = program_reference(world, frame, source)
    command = frame.command
    return SavedFrame(
        this=frame.this.id,
        player=frame.player.id,
        caller=frame.caller.id,
        verb=frame.verb,
        args=list(frame.args),
        programmer=frame.programmer,
        definer=frame.definer,
        verb_names=frame.verb_names,
        command=[command[0], command[1].id, command[2], command[3], command[4].id, command[5]],
        line=frame.line,
        source_hash=digest,
        source=text,
        variables=variables,
    )


def fork_record(task: Task, body: ForkBody) -> QueuedTask | None:
    """The record of ``task`` (queued by a fork, its base frame pushed), or None when the
    body's program cannot be named (a body not made by the compiler)."""
    namespace = getattr(body.function, "__globals__", None)
    if namespace is None or body.number < 0:
        return None
    source = namespace.get("_SOURCE", "")
    names = namespace.get("_VARIABLES", ())
    if not source or len(names) != len(body.snapshot):
        return None
    variables = {
        name: value for name, value in zip(names, body.snapshot, strict=True) if value is not UNSET
    }
    if 0 <= body.named < len(names):
        variables[names[body.named]] = task.id
    frame = save_frame(task.world, task.frames[0], source, variables)
    return QueuedTask(
        id=task.id,
        kind=FORK,
        start=task.start_time,
        owner=task.owner,
        player=task.player,
        fork=body.number,
        frames=[frame],
    )


def load_frame(saved: SavedFrame) -> Frame:
    """The ``Frame`` of a saved activation."""
    command = saved.command
    frame = Frame.make(
        this=ObjRef(saved.this),
        player=ObjRef(saved.player),
        caller=ObjRef(saved.caller),
        verb=saved.verb,
        args=list(saved.args),
        programmer=saved.programmer,
        definer=saved.definer,
        verb_names=saved.verb_names,
        argstr=command[0],
        dobj=ObjRef(command[1]),
        dobjstr=command[2],
        prepstr=command[3],
        iobj=ObjRef(command[4]),
        iobjstr=command[5],
    )
    frame.line = saved.line
    return frame


class Unrestorable(Exception):
    """Why a saved task cannot be made again (its log line)."""


def saved_program(world: World, saved: SavedFrame) -> Program:
    """The program a saved frame ran, compiled as its verb's d bit asks (``;`` text has
    it). Raises ``Unrestorable``."""
    text = saved.source
    debug = True
    if not text:
        definer = world.objects.get(saved.definer)
        if definer is None:
            raise Unrestorable(f"its verb's object #{saved.definer} is gone")
        for verb in definer.verbs:
            # by its program alone: a verb renamed since still runs on (the same code)
            if verb.impl == MOO_IMPL and source_hash(verb.program) == saved.source_hash:
                text, debug = verb.program, verb.debug
                break
        else:
            raise Unrestorable(
                f"#{saved.definer}:{saved.verb_names} was reprogrammed or removed since"
            )
    elif source_hash(text) != saved.source_hash:
        raise Unrestorable("its saved program text does not match its hash")
    try:
        return compile_program(text, debug=debug)
    except MooSyntaxError:
        raise Unrestorable("its program no longer compiles") from None


def fork_body(program: Program, number: int, variables: dict[str, Any]) -> ForkBody:
    """The body of fork statement ``number`` of ``program`` over ``variables``. Raises
    ``Unrestorable``."""
    namespace = program.body.__globals__
    name = namespace["_FORKS"].get(number)
    if name is None:
        raise Unrestorable(f"its program has no fork number {number}")
    names: tuple[str, ...] = namespace["_VARIABLES"]
    snapshot = [variables.get(n, UNSET) for n in names]
    return ForkBody(namespace[name], snapshot, number)


def restore(scheduler: Scheduler) -> int:
    """Queue again every task saved in the world (step 3); how many were queued. Those
    that cannot be are dropped from the world with a log line."""
    world = scheduler.world
    now = time.time()
    restored = 0
    # by due time, then in the order they were queued (the world keeps it: its journal and
    # checkpoints replay the records in order), as LambdaMOO's queue; not by id (random)
    for record in sorted(world.tasks.values(), key=lambda r: r.start):
        if record.id in scheduler.waiting:
            continue
        try:
            if record.kind == SUSPENDED and record.frames:
                from moo.lang.suspended import resume_body

                restart = resume_body(world, record)
                scheduler.requeue_suspended(record, load_frame(record.frames[-1]), restart)
                restored += 1
                continue
            if record.kind != FORK or len(record.frames) != 1:
                raise Unrestorable(f"a {record.kind} task cannot be resumed by this server")
            saved = record.frames[0]
            body = fork_body(saved_program(world, saved), record.fork, saved.variables)
        except Unrestorable as why:
            log.warning(
                "dropped queued task %d (#%d:%s, player #%d): %s",
                record.id,
                record.frames[0].definer if record.frames else -1,
                record.frames[0].verb_names if record.frames else "",
                record.player,
                why,
            )
            _drop(world, record.id)
            continue
        scheduler.requeue_fork(record, load_frame(saved), body, max(record.start - now, 0.0))
        restored += 1
    if restored:
        log.info("%d queued MOO task(s) restored from the world", restored)
    return restored


def _drop(world: World, task_id: int) -> None:
    try:
        world.drop_task(task_id)
    except WorldError as error:  # the world refuses changes: it stays saved, unqueued
        log.warning("queued task %d stays in the world: %s", task_id, error)

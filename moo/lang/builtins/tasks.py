"""Task builtins: ``task_id suspend resume read kill_task queued_tasks ticks_left
seconds_left caller_perms set_task_perms callers eval call_function function_info
server_log``.

LambdaMOO's rules (``tasks.c``, ``execute.c``): ``set_task_perms`` lets a wizard take any
player's permissions and anyone their own; ``resume`` and ``kill_task`` need a wizard or the
task's owner; ``read`` needs a wizard or the reading player; ``eval`` needs a programmer and
answers ``{1, value}`` or ``{0, errors}`` (a runtime error propagates); ``server_log`` is for
wizards. The waiting and queueing itself is the ``Scheduler``'s.
"""

from __future__ import annotations

import logging
from typing import Any

from moo.lang import access
from moo.lang.activations import running_lines
from moo.lang.builtins.registry import BUILTINS, builtin
from moo.lang.errors import MooRaise, MooSyntaxError
from moo.lang.scheduler import compile_source
from moo.lang.task import Task
from moo.lang.task_api import Frame
from moo.world.values import NOTHING, Err, ObjRef

log = logging.getLogger("moo.server_log")


@builtin("task_id", 0)
def task_id(task: Task) -> int:
    return task.id


@builtin("ticks_left", 0)
def ticks_left(task: Task) -> int:
    return task.ticks_left


@builtin("seconds_left", 0)
def seconds_left(task: Task) -> int:
    return int(task.seconds_left)


@builtin("suspend", 0, 1)
def suspend(task: Task, seconds: Any = None) -> Any:
    return task.scheduler.suspend(task, seconds)


@builtin("resume", 1, 2)
def resume(task: Task, which: Any, value: Any = 0) -> int:
    if which.__class__ is not int:
        raise MooRaise(Err.E_TYPE)
    task.scheduler.resume(task.frame.programmer, which, value)
    return 0


@builtin("read", 0, 2)
def read(task: Task, player: Any = None, non_blocking: Any = 0) -> str:
    who = task.player if player is None else player
    if player is not None and player.__class__ is not ObjRef:
        raise MooRaise(Err.E_TYPE)
    oid = who.id if isinstance(who, ObjRef) else who
    progr = task.frame.programmer
    if progr != oid and not access.is_wizard(task.world, progr):
        raise MooRaise(Err.E_PERM)
    return task.scheduler.read(task, oid)


@builtin("kill_task", 1)
def kill_task(task: Task, which: Any) -> int:
    if which.__class__ is not int:
        raise MooRaise(Err.E_TYPE)
    task.scheduler.kill(task.frame.programmer, task, which)
    return 0


@builtin("queued_tasks", 0)
def queued_tasks(task: Task) -> list[Any]:
    return list(task.scheduler.queued(task.frame.programmer))


@builtin("caller_perms", 0)
def caller_perms(task: Task) -> ObjRef:
    frames = task.frames
    return ObjRef(frames[-2].programmer if len(frames) > 1 else NOTHING)


@builtin("set_task_perms", 1)
def set_task_perms(task: Task, who: Any) -> int:
    if who.__class__ is not ObjRef:
        raise MooRaise(Err.E_TYPE)
    progr = task.frame.programmer
    if who.id != progr and not access.is_wizard(task.world, progr):
        raise MooRaise(Err.E_PERM)
    task.frame.programmer = who.id
    return 0


@builtin("callers", 0, 1)
def callers(task: Task, with_lines: Any = 0) -> list[Any]:
    rows: list[Any] = []
    lines = running_lines(task) if with_lines else []
    for depth, frame in enumerate(reversed(task.frames[:-1]), start=1):
        row: list[Any] = [
            frame.this,
            frame.verb,
            ObjRef(frame.programmer),
            ObjRef(frame.definer),
            frame.player,
        ]
        if with_lines:
            row.append(lines[depth] if depth < len(lines) else frame.line)
        rows.append(row)
    return rows


@builtin("eval", 1)
def eval_(task: Task, source: Any) -> list[Any]:
    if source.__class__ is not str:
        raise MooRaise(Err.E_TYPE)
    progr = task.frame.programmer
    if not access.is_programmer(task.world, progr):
        raise MooRaise(Err.E_PERM)
    try:
        program = compile_source(source)
    except MooSyntaxError as error:
        return [0, list(error.errors)]
    frame = Frame.make(
        this=ObjRef(NOTHING),
        player=task.frame.player,
        caller=task.frame.this,
        verb="",
        args=[],
        programmer=progr,
        definer=NOTHING,
        verb_names="Input to EVAL",
    )
    return [1, task.run_frame(program, frame, via="eval")]


@builtin("call_function", 1, None)
def call_function(task: Task, name: Any, *args: Any) -> Any:
    if name.__class__ is not str:
        raise MooRaise(Err.E_TYPE)
    function = BUILTINS.get(name.lower())
    if function is None:
        raise MooRaise(Err.E_INVARG)
    if not function.accepts(len(args)):
        raise MooRaise(Err.E_ARGS)
    return function.function(task, *args)


def _info(name: str) -> list[Any]:
    function = BUILTINS[name]
    top = -1 if function.max_args is None else function.max_args
    return [name, function.min_args, top, [-1] * (function.min_args if top < 0 else top)]


@builtin("function_info", 0, 1)
def function_info(task: Task, name: Any = None) -> list[Any]:
    if name is None:
        return [_info(n) for n in sorted(BUILTINS)]
    if name.__class__ is not str:
        raise MooRaise(Err.E_TYPE)
    if name.lower() not in BUILTINS:
        raise MooRaise(Err.E_INVARG)
    return _info(name.lower())


@builtin("server_log", 1, 2)
def server_log(task: Task, message: Any, is_error: Any = 0) -> int:
    if message.__class__ is not str:
        raise MooRaise(Err.E_TYPE)
    if not access.is_wizard(task.world, task.frame.programmer):
        raise MooRaise(Err.E_PERM)
    level = logging.ERROR if is_error else logging.INFO
    log.log(level, "> %s", message)
    return 0


def _require_wizard(task: Task) -> None:
    if not access.is_wizard(task.world, task.frame.programmer):
        raise MooRaise(Err.E_PERM)


@builtin("task_stack", 1, 2)
def task_stack(task: Task, which: Any, with_lines: Any = 0) -> list[Any]:
    """The frames of a waiting task, innermost first, as ``callers()`` gives them."""
    if which.__class__ is not int:
        raise MooRaise(Err.E_TYPE)
    other = task.scheduler.waiting.get(which)
    if other is None or other.greenlet is None:
        raise MooRaise(Err.E_INVARG)
    progr = task.frame.programmer
    if progr != other.owner and not access.is_wizard(task.world, progr):
        raise MooRaise(Err.E_PERM)
    rows: list[Any] = []
    for frame in reversed(other.frames):
        row: list[Any] = [frame.this, frame.verb, ObjRef(frame.programmer)]
        row += [ObjRef(frame.definer), frame.player]
        rows.append([*row, frame.line] if with_lines else row)
    return rows


@builtin("queue_info", 0, 1)
def queue_info(task: Task, player: Any = None) -> Any:
    """Without an argument, the owners of waiting tasks; with one, how many they own."""
    owners = [t.owner for t in task.scheduler.waiting.values()]
    if player is None:
        return [ObjRef(owner) for owner in dict.fromkeys(owners)]
    if player.__class__ is not ObjRef:
        raise MooRaise(Err.E_TYPE)
    return owners.count(player.id)


@builtin("server_version", 0)
def server_version(task: Task) -> str:
    from moo import __version__

    return __version__


@builtin("memory_usage", 0)
def memory_usage(task: Task) -> list[Any]:
    return []  # LambdaMOO's answer when the allocator cannot tell


@builtin("shutdown", 0, 1)
def shutdown(task: Task, message: Any = "") -> int:
    if message.__class__ is not str:
        raise MooRaise(Err.E_TYPE)
    _require_wizard(task)
    task.scheduler.services.request_shutdown(message, task.frame.programmer)
    return 0


@builtin("load_server_options", 0)
def load_server_options(task: Task) -> int:
    _require_wizard(task)
    return 0


@builtin("verb_cache_stats", 0)
def verb_cache_stats(task: Task) -> list[Any]:
    _require_wizard(task)
    return [0, 0, 0, 0, [0] * 17]


@builtin("log_cache_stats", 0)
def log_cache_stats(task: Task) -> int:
    _require_wizard(task)
    return 0

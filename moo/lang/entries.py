"""Where the server starts MOO tasks: what commands and the dispatcher call.

The server owns the world's one ``Scheduler`` (``Host.moo_tasks``) and passes it in.
- ``run_eval(scheduler, player, source)``: ``;source``. The text runs as ``return <text>;``
  when it is one expression, as statements otherwise, with the player's permissions (they
  must be a programmer). ``Outcome.lines()`` is what ``;`` shows.
- ``run_builtin(scheduler, progr, name, args)``: one builtin with ``progr``'s permissions,
  so that ``@verb``, ``@program``, ``@chmod`` ... apply LambdaMOO's rules by calling
  ``add_verb``, ``set_verb_code``, ``set_verb_info`` ...
- ``run_command_verb(scheduler, player, this, verb, cmd, dobj, iobj)``: a typed command
  that found a MOO verb (``Dispatcher.call``).
- ``run_server_verb(scheduler, player, this, verb, name, args)``: a verb the server itself
  calls (LambdaMOO's server tasks: ``#0:user_connected(player)`` ...): ``caller`` is #-1,
  no command, and an uncaught error goes to the log, not to the player.

Each returns an ``Outcome`` once the task has ended or started to wait.
"""

from __future__ import annotations

from typing import Any

from moo.commands.parser import Command
from moo.errors import PermissionDenied
from moo.lang import access
from moo.lang.errors import MooRaise, MooSyntaxError
from moo.lang.scheduler import Outcome, Scheduler, Sink, compile_source
from moo.lang.task import Task
from moo.lang.task_api import Frame
from moo.world.model import VerbDef
from moo.world.values import NOTHING, ObjRef

EVAL_ENVIRONMENT = "me = player; here = player.location; "
"""What ``;`` runs first, as LambdaCore's ``eval_env`` does: ``me`` and ``here`` work."""


def eval_program(source: str) -> Any:
    """The program ``;source`` runs: ``return <source>;`` when the text is one expression,
    else the statements, each after ``EVAL_ENVIRONMENT`` (on the same line, so line numbers
    stay the player's). Raises ``MooSyntaxError`` (the statements' errors)."""
    expression = source.strip().rstrip(";").rstrip()
    if expression:
        try:
            if len(compile_source(f"return {expression};").tree) == 1:
                return compile_source(f"{EVAL_ENVIRONMENT}return {expression};")
        except MooSyntaxError:
            pass
    return compile_source(EVAL_ENVIRONMENT + source)


def run_eval(
    scheduler: Scheduler, player: int, source: str, *, output: Sink | None = None
) -> Outcome:
    """``;source`` typed by ``player``: PermissionDenied unless a programmer. Its output
    (``notify``) goes to ``output`` (default: the services) after the task commits; the
    traceback of an uncaught error is not told but returned (``Outcome.lines()``)."""
    if not access.is_programmer(scheduler.world, player):
        raise PermissionDenied("Only programmers may evaluate MOO code.")
    try:
        program = eval_program(source)
    except MooSyntaxError as error:
        return Outcome("compile_error", errors=list(error.errors))
    task = scheduler.new_task(player, "eval")
    task.uncaught_to_player = False
    frame = Frame.make(
        this=ObjRef(NOTHING),
        player=ObjRef(player),
        caller=ObjRef(player),
        verb="",
        args=[],
        programmer=player,
        definer=NOTHING,
        verb_names="Input to EVAL",
    )
    return scheduler.start(task, lambda t: t.run_frame(program, frame), output)


def run_builtin(scheduler: Scheduler, progr: int, name: str, args: list[Any]) -> Outcome:
    """``name(@args)`` called with ``progr``'s permissions in a task of its own: "done"
    with the value, or "error" with the error code (``Outcome.value``)."""
    from moo.lang.builtins import BUILTINS

    function = BUILTINS[name]
    if not function.accepts(len(args)):
        raise ValueError(f"{name}() does not take {len(args)} arguments")
    task = scheduler.new_task(progr, "server")
    task.uncaught_to_player = False
    frame = Frame.make(
        this=ObjRef(NOTHING),
        player=ObjRef(progr),
        caller=ObjRef(progr),
        verb=name,
        args=list(args),
        programmer=progr,
        definer=NOTHING,
        verb_names=name,
    )

    def body(t: Task) -> Any:
        t.push(frame)
        return function.function(t, *args)

    return scheduler.start(task, body)


def run_command_verb(
    scheduler: Scheduler,
    player: int,
    this: int,
    verb: VerbDef,
    cmd: Command,
    dobj: int = NOTHING,
    iobj: int = NOTHING,
) -> Outcome:
    """A MOO verb for a typed command: ``this`` is the object it was found on, the frame's
    variables come from ``cmd``; its output and any traceback go to the players through
    the services after the task commits."""
    try:
        program = scheduler.verb_program(verb)
    except MooRaise as error:
        scheduler.services.notify(player, f"{verb.names}: {error.message}")
        return Outcome("compile_error", errors=[error.message])
    task = scheduler.new_task(player, "command")
    task.owner = verb.owner
    frame = Frame.make(
        this=ObjRef(this),
        player=ObjRef(player),
        caller=ObjRef(player),
        verb=cmd.verb,
        args=list(cmd.args),
        programmer=verb.owner,
        definer=access.definer_of(scheduler.world, this, verb),
        verb_names=verb.names,
        argstr=cmd.argstr,
        dobj=ObjRef(dobj),
        dobjstr=cmd.dobjstr,
        prepstr=cmd.prepstr,
        iobj=ObjRef(iobj),
        iobjstr=cmd.iobjstr,
    )
    return scheduler.start(task, lambda t: t.run_frame(program, frame))


def run_server_verb(
    scheduler: Scheduler, player: int, this: int, verb: VerbDef, name: str, args: list[Any]
) -> Outcome:
    """LambdaMOO's ``do_server_verb_task``: ``this:name(@args)`` for ``player`` with the
    verb owner's permissions, ``caller`` #-1 and empty command strings."""
    try:
        program = scheduler.verb_program(verb)
    except MooRaise as error:
        return Outcome("compile_error", errors=[error.message])
    task = scheduler.new_task(player, "server")
    task.owner = verb.owner
    task.uncaught_to_player = False
    frame = Frame.make(
        this=ObjRef(this),
        player=ObjRef(player),
        caller=ObjRef(NOTHING),
        verb=name,
        args=list(args),
        programmer=verb.owner,
        definer=access.definer_of(scheduler.world, this, verb),
        verb_names=verb.names,
    )
    return scheduler.start(task, lambda t: t.run_frame(program, frame))

"""Database builtins: ``dump_database db_disk_size reset_max_object renumber disassemble``.

LambdaMOO's rules (``bf_server.c``, ``bf_verbs.c``): ``dump_database``, ``reset_max_object``
and ``renumber`` are for wizards (``E_PERM``); ``renumber`` of an invalid object is
``E_INVARG`` before that. Here:

- ``dump_database()`` starts a checkpoint, as ``@checkpoint now`` does (it runs beside the
  world, after this task); 0.
- ``db_disk_size()`` is the newest checkpoint file's bytes; ``E_QUOTA`` before the first.
- ``reset_max_object()`` makes ``max_object()`` the highest existing object.
- ``renumber(obj)`` gives ``obj`` the lowest free number below its own (its number as it
  was when none is free) and moves every structural reference with it: parent, children,
  location, contents, owners of objects, verbs and property definitions. Values held in
  properties are not rewritten, as in LambdaMOO.
- ``disassemble(obj, verb)`` needs the verb readable (``E_PERM``) and lists what it
  compiles to: here the Python text the compiler makes, one line per element.
"""

from __future__ import annotations

from typing import Any

from moo.lang import access
from moo.lang.builtins.registry import BUILTINS, builtin
from moo.lang.errors import MooRaise, MooSyntaxError
from moo.lang.parser import parse
from moo.lang.task import Task
from moo.world.model import MOO_IMPL
from moo.world.values import Err, ObjRef


def _require_wizard(task: Task) -> None:
    if not access.is_wizard(task.world, task.frame.programmer):
        raise MooRaise(Err.E_PERM)


@builtin("dump_database", 0)
def dump_database(task: Task) -> int:
    _require_wizard(task)
    task.scheduler.services.request_checkpoint(task.frame.programmer)
    return 0


@builtin("db_disk_size", 0)
def db_disk_size(task: Task) -> int:
    size = task.scheduler.services.database_size()
    if size is None:
        raise MooRaise(Err.E_QUOTA)
    return size


@builtin("reset_max_object", 0)
def reset_max_object(task: Task) -> int:
    _require_wizard(task)
    task.world.reset_next_id()
    return 0


@builtin("renumber", 1)
def renumber(task: Task, obj: Any) -> ObjRef:
    if obj.__class__ is not ObjRef:
        raise MooRaise(Err.E_TYPE)
    if obj.id not in task.world.objects:
        raise MooRaise(Err.E_INVARG)
    _require_wizard(task)
    return ObjRef(task.world.renumber(obj.id))


@builtin("disassemble", 2)
def disassemble(task: Task, obj: Any, desc: Any) -> list[Any]:
    from moo.lang.codegen import python_source  # the compiler imports the builtins

    target = access.valid_object(task.world, obj)
    verb = target.verbs[access.verb_index(target, desc)]
    if not access.verb_allows(task.world, task.frame.programmer, verb, "r"):
        raise MooRaise(Err.E_PERM)
    if verb.impl != MOO_IMPL:
        return []
    try:
        tree = parse(verb.program, BUILTINS.__contains__)
    except MooSyntaxError as error:
        return list(error.errors)
    return list(python_source(tree, BUILTINS).splitlines())

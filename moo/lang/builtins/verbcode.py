"""Verb builtins: ``verbs verb_info set_verb_info verb_args set_verb_args verb_code
set_verb_code add_verb delete_verb``.

LambdaMOO's rules (``verbs.c``): a verb is named by a name its names match or by its
1-based position on the object itself (no inheritance); listing verbs needs the object
readable; reading a verb's info, args or code needs the verb readable (``r``, its owner, a
wizard), changing them needs it writable (``w``, owner, wizard), and only wizards give a
verb to someone else; ``set_verb_code`` needs a programmer too and answers a list of
compile errors (empty when the program was stored). Adding or deleting a verb needs the
object writable. Info is ``{owner, perms, names}`` (perms from ``rwxd``), args
``{dobj, prep, iobj}``.

The program is stored as its source text (world data, journaled with ``World.set_verb``);
``verb_code`` lists it in LambdaMOO's canonical layout, as ``@list`` does.
"""

from __future__ import annotations

from typing import Any

from moo.lang import access
from moo.lang.builtins.registry import builtin
from moo.lang.errors import MooRaise, MooSyntaxError
from moo.lang.scheduler import compile_source
from moo.lang.task import Task
from moo.world.model import MOO_IMPL, Flag, MooObject, VerbDef
from moo.world.values import Err, ObjRef


def _verb(task: Task, obj: Any, desc: Any, bit: str) -> tuple[MooObject, int, VerbDef]:
    target = access.valid_object(task.world, obj)
    index = access.verb_index(target, desc)
    verb = target.verbs[index]
    if not access.verb_allows(task.world, task.frame.programmer, verb, bit):
        raise MooRaise(Err.E_PERM)
    return target, index, verb


def code_lines(source: str, indent: bool = True) -> list[str]:
    """A program's source in LambdaMOO's canonical layout (the text as stored, when the
    parser cannot read it)."""
    from moo.lang.parser import parse
    from moo.lang.unparse import unparse

    try:
        return unparse(parse(source), indent)
    except MooSyntaxError:
        return source.splitlines()


@builtin("verbs", 1)
def verbs(task: Task, obj: Any) -> list[Any]:
    target = access.valid_object(task.world, obj)
    if not access.object_allows(task.world, task.frame.programmer, target.id, Flag.READ):
        raise MooRaise(Err.E_PERM)
    return [verb.names for verb in target.verbs]


@builtin("verb_info", 2)
def verb_info(task: Task, obj: Any, desc: Any) -> list[Any]:
    _target, _index, verb = _verb(task, obj, desc, "r")
    return [ObjRef(verb.owner), verb.perms, verb.names]


@builtin("set_verb_info", 3)
def set_verb_info(task: Task, obj: Any, desc: Any, info: Any) -> int:
    target, index, verb = _verb(task, obj, desc, "w")
    owner, perms, names = access.parse_verb_info(task.world, info)
    if owner != verb.owner and not access.is_wizard(task.world, task.frame.programmer):
        raise MooRaise(Err.E_PERM)
    task.world.set_verb_info(target.id, index, owner=owner, perms=perms, names=names)
    return 0


@builtin("verb_args", 2)
def verb_args(task: Task, obj: Any, desc: Any) -> list[Any]:
    _target, _index, verb = _verb(task, obj, desc, "r")
    return [verb.dobj, verb.prep, verb.iobj]


@builtin("set_verb_args", 3)
def set_verb_args(task: Task, obj: Any, desc: Any, args: Any) -> int:
    target, index, _verb_def = _verb(task, obj, desc, "w")
    dobj, prep, iobj = access.parse_verb_args(args)
    task.world.set_verb_args(target.id, index, dobj=dobj, prep=prep, iobj=iobj)
    return 0


@builtin("verb_code", 2, 4)
def verb_code(task: Task, obj: Any, desc: Any, fully_paren: Any = 0, indent: Any = 1) -> list[Any]:
    _target, _index, verb = _verb(task, obj, desc, "r")
    if verb.impl != MOO_IMPL:
        return []
    return list(code_lines(verb.program, bool(indent)))


@builtin("set_verb_code", 3)
def set_verb_code(task: Task, obj: Any, desc: Any, code: Any) -> list[Any]:
    if code.__class__ is not list or any(line.__class__ is not str for line in code):
        raise MooRaise(Err.E_TYPE)
    target, index, verb_def = _verb(task, obj, desc, "w")
    if not access.is_programmer(task.world, task.frame.programmer):
        raise MooRaise(Err.E_PERM)
    source = "\n".join(code)
    try:  # compiled as it will run (quiet.py without d); the compiler keeps it for the call
        compile_source(source, verb_def.debug)
    except MooSyntaxError as error:
        return list(error.errors)
    task.world.set_verb_program(target.id, index, source)
    return []


@builtin("add_verb", 3)
def add_verb(task: Task, obj: Any, info: Any, args: Any) -> int:
    world = task.world
    progr = task.frame.programmer
    target = access.valid_object(world, obj)
    owner, perms, names = access.parse_verb_info(world, info)
    dobj, prep, iobj = access.parse_verb_args(args)
    if not access.object_allows(world, progr, target.id, Flag.WRITE) or (
        owner != progr and not access.is_wizard(world, progr)
    ):
        raise MooRaise(Err.E_PERM)
    verb = VerbDef(names, owner, perms, dobj, prep, iobj, MOO_IMPL, "")
    world.add_verb(target.id, verb)
    return 0


@builtin("delete_verb", 2)
def delete_verb(task: Task, obj: Any, desc: Any) -> int:
    world = task.world
    target = access.valid_object(world, obj)
    index = access.verb_index(target, desc)
    if not access.object_allows(world, task.frame.programmer, target.id, Flag.WRITE):
        raise MooRaise(Err.E_PERM)
    world.delete_verb(target.id, index)
    return 0

"""Object builtins: ``create recycle valid parent children chparent move max_object``.

LambdaMOO's rules (``bf_objects.c``): a non-object argument is ``E_TYPE``, an invalid object
``E_INVARG``; changing an object needs the programmer to control it (own it or be a wizard),
``E_PERM`` otherwise. ``create`` and ``recycle`` keep the owner's ``ownership_quota`` when it
has one; ``create`` calls the new object's ``initialize``, ``recycle`` the doomed one's
``recycle``, ``move`` the destination's ``accept`` (a false answer is ``E_NACC`` unless a
wizard moves), then ``exitfunc`` on the old place and ``enterfunc`` on the new.
"""

from __future__ import annotations

from typing import Any

from moo.errors import WorldError
from moo.lang import access
from moo.lang.builtins.registry import builtin
from moo.lang.errors import MooRaise
from moo.lang.task import Task
from moo.lang.values import is_true
from moo.world.codec import encoder
from moo.world.model import Flag
from moo.world.values import NOTHING, Err, ObjRef
from moo.world.world import World


def _object_or_nothing(task: Task, value: Any) -> int:
    if value.__class__ is not ObjRef:
        raise MooRaise(Err.E_TYPE)
    if value.id != NOTHING and value.id not in task.world.objects:
        raise MooRaise(Err.E_INVARG)
    return int(value.id)


def _quota(world: World, owner: int, change: int) -> bool:
    """Spend (-1) or give back (+1) one of ``owner``'s ``ownership_quota``; False when none
    is left. Owners without an integer quota are not limited."""
    if owner not in world.objects:
        return True
    found = access.find_property(world, owner, "ownership_quota")
    if found is None:
        return True
    value = world.get_prop(owner, found[0])
    if value.__class__ is not int:
        return True
    if change < 0 and value <= 0:
        return False
    world.set_prop(owner, found[0], value + change)
    return True


@builtin("valid", 1)
def valid(task: Task, obj: Any) -> int:
    if obj.__class__ is not ObjRef:
        raise MooRaise(Err.E_TYPE)
    return 1 if obj.id in task.world.objects else 0


@builtin("create", 1, 2)
def create(task: Task, parent: Any, owner: Any = None) -> ObjRef:
    world = task.world
    progr = task.frame.programmer
    parent_id = _object_or_nothing(task, parent)
    if owner is None:
        owner_id = progr
    else:
        if owner.__class__ is not ObjRef:
            raise MooRaise(Err.E_TYPE)
        owner_id = owner.id
    fertile = parent_id == NOTHING or access.object_allows(world, progr, parent_id, Flag.FERTILE)
    if not fertile or (owner_id != progr and not access.is_wizard(world, progr)):
        raise MooRaise(Err.E_PERM)
    if not _quota(world, owner_id, -1):
        raise MooRaise(Err.E_QUOTA)
    new = world.create(parent_id, owner_id, "")
    task.call_if_defined(new, "initialize", [], via="create")
    return ObjRef(new)


@builtin("recycle", 1)
def recycle(task: Task, obj: Any) -> int:
    world = task.world
    target = access.valid_object(world, obj)
    if not access.controls(world, task.frame.programmer, target.id):
        raise MooRaise(Err.E_PERM)
    task.call_if_defined(target.id, "recycle", [], via="recycle")
    if target.id in world.objects:  # its recycle verb may have done it
        owner = world.objects[target.id].owner
        world.recycle(target.id)
        _quota(world, owner, +1)
    return 0


@builtin("parent", 1)
def parent(task: Task, obj: Any) -> ObjRef:
    return ObjRef(access.valid_object(task.world, obj).parent)


@builtin("children", 1)
def children(task: Task, obj: Any) -> list[Any]:
    target = access.valid_object(task.world, obj)
    return [ObjRef(child) for child in task.world.children(target.id)]


@builtin("max_object", 0)
def max_object(task: Task) -> ObjRef:
    return ObjRef(task.world.next_id - 1)


@builtin("chparent", 2)
def chparent(task: Task, obj: Any, new_parent: Any) -> int:
    world = task.world
    progr = task.frame.programmer
    target = access.valid_object(world, obj)
    parent_id = _object_or_nothing(task, new_parent)
    if not access.controls(world, progr, target.id) or (
        parent_id != NOTHING and not access.object_allows(world, progr, parent_id, Flag.FERTILE)
    ):
        raise MooRaise(Err.E_PERM)
    if parent_id != NOTHING and world.is_a(parent_id, target.id):
        raise MooRaise(Err.E_RECMOVE)
    try:
        world.set_parent(target.id, parent_id)
    except WorldError as error:
        raise MooRaise(Err.E_INVARG, str(error)) from None
    return 0


@builtin("move", 2)
def move(task: Task, what: Any, where: Any) -> int:
    world = task.world
    progr = task.frame.programmer
    thing = access.valid_object(world, what)
    dest = _object_or_nothing(task, where)
    if not access.controls(world, progr, thing.id):
        raise MooRaise(Err.E_PERM)
    if dest != NOTHING:
        accepted = task.call_if_defined(dest, "accept", [what], via="move")
        if not (accepted is not None and is_true(accepted)) and not access.is_wizard(world, progr):
            raise MooRaise(Err.E_NACC)
        if dest not in world.objects or thing.id not in world.objects:
            raise MooRaise(Err.E_INVARG)  # the accept verb recycled one of them
        if world.contains(thing.id, dest):
            raise MooRaise(Err.E_RECMOVE)
    old = thing.location
    if old == dest:
        return 0
    world.move(thing.id, dest)
    if old in world.objects:
        task.call_if_defined(old, "exitfunc", [what], via="move")
    if dest in world.objects and world.objects[thing.id].location == dest:
        task.call_if_defined(dest, "enterfunc", [what], via="move")
    return 0


@builtin("object_bytes", 1)
def object_bytes(task: Task, obj: Any) -> int:
    """How many bytes the object takes in a snapshot (wizards only, as LambdaMOO)."""
    target = access.valid_object(task.world, obj)
    if not access.is_wizard(task.world, task.frame.programmer):
        raise MooRaise(Err.E_PERM)
    return len(encoder.encode(target))

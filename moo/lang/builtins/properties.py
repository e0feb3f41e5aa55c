"""Property builtins: ``properties property_info set_property_info add_property
delete_property clear_property is_clear_property``.

LambdaMOO's rules (``property.c``): listing an object's properties needs it readable (its
``r`` flag, its owner or a wizard); reading a property's info needs the property readable,
changing it needs it writable, and only wizards give a property to someone else; adding or
deleting a property needs the object writable (``w`` flag, owner, wizard). Property info is
``{owner, perms}`` with perms from ``rwc``, and it is each object's own (``World.prop_slot``):
``set_property_info`` on an object that inherits the property changes it there only, as
in LambdaMOO; on the definer it changes the definition. A third element renames the
property, on its definer only (``E_INVARG`` elsewhere, or when the new name is taken by
the object, an ancestor or a descendant).
"""

from __future__ import annotations

from typing import Any

from moo.errors import WorldError
from moo.lang import access
from moo.lang.builtins.registry import builtin
from moo.lang.errors import MooRaise
from moo.lang.task import Task
from moo.world.model import Flag, MooObject, PropDef
from moo.world.values import Err, ObjRef


def _property(task: Task, obj: Any, name: Any) -> tuple[MooObject, str, MooObject, PropDef]:
    if name.__class__ is not str:
        raise MooRaise(Err.E_TYPE)
    target = access.valid_object(task.world, obj)
    found = access.find_property(task.world, target.id, name)
    if found is None:
        raise MooRaise(Err.E_PROPNF)
    key, definer, propdef = found
    return target, key, definer, propdef


def _parse_info(task: Task, info: Any) -> tuple[int, str, str | None]:
    if info.__class__ is not list:
        raise MooRaise(Err.E_TYPE)
    if len(info) not in (2, 3):
        raise MooRaise(Err.E_INVARG)
    owner, perms = info[0], info[1]
    new_name = info[2] if len(info) == 3 else None
    if owner.__class__ is not ObjRef or perms.__class__ is not str:
        raise MooRaise(Err.E_TYPE)
    if new_name is not None and new_name.__class__ is not str:
        raise MooRaise(Err.E_TYPE)
    perms = perms.lower()
    if owner.id not in task.world.objects or any(c not in "rwc" for c in perms):
        raise MooRaise(Err.E_INVARG)
    return owner.id, "".join(c for c in "rwc" if c in perms), new_name


@builtin("properties", 1)
def properties(task: Task, obj: Any) -> list[Any]:
    target = access.valid_object(task.world, obj)
    if not access.object_allows(task.world, task.frame.programmer, target.id, Flag.READ):
        raise MooRaise(Err.E_PERM)
    return list(target.propdefs)


@builtin("property_info", 2)
def property_info(task: Task, obj: Any, name: Any) -> list[Any]:
    _target, _key, _definer, propdef = _property(task, obj, name)
    world = task.world
    if not access.property_allows(world, task.frame.programmer, propdef, "r"):
        raise MooRaise(Err.E_PERM)
    return [ObjRef(propdef.owner), propdef.perms]


@builtin("set_property_info", 3)
def set_property_info(task: Task, obj: Any, name: Any, info: Any) -> int:
    target, key, definer, propdef = _property(task, obj, name)
    world = task.world
    progr = task.frame.programmer
    owner, perms, new_name = _parse_info(task, info)
    if not access.property_allows(world, progr, propdef, "w") or (
        not access.is_wizard(world, progr) and owner != propdef.owner
    ):
        raise MooRaise(Err.E_PERM)
    if definer.id != target.id:
        if new_name is not None:
            raise MooRaise(Err.E_INVARG)  # renamed only where it is defined
        world.set_prop_info(target.id, key, PropDef(owner=owner, perms=perms))
        return 0
    if new_name is not None and new_name != key:
        try:
            world.rename_prop(definer.id, key, new_name)
        except WorldError:
            raise MooRaise(Err.E_INVARG) from None
        key = new_name
    world.set_propdef(definer.id, key, owner=owner, perms=perms)
    return 0


@builtin("add_property", 4)
def add_property(task: Task, obj: Any, name: Any, value: Any, info: Any) -> int:
    if name.__class__ is not str:
        raise MooRaise(Err.E_TYPE)
    world = task.world
    progr = task.frame.programmer
    target = access.valid_object(world, obj)
    owner, perms, new_name = _parse_info(task, info)
    if new_name is not None:
        raise MooRaise(Err.E_INVARG)
    if not access.object_allows(world, progr, target.id, Flag.WRITE) or (
        owner != progr and not access.is_wizard(world, progr)
    ):
        raise MooRaise(Err.E_PERM)
    lowered = name.lower()
    clash = lowered in access.BUILTIN_NAMES or access.find_property(world, target.id, name)
    below = any(
        key.lower() == lowered
        for child in world.descendants(target.id)
        for key in world.objects[child].propdefs
    )
    if clash or below:
        raise MooRaise(Err.E_INVARG)
    try:
        world.define_prop(target.id, name, value, owner, perms)
    except WorldError as error:
        raise MooRaise(Err.E_INVARG, str(error)) from None
    return 0


@builtin("delete_property", 2)
def delete_property(task: Task, obj: Any, name: Any) -> int:
    if name.__class__ is not str:
        raise MooRaise(Err.E_TYPE)
    world = task.world
    target = access.valid_object(world, obj)
    key = next((k for k in target.propdefs if k.lower() == name.lower()), None)
    if key is None:
        raise MooRaise(Err.E_PROPNF)
    if not access.object_allows(world, task.frame.programmer, target.id, Flag.WRITE):
        raise MooRaise(Err.E_PERM)
    world.undefine_prop(target.id, key)
    return 0


@builtin("clear_property", 2)
def clear_property(task: Task, obj: Any, name: Any) -> int:
    target, key, definer, propdef = _property(task, obj, name)
    world = task.world
    if not access.property_allows(world, task.frame.programmer, propdef, "w"):
        raise MooRaise(Err.E_PERM)
    if definer.id == target.id:
        raise MooRaise(Err.E_INVARG)
    world.clear_prop(target.id, key)
    return 0


@builtin("is_clear_property", 2)
def is_clear_property(task: Task, obj: Any, name: Any) -> int:
    target, key, definer, propdef = _property(task, obj, name)
    world = task.world
    if not access.property_allows(world, task.frame.programmer, propdef, "r"):
        raise MooRaise(Err.E_PERM)
    return 1 if definer.id != target.id and key not in target.props else 0

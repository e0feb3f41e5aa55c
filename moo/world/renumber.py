"""What a ``Renumber`` record does (LambdaMOO's ``renumber()``): object ``old`` becomes
``new``, and every structural reference to it follows.

1. Skip the record when ``old`` is gone, ``new`` is taken or negative (a replay over a
   later state: a later record holds the final numbering).
2. Take the object and its children out of the indexes, move it to its new number, and
   rewrite the references that name it: its place in its location's contents, its
   contents' location, its children's parent.
3. Put them back in the indexes.
4. Every object that ``old`` owns, or whose verbs, property definitions or property slots
   it owns (``owned_by``), is given ``new`` as that owner.

Property values that hold ``#old`` are left as they are. ``World.renumber``
(``world.py``) validates and names the touched objects with the same ``owned_by``;
``replay.py`` calls ``apply_renumber`` live and in journal replay.
"""

from __future__ import annotations

import msgspec

from moo.world import mutations as m
from moo.world.model import MooObject, PropDef
from moo.world.state import WorldState


def owned_by(world: WorldState, oid: int) -> list[MooObject]:
    """The objects that ``oid`` owns, or owns a verb or a property definition of."""
    return [
        obj
        for obj in world.objects.values()
        if obj.owner == oid
        or any(verb.owner == oid for verb in obj.verbs)
        or any(propdef.owner == oid for propdef in obj.propdefs.values())
        or any(info.owner == oid for info in obj.propinfo.values())
    ]


def apply_renumber(world: WorldState, record: m.Renumber) -> None:
    """Apply ``record`` to ``world`` (module docstring); nothing happens when it is stale."""
    old, new = record.old, record.new
    objects = world.objects
    obj = objects.get(old)
    if obj is None or new in objects or new < 0:
        return  # replay over a later state
    children = world.children(old)
    world._unindex(obj)
    for child in children:
        world._unindex(objects[child])
    del objects[old]
    obj.id = new
    objects[new] = obj
    where = objects.get(obj.location)
    if where is not None and old in where.contents:
        where.contents = [new if item == old else item for item in where.contents]
    for item in obj.contents:
        objects[item].location = new
    for child in children:
        objects[child].parent = new
        world._index(objects[child])
    world._index(obj)
    for other in owned_by(world, old):
        if other.owner == old:
            other.owner = new
        if any(verb.owner == old for verb in other.verbs):
            other.verbs = [
                msgspec.structs.replace(verb, owner=new) if verb.owner == old else verb
                for verb in other.verbs
            ]
        if any(propdef.owner == old for propdef in other.propdefs.values()):
            other.propdefs = {
                name: PropDef(new, propdef.perms) if propdef.owner == old else propdef
                for name, propdef in other.propdefs.items()
            }
        if any(info.owner == old for info in other.propinfo.values()):
            other.propinfo = {
                name: PropDef(new, info.perms) if info.owner == old else info
                for name, info in other.propinfo.items()
            }
    world._names_in.clear()

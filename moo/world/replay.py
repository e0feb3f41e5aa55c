"""The replay layer of ``World``: how each mutation record changes the objects.

``apply(record)`` is the one place a record takes effect, live (``_commit_record``,
``transactions.py``) and in recovery (the journal replayed over a snapshot), so the two
can never disagree:

1. Look up the record's function by its type (below, one per record kind); an unknown
   type raises ``WorldError`` and changes nothing.
2. A record that may change verbs or parents (``SetVerbs``, ``SetVerb``, ``SetParent``,
   ``Recycle``, ``Create``, ``Renumber``) moves ``verbs_epoch`` on, so verb lookups cached
   against it are dropped.
3. The function changes the objects, their derived indexes (``state.py``) and the name
   indexes of the containers concerned, through the edits of ``edit.py``.

The replay contract: a snapshot is consistent as of a journal position and replay starts
there, so the live world comes back exactly. Each record carries the full new value, so
applying one twice in a row changes nothing; a record about an object that no longer
exists, or one that would make a parent or location loop, is skipped (a later record holds
the final value). Replaying a whole journal over a *later* state is not promised to
converge: derived effects (properties dropped on a reparent) can differ, which is why
snapshots must be point-in-time consistent.

The functions do no checking for the caller: the mutation methods (``world.py``,
``properties.py``) refuse bad changes before a record exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moo.errors import WorldError
from moo.world import mutations as m
from moo.world.edit import add_content, clone, drop_info, drop_prop, own_props, remove_content
from moo.world.model import EMPTY_DICT, EMPTY_LIST
from moo.world.properties import WorldProperties
from moo.world.renumber import apply_renumber
from moo.world.values import NOTHING


class WorldReplay(WorldProperties):
    """``apply``: one record's effect on the world (module docstring)."""

    def apply(self, record: m.Mutation) -> None:
        """Apply one record to the world; used live and by journal replay (the replay
        contract is in ``replay.py``'s docstring). Raises WorldError for a record of an
        unknown type."""
        kind = type(record)
        applier = _APPLIERS.get(kind)
        if applier is None:
            raise WorldError(f"unknown mutation record {record!r}")
        if kind in _CHANGE_VERBS:
            self.verbs_epoch += 1
        applier(self, record)


# ---------------------------------------------------------------- the world's shape


def _create(world: WorldProperties, record: m.Create) -> None:
    template = record.obj
    template.props  # noqa: B018  # decoded, if a journal's bytes: clone() must sort them
    obj = clone(template)  # the record stays independent of the live object
    objects = world.objects
    old = objects.get(obj.id)
    if old is not None:
        world._unindex(old)
    objects[obj.id] = obj
    world.next_id = max(world.next_id, obj.id + 1)
    world._index(obj)
    where = objects.get(obj.location)
    already_there = old is not None and old.location == obj.location  # contents has it
    if where is not None and not already_there:
        add_content(where, obj.id)


def _recycle(world: WorldProperties, record: m.Recycle) -> None:
    """Its contents go nowhere, its children move to its parent (and lose the values of
    properties it defined)."""
    oid = record.id
    objects = world.objects
    obj = objects.get(oid)
    if obj is None:
        return
    for item in list(obj.contents):
        thing = objects.get(item)
        if thing is not None:
            thing.location = NOTHING
    obj.contents = EMPTY_LIST
    world._names_in.pop(oid, None)
    where = objects.get(obj.location)
    if where is not None:
        remove_content(where, oid)
    world._unindex(obj)
    children = world.children(oid)
    for child in children:
        child_obj = objects[child]
        world._unindex(child_obj)
        child_obj.parent = obj.parent
        world._index(child_obj)
    del objects[oid]
    for child in children:
        world._drop_orphaned_props(child)


def _set_field(world: WorldProperties, record: m.SetField) -> None:
    obj = world.objects.get(record.id)
    if obj is None:
        return
    name, value = record.field, record.value
    world._unindex(obj)
    if name == "name":
        obj.name = str(value)
    elif name == "aliases":
        obj.aliases = [str(a) for a in value] or EMPTY_LIST
    elif name == "owner":
        obj.owner = int(value)
    elif name == "flags":
        obj.flags = int(value)
    world._index(obj)


def _set_parent(world: WorldProperties, record: m.SetParent) -> None:
    oid, parent = record.id, record.parent
    obj = world.objects.get(oid)
    if obj is None:
        return
    if parent in world.objects and world.is_a(parent, oid):
        return  # replay over a later state: a later record sets the final parent
    world._unindex(obj)
    obj.parent = parent
    world._index(obj)
    world._drop_orphaned_props(oid)


def _move(world: WorldProperties, record: m.Move) -> None:
    # Invariant: an object is in its location's contents exactly once, so its location
    # field answers "is it there already?" without scanning a big room's contents.
    objects = world.objects
    obj = objects.get(record.id)
    if obj is None:
        return
    dest = record.location
    new = objects.get(dest)
    if obj.location == dest:
        return
    if new is not None and world.contains(obj.id, dest):
        return  # replay over a later state: a later record sets the final location
    old = objects.get(obj.location)
    if old is not None:
        remove_content(old, obj.id)
    world._names_in.pop(obj.location, None)
    world._names_in.pop(dest, None)
    obj.location = dest
    if new is not None:
        add_content(new, obj.id)


def _set_next_id(world: WorldProperties, record: m.SetNextId) -> None:
    world.next_id = max(world.next_id, record.next_id)


def _reset_next_id(world: WorldProperties, record: m.ResetNextId) -> None:
    # never under an existing object (a replay)
    world.next_id = max(record.next_id, max(world.objects, default=-1) + 1)


# ---------------------------------------------------------------------- properties


def _set_prop(world: WorldProperties, record: m.SetProp) -> None:
    oid = record.id
    obj = world.objects.get(oid)
    if obj is None:
        return
    if world.has_prop(oid, record.name):
        own_props(obj)[record.name] = record.value


def _clear_prop(world: WorldProperties, record: m.ClearProp) -> None:
    obj = world.objects.get(record.id)
    if obj is None:
        return
    drop_prop(obj, record.name)


def _define_prop(world: WorldProperties, record: m.DefineProp) -> None:
    """A new definition, or a new owner and permissions of one (``set_propdef``)."""
    obj = world.objects.get(record.id)
    if obj is None:
        return
    if obj.propdefs is EMPTY_DICT:
        obj.propdefs = {}
    obj.propdefs[record.name] = record.propdef
    own_props(obj)[record.name] = record.value


def _undefine_prop(world: WorldProperties, record: m.UndefineProp) -> None:
    oid, name = record.id, record.name
    obj = world.objects.get(oid)
    if obj is None:
        return
    if name in obj.propdefs:
        del obj.propdefs[name]
        if not obj.propdefs:
            obj.propdefs = EMPTY_DICT
    drop_prop(obj, name)
    for child in world.descendants(oid):
        if not world.has_prop(child, name):
            drop_prop(world.objects[child], name)
            drop_info(world.objects[child], name)


def _set_prop_info(world: WorldProperties, record: m.SetPropInfo) -> None:
    obj = world.objects.get(record.id)
    if obj is None:
        return
    info = record.info
    if info is not None:
        if obj.propinfo is EMPTY_DICT:
            obj.propinfo = {}
        obj.propinfo[record.name] = info
    else:
        drop_info(obj, record.name)


def _rename_prop(world: WorldProperties, record: m.RenameProp) -> None:
    oid, old, new = record.id, record.old, record.new
    definer = world.objects.get(oid)
    if definer is None or old not in definer.propdefs or new in definer.propdefs:
        return  # replay over a later state
    definer.propdefs = {
        (new if name == old else name): propdef for name, propdef in definer.propdefs.items()
    }
    for target in (oid, *world.descendants(oid)):
        obj = world.objects[target]
        if old in obj.props:
            props = obj.props
            obj.props = {(new if name == old else name): v for name, v in props.items()}
        if old in obj.propinfo:
            obj.propinfo = {
                (new if name == old else name): info for name, info in obj.propinfo.items()
            }


# --------------------------------------------------------------------------- verbs


def _set_verbs(world: WorldProperties, record: m.SetVerbs) -> None:
    obj = world.objects.get(record.id)
    if obj is None:
        return
    obj.verbs = list(record.verbs) or EMPTY_LIST


def _set_verb(world: WorldProperties, record: m.SetVerb) -> None:
    obj = world.objects.get(record.id)
    if obj is None:
        return
    if 0 <= record.index < len(obj.verbs):
        obj.verbs[record.index] = record.verb


# --------------------------------------------------------------------- queued tasks


def _queue_task(world: WorldProperties, record: m.QueueTask) -> None:
    world.tasks[record.task.id] = record.task


def _drop_task(world: WorldProperties, record: m.DropTask) -> None:
    world.tasks.pop(record.id, None)


_APPLIERS: dict[type, Callable[[WorldProperties, Any], None]] = {
    m.Create: _create,
    m.Recycle: _recycle,
    m.SetField: _set_field,
    m.SetParent: _set_parent,
    m.Move: _move,
    m.SetProp: _set_prop,
    m.ClearProp: _clear_prop,
    m.DefineProp: _define_prop,
    m.UndefineProp: _undefine_prop,
    m.SetVerbs: _set_verbs,
    m.SetVerb: _set_verb,
    m.SetNextId: _set_next_id,
    m.ResetNextId: _reset_next_id,
    m.Renumber: apply_renumber,
    m.SetPropInfo: _set_prop_info,
    m.RenameProp: _rename_prop,
    m.QueueTask: _queue_task,
    m.DropTask: _drop_task,
}
"""Each record kind's function: every type of ``mutations.Mutation`` (a unit test checks)."""

_CHANGE_VERBS = frozenset({m.SetVerbs, m.SetVerb, m.SetParent, m.Recycle, m.Create, m.Renumber})
"""The record kinds that may change which verb a lookup finds (step 2)."""

"""The world: every object, and the ONE path by which any of them changes.

How a change flows:

1. A verb calls a mutation method (``create``, ``move``, ``set_prop`` ...).
2. The method validates its arguments against the current world and raises
   ``WorldError`` before anything changes.
3. It builds a mutation record (``mutations.py``) holding the full new value.
4. ``_commit_record`` saves the old state of each object the record touches
   (once per transaction), tells the ``before_change`` hooks (a snapshot in
   progress saves its copy first), and calls ``apply()``.
5. When the outermost ``transaction()`` ends without an exception, its records
   go to every observer (the journal) in one batch. If it ends with an
   exception, the saved states are put back and observers hear nothing: a
   command that fails leaves no trace.

Recovery replays records with the same ``apply()``.

Property values are immutable by convention, as in MOO: never change a list or
map returned by ``prop()`` in place (that would bypass the record); build a new
one and ``set_prop`` it. A nested ``transaction()`` joins the outer one: if code
catches an exception raised inside a nested block, that block's changes stay.
"""

from __future__ import annotations

import msgspec

from moo.errors import WorldError
from moo.world import mutations as m
from moo.world.codec import digest_encoder, world_hasher
from moo.world.edit import (
    add_content,
    clone,
    drop_info,
    drop_prop,
    own_props,
    remove_content,
)
from moo.world.model import (
    EMPTY_DICT,
    EMPTY_LIST,
    MOO_IMPL,
    Flag,
    MooObject,
    PropDef,
    VerbDef,
)
from moo.world.properties import BUILTIN_PROPERTIES, WorldProperties
from moo.world.tasks import QueuedTask
from moo.world.transactions import ChangeHook, CommitObserver
from moo.world.values import NOTHING

__all__ = ["BUILTIN_PROPERTIES", "ChangeHook", "CommitObserver", "World", "clone"]


class World(WorldProperties):
    """All objects in memory, their derived indexes, and the mutation path."""

    # ----------------------------------------------------------------- apply

    def apply(self, record: m.Mutation) -> None:
        if isinstance(
            record, m.SetVerbs | m.SetVerb | m.SetParent | m.Recycle | m.Create | m.Renumber
        ):
            self.verbs_epoch += 1
        self._apply(record)

    def _apply(self, record: m.Mutation) -> None:
        """Apply one record to the world; used live and by journal replay.

        The replay contract: a snapshot is consistent as of a journal position and replay
        starts there, so the live world comes back exactly. Each record carries the full new
        value, so applying one twice in a row changes nothing; a record about an object that
        no longer exists, or one that would make a parent or location loop, is skipped (a
        later record holds the final value). Replaying a whole journal over a *later* state
        is not promised to converge: derived effects (properties dropped on a reparent) can
        differ, which is why snapshots must be point-in-time consistent.
        """
        if not isinstance(record, m.RECORD_TYPES):
            raise WorldError(f"unknown mutation record {record!r}")
        if isinstance(record, m.Create):
            self._apply_create(record.obj)
            return
        if isinstance(record, m.SetNextId):
            self.next_id = max(self.next_id, record.next_id)
            return
        if isinstance(record, m.ResetNextId):  # never under an existing object (a replay)
            self.next_id = max(record.next_id, max(self.objects, default=-1) + 1)
            return
        if isinstance(record, m.Renumber):
            self._apply_renumber(record.old, record.new)
            return
        if isinstance(record, m.RenameProp):
            self._apply_rename_prop(record.id, record.old, record.new)
            return
        if isinstance(record, m.QueueTask):
            self.tasks[record.task.id] = record.task
            return
        if isinstance(record, m.DropTask):
            self.tasks.pop(record.id, None)
            return
        obj = self.objects.get(record.id)
        if obj is None:
            return
        match record:
            case m.Recycle(id=oid):
                self._apply_recycle(oid)
            case m.SetField(field=name, value=value):
                self._unindex(obj)
                if name == "name":
                    obj.name = str(value)
                elif name == "aliases":
                    obj.aliases = [str(a) for a in value] or EMPTY_LIST
                elif name == "owner":
                    obj.owner = int(value)
                elif name == "flags":
                    obj.flags = int(value)
                self._index(obj)
            case m.SetParent(id=oid, parent=parent):
                if parent in self.objects and self.is_a(parent, oid):
                    return  # replay over a later state: a later record sets the final parent
                self._unindex(obj)
                obj.parent = parent
                self._index(obj)
                self._drop_orphaned_props(oid)
            case m.Move(id=oid, location=dest):
                self._apply_move(obj, dest)
            case m.SetProp(id=oid, name=name, value=value):
                if self.has_prop(oid, name):
                    own_props(obj)[name] = value
            case m.ClearProp(name=name):
                drop_prop(obj, name)
            case m.DefineProp(name=name, propdef=propdef, value=value):
                if obj.propdefs is EMPTY_DICT:
                    obj.propdefs = {}
                obj.propdefs[name] = propdef
                own_props(obj)[name] = value
            case m.UndefineProp(id=oid, name=name):
                if name in obj.propdefs:
                    del obj.propdefs[name]
                    if not obj.propdefs:
                        obj.propdefs = EMPTY_DICT
                drop_prop(obj, name)
                for child in self.descendants(oid):
                    if not self.has_prop(child, name):
                        drop_prop(self.objects[child], name)
                        drop_info(self.objects[child], name)
            case m.SetPropInfo(name=name, info=info):
                if info is not None:
                    if obj.propinfo is EMPTY_DICT:
                        obj.propinfo = {}
                    obj.propinfo[name] = info
                else:
                    drop_info(obj, name)
            case m.SetVerbs(verbs=verbs):
                obj.verbs = list(verbs) or EMPTY_LIST
            case m.SetVerb(index=index, verb=verb):
                if 0 <= index < len(obj.verbs):
                    obj.verbs[index] = verb

    def _apply_create(self, template: MooObject) -> None:
        template.props  # noqa: B018  # decoded, if a journal's bytes: clone() must sort them
        obj = clone(template)  # the record stays independent of the live object
        old = self.objects.get(obj.id)
        if old is not None:
            self._unindex(old)
        self.objects[obj.id] = obj
        self.next_id = max(self.next_id, obj.id + 1)
        self._index(obj)
        where = self.objects.get(obj.location)
        already_there = old is not None and old.location == obj.location  # contents has it
        if where is not None and not already_there:
            add_content(where, obj.id)

    def _apply_move(self, obj: MooObject, dest: int) -> None:
        # Invariant: an object is in its location's contents exactly once, so its location
        # field answers "is it there already?" without scanning a big room's contents.
        new = self.objects.get(dest)
        if obj.location == dest:
            return
        if new is not None and self.contains(obj.id, dest):
            return  # replay over a later state: a later record sets the final location
        old = self.objects.get(obj.location)
        if old is not None:
            remove_content(old, obj.id)
        self._names_in.pop(obj.location, None)
        self._names_in.pop(dest, None)
        obj.location = dest
        if new is not None:
            add_content(new, obj.id)

    def _apply_recycle(self, oid: int) -> None:
        obj = self.objects.get(oid)
        if obj is None:
            return
        for item in list(obj.contents):
            thing = self.objects.get(item)
            if thing is not None:
                thing.location = NOTHING
        obj.contents = EMPTY_LIST
        self._names_in.pop(oid, None)
        where = self.objects.get(obj.location)
        if where is not None:
            remove_content(where, oid)
        self._unindex(obj)
        children = self.children(oid)
        for child in children:
            child_obj = self.objects[child]
            self._unindex(child_obj)
            child_obj.parent = obj.parent
            self._index(child_obj)
        del self.objects[oid]
        for child in children:
            self._drop_orphaned_props(child)

    def _apply_renumber(self, old: int, new: int) -> None:
        obj = self.objects.get(old)
        if obj is None or new in self.objects or new < 0:
            return  # replay over a later state
        children = self.children(old)
        self._unindex(obj)
        for child in children:
            self._unindex(self.objects[child])
        del self.objects[old]
        obj.id = new
        self.objects[new] = obj
        where = self.objects.get(obj.location)
        if where is not None and old in where.contents:
            where.contents = [new if item == old else item for item in where.contents]
        for item in obj.contents:
            self.objects[item].location = new
        for child in children:
            self.objects[child].parent = new
            self._index(self.objects[child])
        self._index(obj)
        for other in self._owned_by(old):
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
        self._names_in.clear()

    def _apply_rename_prop(self, oid: int, old: str, new: str) -> None:
        definer = self.objects.get(oid)
        if definer is None or old not in definer.propdefs or new in definer.propdefs:
            return  # replay over a later state
        definer.propdefs = {
            (new if name == old else name): propdef for name, propdef in definer.propdefs.items()
        }
        for target in (oid, *self.descendants(oid)):
            obj = self.objects[target]
            if old in obj.props:
                props = obj.props
                obj.props = {(new if name == old else name): v for name, v in props.items()}
            if old in obj.propinfo:
                obj.propinfo = {
                    (new if name == old else name): info for name, info in obj.propinfo.items()
                }

    def _owned_by(self, oid: int) -> list[MooObject]:
        """The objects that ``oid`` owns, or owns a verb or a property definition of."""
        return [
            obj
            for obj in self.objects.values()
            if obj.owner == oid
            or any(verb.owner == oid for verb in obj.verbs)
            or any(propdef.owner == oid for propdef in obj.propdefs.values())
            or any(info.owner == oid for info in obj.propinfo.values())
        ]

    # ------------------------------------------------------------- mutations

    def create(
        self,
        parent: int,
        owner: int,
        name: str,
        *,
        location: int = NOTHING,
        flags: int = 0,
        aliases: list[str] | None = None,
        oid: int | None = None,
    ) -> int:
        """Make a new object and return its id (``oid`` only when building a world from data)."""
        if parent != NOTHING:
            self.get(parent)
        if location != NOTHING:
            self.get(location)
        if flags & Flag.PLAYER:
            self._check_player_name_free(name, None)
        new_id = self.next_id if oid is None else oid
        if new_id < 0:
            raise WorldError(f"#{new_id} cannot be an object number.")
        if new_id in self.objects:
            raise WorldError(f"#{new_id} already exists.")
        obj = MooObject(
            id=new_id,
            name=name,
            parent=parent,
            owner=new_id if owner == NOTHING and oid is None else owner,
            location=location,
            flags=flags,
            aliases=list(aliases or []),
        )
        self._commit_record(m.Create(obj), (new_id, location))
        return new_id

    def recycle(self, oid: int) -> None:
        """Destroy an object: its contents go nowhere, its children move to its parent."""
        obj = self.get(oid)
        touched = (oid, obj.location, *obj.contents, *self.descendants(oid))
        self._commit_record(m.Recycle(oid), touched)

    def renumber(self, oid: int) -> int:
        """Give ``oid`` the lowest free object number below its own (LambdaMOO's
        ``renumber()``); its number as it was when there is none. Returns the number."""
        obj = self.get(oid)
        new = next((n for n in range(oid) if n not in self.objects), oid)
        if new == oid:
            return oid
        touched = (
            oid,
            new,
            obj.location,
            *obj.contents,
            *self.children(oid),
            *(other.id for other in self._owned_by(oid)),
        )
        self._commit_record(m.Renumber(oid, new), touched)
        return new

    def reset_next_id(self) -> None:
        """The next new object takes the number after the highest existing one
        (LambdaMOO's ``reset_max_object()``)."""
        self._commit_record(m.ResetNextId(max(self.objects, default=-1) + 1), ())

    def rename(self, oid: int, name: str) -> None:
        obj = self.get(oid)
        if not name.strip():
            raise WorldError("A name cannot be empty.")
        if obj.flags & Flag.PLAYER:
            self._check_player_name_free(name, oid)
        self._commit_record(m.SetField(oid, "name", name), (oid,))

    def set_aliases(self, oid: int, aliases: list[str]) -> None:
        self.get(oid)
        self._commit_record(m.SetField(oid, "aliases", list(aliases)), (oid,))

    def set_owner(self, oid: int, owner: int) -> None:
        self.get(oid)
        self.get(owner)
        self._commit_record(m.SetField(oid, "owner", owner), (oid,))

    def set_flags(self, oid: int, flags: int) -> None:
        obj = self.get(oid)
        if flags & Flag.PLAYER and not obj.flags & Flag.PLAYER:
            self._check_player_name_free(obj.name, oid)
        self._commit_record(m.SetField(oid, "flags", int(flags)), (oid,))

    def set_parent(self, oid: int, parent: int) -> None:
        self.get(oid)
        if parent != NOTHING:
            self.get(parent)
            if self.is_a(parent, oid):
                raise WorldError(f"#{parent} descends from #{oid}: that would make a loop.")
            new_names = {n for o in self.ancestors(parent) for n in o.propdefs}
            for target in (oid, *self.descendants(oid)):
                clash = new_names & set(self.objects[target].propdefs)
                if clash:
                    raise WorldError(
                        f"#{target} defines {sorted(clash)[0]!r}, which #{parent} already has."
                    )
        touched = (oid, *self.descendants(oid))
        self._commit_record(m.SetParent(oid, parent), touched)

    def move(self, oid: int, dest: int) -> None:
        obj = self.get(oid)
        if dest != NOTHING:
            self.get(dest)
            if self.contains(oid, dest):
                raise WorldError(f"#{oid} cannot be moved into itself.")
        if obj.location == dest:
            return
        self._commit_record(m.Move(oid, dest), (oid, obj.location, dest))

    def set_verbs(self, oid: int, verbs: list[VerbDef]) -> None:
        self.get(oid)
        self._commit_record(m.SetVerbs(oid, list(verbs)), (oid,))

    def add_verb(self, oid: int, verb: VerbDef) -> None:
        self.set_verbs(oid, [*self.get(oid).verbs, verb])

    def set_verb(self, oid: int, index: int, verb: VerbDef) -> None:
        """Replace verb record ``index`` (from 0) of ``oid`` whole."""
        obj = self.get(oid)
        if not 0 <= index < len(obj.verbs):
            raise WorldError(f"#{oid} has no verb {index + 1}.")
        self._commit_record(m.SetVerb(oid, index, verb), (oid,))

    def set_verb_program(self, oid: int, index: int, source: str) -> None:
        """Make verb ``index`` of ``oid`` a MOO verb running ``source`` (already compiled
        by the caller: the world stores text and never compiles)."""
        verb = self._verb(oid, index)
        self.set_verb(oid, index, msgspec.structs.replace(verb, impl=MOO_IMPL, program=source))

    def set_verb_info(self, oid: int, index: int, *, owner: int, perms: str, names: str) -> None:
        """Change verb ``index``'s owner, permission letters and names."""
        verb = self._verb(oid, index)
        self.get(owner)
        if not names.strip():
            raise WorldError("A verb needs at least one name.")
        self.set_verb(
            oid, index, msgspec.structs.replace(verb, owner=owner, perms=perms, names=names)
        )

    def set_verb_args(self, oid: int, index: int, *, dobj: str, prep: str, iobj: str) -> None:
        """Change verb ``index``'s argument spec ("this"/"any"/"none", a preposition group)."""
        verb = self._verb(oid, index)
        self.set_verb(oid, index, msgspec.structs.replace(verb, dobj=dobj, prep=prep, iobj=iobj))

    def delete_verb(self, oid: int, index: int) -> None:
        verbs = list(self._verb_list(oid, index))
        del verbs[index]
        self.set_verbs(oid, verbs)

    def _verb_list(self, oid: int, index: int) -> list[VerbDef]:
        verbs = self.get(oid).verbs
        if not 0 <= index < len(verbs):
            raise WorldError(f"#{oid} has no verb {index + 1}.")
        return verbs

    def _verb(self, oid: int, index: int) -> VerbDef:
        return self._verb_list(oid, index)[index]

    def queue_task(self, task: QueuedTask) -> None:
        """Record a queued MOO task (a new one, or one whose record changes). The record
        is kept as given: never change it in place."""
        self._commit_task(m.QueueTask(task), task.id)

    def drop_task(self, task_id: int) -> None:
        """Remove a queued task's record (it started, resumed or was killed); nothing
        happens when there is none."""
        if task_id in self.tasks:
            self._commit_task(m.DropTask(task_id), task_id)

    def _check_player_name_free(self, name: str, oid: int | None) -> None:
        other = self._players.get(name.lower())
        if other is not None and other != oid:
            raise WorldError(f"The name {name!r} is already taken.")

    # ----------------------------------------------------------------- digest

    def digest(self) -> str:
        """A hash of the whole world's content, equal for equal worlds (like Redis DEBUG DIGEST).

        It is the hash a snapshot computes over its body (``codec.world_hasher``): objects in
        ascending id order, each encoded with sorted keys.
        """
        h = world_hasher(self.next_id, len(self.objects))
        for oid in sorted(self.objects):
            h.update(digest_encoder.encode(self.objects[oid]))
        return h.hexdigest()

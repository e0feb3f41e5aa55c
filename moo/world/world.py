"""The world: every object, and the ONE path by which any of them changes.

How a change flows:

1. A verb calls a mutation method (``create``, ``move``, ``set_prop`` ...).
2. The method validates its arguments against the current world and raises
   ``WorldError`` before anything changes.
3. It builds a mutation record (``mutations.py``) holding the full new value.
4. ``_commit_record`` saves the old state of each object the record touches
   (once per transaction), tells the change hooks (a snapshot in progress saves
   its copy first), and calls ``apply()``.
5. When the outermost ``transaction()`` ends without an exception, its records
   go to every observer (the journal) in one batch. If it ends with an
   exception, the saved states are put back and observers hear nothing: a
   command that fails leaves no trace.

Recovery replays records with the same ``apply()``.

``World`` is built in layers, each a class in its own module that uses only the
ones below it; ``World`` inherits them all, so every ``world.method()`` is found
on the one object, with no call in between:

- ``state.py``         ``WorldState``: the objects, reads of their graph
  (``get``, ``ancestors``, ``contains``), the derived indexes, ``load``;
- ``transactions.py``  ``WorldTransactions``: ``transaction()``,
  ``_commit_record`` (steps 4-5), rollback, observers and change hooks;
- ``properties.py``    ``WorldProperties``: property reads and slots
  (``get_prop``, ``prop_slot``) and the property mutation methods;
- ``replay.py``        ``WorldReplay``: ``apply()``, one function per record
  kind (``renumber.py`` has the renumber record's), on ``edit.py``'s edits;
- this module          ``World``: the mutation methods of objects, verbs and
  queued tasks, and ``digest``.

Only the world's own modules change objects; everyone else goes through these
methods. Property values are immutable by convention, as in MOO: never change a
list or map returned by ``prop()`` in place (that would bypass the record);
build a new one and ``set_prop`` it.
"""

from __future__ import annotations

import msgspec

from moo.errors import WorldError
from moo.world import mutations as m
from moo.world.codec import digest_encoder, world_hasher
from moo.world.edit import clone
from moo.world.model import MOO_IMPL, Flag, MooObject, VerbDef
from moo.world.properties import BUILTIN_PROPERTIES
from moo.world.renumber import owned_by
from moo.world.replay import WorldReplay
from moo.world.tasks import QueuedTask
from moo.world.transactions import ChangeHook, CommitObserver
from moo.world.values import NOTHING

__all__ = ["BUILTIN_PROPERTIES", "ChangeHook", "CommitObserver", "World", "clone"]


class World(WorldReplay):
    """All objects in memory, their derived indexes, and the mutation path (the layers
    are listed in the module docstring)."""

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
            *(other.id for other in owned_by(self, oid)),
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

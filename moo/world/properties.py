"""The property layer of ``World``: property values, their definitions and slots.

A property is defined on one object (``MooObject.propdefs``: owner and permission letters)
and exists on it and every descendant. Reading one (``get_prop``, ``prop``: hot, every
``this.name`` in MOO code) walks ``ancestors`` from the object and takes the first own
value. Each object may also hold its own owner and permissions of an inherited property
(``propinfo``, LambdaMOO's property slots); ``prop_slot`` answers what they are.

The mutation methods here follow the world's one path (``transactions.py``): check the
arguments against the current world and raise ``WorldError`` before anything changes,
build a record (``mutations.py``) and ``_commit_record`` it, naming every object the
record can change. How each record changes the objects is ``replay.py``'s.

Property values are immutable by convention, as in MOO: never change a list or map
returned by ``prop()`` in place (that would bypass the record); build a new one and
``set_prop`` it.
"""

from __future__ import annotations

from typing import Any

from msgspec import Raw

from moo.errors import WorldError
from moo.world import mutations as m
from moo.world.edit import drop_info, drop_prop
from moo.world.model import MooObject, PropDef
from moo.world.transactions import WorldTransactions
from moo.world.values import NOTHING, ObjRef

BUILTIN_PROPERTIES = frozenset(
    {"name", "owner", "location", "contents", "parent", "flags", "aliases", "id", "verbs"}
)
"""The built-in properties (fields of every object that MOO code reads as properties): no
defined property may take these names."""


class WorldProperties(WorldTransactions):
    """Property reads and slots, and the mutation methods of properties."""

    # ------------------------------------------------------------------ reads

    def prop_definer(self, oid: int, name: str) -> tuple[MooObject, PropDef] | None:
        """The object that defines property ``name`` for ``oid`` and its definition."""
        for obj in self.ancestors(oid):
            propdef = obj.propdefs.get(name)
            if propdef is not None:
                return obj, propdef
        return None

    def prop_slot(self, oid: int, name: str) -> tuple[MooObject, PropDef] | None:
        """The object that defines property ``name`` for ``oid``, and the property's owner
        and permissions on ``oid`` (LambdaMOO keeps them per object): its own, given by
        ``set_prop_info``; else the nearest ancestor's below the definer; else the
        definition's. With ``c``, an owner not given to ``oid`` itself is ``oid``'s owner."""
        given: PropDef | None = None
        given_here = False
        for obj in self.ancestors(oid):
            propdef = obj.propdefs.get(name)
            if propdef is not None:
                if obj.id == oid:
                    return obj, propdef
                slot = given or propdef
                if "c" in slot.perms and not given_here:
                    owner = self.objects[oid].owner
                    if slot.owner != owner:
                        slot = PropDef(owner, slot.perms)
                return obj, slot
            if given is None and obj.propinfo:
                given = obj.propinfo.get(name)
                given_here = given is not None and obj.id == oid
        return None

    def has_prop(self, oid: int, name: str) -> bool:
        return self.prop_definer(oid, name) is not None

    def get_prop(self, oid: int, name: str) -> Any:
        """A property's value for ``oid`` (its own or inherited). Raises WorldError if undefined."""
        for obj in self.ancestors(oid):
            props: Any = obj.props_data  # the field, not the property: this path is hot
            if type(props) is Raw:
                props = obj.props
            if name in props:
                return props[name]
        self.get(oid)
        raise WorldError(f"#{oid} has no property {name!r}.")

    def prop(self, oid: int, name: str, default: Any = None) -> Any:
        """Like ``get_prop`` but returns ``default`` when the object or property is missing."""
        for obj in self.ancestors(oid):
            props: Any = obj.props_data  # the field, not the property: this path is hot
            if type(props) is Raw:
                props = obj.props
            if name in props:
                return props[name]
        return default

    def sys(self, name: str) -> int:
        """The object a ``$name`` refers to (a property of #0), or NOTHING."""
        value = self.prop(0, name.lstrip("$"))
        return value.id if isinstance(value, ObjRef) else NOTHING

    def _drop_orphaned_props(self, oid: int) -> None:
        """Remove values of properties no longer defined for ``oid`` and its descendants
        (applying a reparent or a recycle, ``replay.py``: part of the record's effect)."""
        for target in (oid, *self.descendants(oid)):
            obj = self.objects[target]
            for name in list(obj.props):
                if not self.has_prop(target, name):
                    drop_prop(obj, name)
            for name in list(obj.propinfo):
                if name in obj.propdefs or not self.has_prop(target, name):
                    drop_info(obj, name)

    # ------------------------------------------------------------- mutations

    def set_prop(self, oid: int, name: str, value: Any) -> None:
        """Set a property's value on ``oid`` (the property must be defined for it)."""
        self.get(oid)
        if not self.has_prop(oid, name):
            raise WorldError(f"#{oid} has no property {name!r}.")
        self._commit_record(m.SetProp(oid, name, value), (oid,))

    def clear_prop(self, oid: int, name: str) -> None:
        """Drop ``oid``'s own value so it inherits its parent's again."""
        obj = self.get(oid)
        if name in obj.propdefs:
            raise WorldError(f"#{oid} defines {name!r}; its value cannot be cleared.")
        if name in obj.props:
            self._commit_record(m.ClearProp(oid, name), (oid,))

    def define_prop(self, oid: int, name: str, value: Any, owner: int, perms: str = "r") -> None:
        """Add a new property to ``oid`` (and so to all its descendants)."""
        self.get(oid)
        if not name or name in BUILTIN_PROPERTIES:
            raise WorldError(f"{name!r} cannot be used as a property name.")
        if self.has_prop(oid, name):
            raise WorldError(f"#{oid} already has a property {name!r}.")
        for child in self.descendants(oid):
            if name in self.objects[child].propdefs:
                raise WorldError(f"#{child}, a descendant of #{oid}, already defines {name!r}.")
        record = m.DefineProp(oid, name, PropDef(owner=owner, perms=perms), value)
        self._commit_record(record, (oid,))

    def undefine_prop(self, oid: int, name: str) -> None:
        obj = self.get(oid)
        if name not in obj.propdefs:
            raise WorldError(f"#{oid} does not define {name!r}.")
        self._commit_record(m.UndefineProp(oid, name), (oid, *self.descendants(oid)))

    def set_propdef(self, oid: int, name: str, *, owner: int, perms: str) -> None:
        """Change the owner and permission letters of property ``name``, defined on ``oid``."""
        obj = self.get(oid)
        if name not in obj.propdefs:
            raise WorldError(f"#{oid} does not define {name!r}.")
        self.get(owner)
        record = m.DefineProp(oid, name, PropDef(owner=owner, perms=perms), obj.props.get(name))
        self._commit_record(record, (oid,))

    def set_prop_info(self, oid: int, name: str, info: PropDef | None) -> None:
        """Give ``oid`` its own owner and permissions of inherited property ``name`` (None:
        back to what it inherits). The definer's own are ``set_propdef``'s."""
        obj = self.get(oid)
        if name in obj.propdefs or not self.has_prop(oid, name):
            raise WorldError(f"#{oid} does not inherit a property {name!r}.")
        if info is not None:
            self.get(info.owner)
        self._commit_record(m.SetPropInfo(oid, name, info), (oid,))

    def rename_prop(self, oid: int, old: str, new: str) -> None:
        """Rename property ``old``, defined on ``oid``, there and on every descendant."""
        obj = self.get(oid)
        if old not in obj.propdefs:
            raise WorldError(f"#{oid} does not define {old!r}.")
        if new == old:
            return
        if not new or new.lower() in BUILTIN_PROPERTIES:
            raise WorldError(f"{new!r} cannot be used as a property name.")
        lowered = new.lower()
        relatives = (*self.ancestors(oid), *(self.objects[c] for c in self.descendants(oid)))
        taken = {name.lower() for relative in relatives for name in relative.propdefs}
        if lowered != old.lower() and lowered in taken:
            raise WorldError(f"#{oid} or a relative already has a property {new!r}.")
        touched = (oid, *self.descendants(oid))
        self._commit_record(m.RenameProp(oid, old, new), touched)

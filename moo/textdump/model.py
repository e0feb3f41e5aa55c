"""What a LambdaMOO textdump holds, as read (``reader.py``): LambdaMOO's own structures and
numbers, not yet this server's world.

Kept as LambdaMOO has them so that nothing is decided while reading: verb permissions
and argument specs stay the packed ``perms`` number, a property value that is inherited
stays ``CLEAR``, an object's contents and children stay the first-and-next links of the
file. Mapping them onto this server's world is the importer's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Object flags (LambdaMOO's db.h: bit numbers)
FLAG_USER = 1 << 0
FLAG_PROGRAMMER = 1 << 1
FLAG_WIZARD = 1 << 2
FLAG_READ = 1 << 4
FLAG_WRITE = 1 << 5
FLAG_FERTILE = 1 << 7

# Verb ``perms``: the permission bits, then the direct and indirect object specs
VF_READ, VF_WRITE, VF_EXEC, VF_DEBUG = 0o1, 0o2, 0o4, 0o10
VF_DOBJSHIFT, VF_IOBJSHIFT, VF_OBJMASK = 4, 6, 0x3
ARGSPECS = ("none", "any", "this")
"""An object spec's number -> its name (ASPEC_NONE, ASPEC_ANY, ASPEC_THIS)."""
PREP_ANY, PREP_NONE = -2, -1

# Property ``perms``
PF_READ, PF_WRITE, PF_CHOWN = 0o1, 0o2, 0o4


class Clear:
    """A property value not set on the object itself: it is the ancestor's (TYPE_CLEAR)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "CLEAR"


CLEAR = Clear()


class NoValue:
    """A variable with no value yet (TYPE_NONE, in a forked task's variables)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NONE"


NONE = NoValue()


@dataclass
class VerbDef:
    names: str
    owner: int
    perms: int  # VF_* bits and the object specs (``dobj``, ``iobj``)
    prep: int  # PREP_ANY, PREP_NONE, or the preposition's number in LambdaMOO's table

    @property
    def dobj(self) -> str:
        return ARGSPECS[(self.perms >> VF_DOBJSHIFT) & VF_OBJMASK]

    @property
    def iobj(self) -> str:
        return ARGSPECS[(self.perms >> VF_IOBJSHIFT) & VF_OBJMASK]


@dataclass
class PropVal:
    value: Any  # a MOO value, or CLEAR
    owner: int
    perms: int  # PF_* bits


@dataclass
class DumpObject:
    id: int
    name: str
    flags: int
    owner: int
    location: int
    contents: int  # the first object inside (-1: none); the rest follow ``next``
    next: int  # the next object in the same location
    parent: int
    child: int  # the first child (-1: none); the rest follow ``sibling``
    sibling: int
    verbs: list[VerbDef] = field(default_factory=list)
    propdefs: list[str] = field(default_factory=list)  # defined here, in order
    propvals: list[PropVal] = field(default_factory=list)  # every property, see below


@dataclass
class ForkedTask:
    """A queued ``fork``: its program is the fork's body, with the variables it copied."""

    id: int
    start_time: int  # Unix time it is due
    first_lineno: int
    this: int
    player: int
    programmer: int
    vloc: int  # where the verb is defined
    debug: int
    verb: str
    verb_names: str
    variables: dict[str, Any]  # NONE for one not set
    program: list[str]


@dataclass
class Textdump:
    version: int
    objects: list[DumpObject | None]  # by id; None for a recycled number
    users: list[int]  # the players, as the file lists them
    programs: dict[tuple[int, int], list[str]]  # (object, verb index) -> its lines
    forked_tasks: list[ForkedTask]
    suspended_task_count: int  # read past, not kept (see reader.py)
    connections: list[tuple[int, int]]  # (player, listener) connected at the dump
    listeners: bool = True  # whether the file names each connection's listener (1.8.1 does)

    def object(self, oid: int) -> DumpObject | None:
        return self.objects[oid] if 0 <= oid < len(self.objects) else None

    def property_names(self, oid: int) -> list[str]:
        """The names of ``oid``'s properties in the order of its ``propvals``: its own
        definitions, then its parent's, and so on up (LambdaMOO's order)."""
        names: list[str] = []
        seen: set[int] = set()
        obj = self.object(oid)
        while obj is not None and obj.id not in seen:
            seen.add(obj.id)
            names.extend(obj.propdefs)
            obj = self.object(obj.parent)
        return names

"""This server's world as a LambdaMOO textdump: ``export_world(world) -> (Textdump, report)``.

The inverse of ``importer.py``, so a world imported from LambdaMOO (or built here) can go
back to a LambdaMOO (``writer.py`` writes the file). The pipeline:

1. Object numbers ``0 .. next_id - 1``; a number with no object is recycled.
2. Each object: its flags as LambdaMOO's bits; its location and contents as the file's
   first-and-next links, in the world's contents order; its parent and children as the
   first-and-sibling links, in the world's children order.
3. Its verbs: ``rwxd`` and the argument specs packed into LambdaMOO's number, the
   preposition group as its number in LambdaMOO's table, the MOO program's lines.
4. Its properties: the names it defines, then every property it has in LambdaMOO's order
   (its own definitions, then its parent's, and so on up), each with the value it sets
   itself (``CLEAR`` if it inherits it) and its owner and permissions on this object
   (``World.prop_slot``).
5. ``aliases``: here an object's built-in field; in LambdaMOO a property that LambdaCore
   defines on ``$root_class``. Each root object (no parent) defines it, first, owned by
   the root's owner with ``rc`` (LambdaCore's); an object whose aliases equal its
   parent's inherits them (``CLEAR``), others set their own.

What LambdaMOO cannot hold is said in the report, never guessed at: a verb written in
Python (kept with no program), a value no textdump can hold (a map; the property is then
``CLEAR``, inherited, or 0 on the object that defines it, which LambdaMOO never leaves
clear), a flag LambdaMOO does not have (``builder``). Queued and suspended tasks are
this server's own and are not exported (counted in the report).

Exported and imported again, a world answers the same for every object, property value,
property owner and permission, verb and program (tests/unit/test_textdump_export.py).
Not kept: the position of ``aliases`` among ``$root_class``'s properties and the order of
``children()``, which this world does not keep as LambdaMOO does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from moo.textdump.importer import FLAGS, PREP_GROUPS, PROP_PERMS, VERB_PERMS
from moo.textdump.model import (
    ARGSPECS,
    CLEAR,
    PREP_ANY,
    PREP_NONE,
    VF_DOBJSHIFT,
    VF_IOBJSHIFT,
    DumpObject,
    PropVal,
    Textdump,
)
from moo.textdump.model import VerbDef as DumpVerb
from moo.textdump.writer import write_value
from moo.world.model import MOO_IMPL, Flag, MooObject, VerbDef
from moo.world.values import NOTHING
from moo.world.world import World

FORMAT_VERSION = 4  # LambdaMOO 1.8's
ALIASES = "aliases"
ALIASES_PERMS = "rc"
"""LambdaCore's ``$root_class.aliases``: readable, and each object's own to change."""


@dataclass
class ExportReport:
    objects: int = 0
    verbs: int = 0
    programs: int = 0
    recycled: int = 0
    dropped: list[str] = field(default_factory=list)  # what LambdaMOO cannot hold
    tasks_not_exported: int = 0


def export_world(world: World) -> tuple[Textdump, ExportReport]:
    """The world as a textdump (module docstring). Never raises for what the world holds:
    what a textdump cannot hold is left out and named in the report."""
    report = ExportReport(tasks_not_exported=len(world.tasks))
    objects: list[DumpObject | None] = []
    programs: dict[tuple[int, int], list[str]] = {}
    links = _Links(world)
    for oid in range(world.next_id):
        obj = world.objects.get(oid)
        if obj is None:
            objects.append(None)
            report.recycled += 1
            continue
        dumped = _object(world, obj, links, report)
        for index, verb in enumerate(obj.verbs):
            if verb.impl == MOO_IMPL:
                programs[(oid, index)] = _program(verb, f"#{oid}:{verb.names}", report)
            else:
                report.dropped.append(f"#{oid}:{verb.names}: written in Python ({verb.impl})")
        objects.append(dumped)
    report.objects = len(objects) - report.recycled
    report.verbs = sum(len(obj.verbs) for obj in objects if obj is not None)
    report.programs = len(programs)
    users = [obj.id for obj in objects if obj is not None and world.objects[obj.id].is_player]
    dump = Textdump(FORMAT_VERSION, objects, users, programs, [], 0, [])
    return dump, report


class _Links:
    """The file's ``next`` and ``sibling`` links, from the world's contents and children
    lists, each list walked once (a lookup per object in a list of 100k children was
    quadratic)."""

    def __init__(self, world: World) -> None:
        self.next: dict[int, int] = {}
        self.sibling: dict[int, int] = {}
        for oid, obj in world.objects.items():
            self.next.update(pairwise(obj.contents))
            self.sibling.update(pairwise(world.children(oid)))


def _object(world: World, obj: MooObject, links: _Links, report: ExportReport) -> DumpObject:
    where = f"#{obj.id}"
    flags = 0
    for bit, flag in FLAGS:
        if obj.flags & flag:
            flags |= bit
    if obj.flags & Flag.BUILDER:
        report.dropped.append(f"{where}: the builder flag (LambdaMOO has none)")
    children = world.children(obj.id)
    dumped = DumpObject(
        id=obj.id,
        name=_text(obj.name, f"{where}'s name", report),
        flags=flags,
        owner=obj.owner,
        location=obj.location,
        contents=obj.contents[0] if obj.contents else NOTHING,
        next=links.next.get(obj.id, NOTHING),
        parent=obj.parent,
        child=children[0] if children else NOTHING,
        sibling=links.sibling.get(obj.id, NOTHING),
        verbs=[_verb(verb, where, report) for verb in obj.verbs],
        propdefs=[_text(name, f"{where}'s property", report) for name in _own_names(obj)],
    )
    dumped.propvals = [_propval(world, obj, name, report) for name in _property_names(world, obj)]
    return dumped


def _own_names(obj: MooObject) -> list[str]:
    return ([ALIASES] if obj.parent == NOTHING else []) + list(obj.propdefs)


def _text(text: str, what: str, report: ExportReport) -> str:
    """``text`` on one line of the file: a line break in it becomes a space (reported)."""
    if "\n" not in text and "\r" not in text:
        return text
    report.dropped.append(f"{what} {_short(text)}: its line breaks are spaces")
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def _verb(verb: VerbDef, where: str, report: ExportReport) -> DumpVerb:
    perms = 0
    for bit, letter in VERB_PERMS:
        if letter in verb.perms:
            perms |= bit
    perms |= ARGSPECS.index(verb.dobj) << VF_DOBJSHIFT
    perms |= ARGSPECS.index(verb.iobj) << VF_IOBJSHIFT
    if verb.prep == "any":
        prep = PREP_ANY
    elif verb.prep == "none":
        prep = PREP_NONE
    elif verb.prep in PREP_GROUPS:
        prep = PREP_GROUPS.index(verb.prep)
    else:
        report.dropped.append(f"{where}:{verb.names}'s preposition {verb.prep!r}: none")
        prep = PREP_NONE
    return DumpVerb(_text(verb.names, f"{where}'s verb", report), verb.owner, perms, prep)


def _program(verb: VerbDef, where: str, report: ExportReport) -> list[str]:
    lines = verb.program.split("\n") if verb.program else []
    if any(line == "." or "\r" in line for line in lines):  # no MOO statement is either
        report.dropped.append(f"{where}: a line the file cannot hold ('.' or a CR)")
        lines = [line.replace("\r", " ") for line in lines if line != "."]
    return lines


def _property_names(world: World, obj: MooObject) -> list[str]:
    """LambdaMOO's order: the object's own definitions, then its parent's, and so on up
    (``Textdump.property_names``), ``aliases`` first on a root."""
    names: list[str] = []
    for ancestor in world.ancestors(obj.id):
        if ancestor.parent == NOTHING:
            names.append(ALIASES)
        names.extend(ancestor.propdefs)
    return names


def _propval(world: World, obj: MooObject, name: str, report: ExportReport) -> PropVal:
    if name == ALIASES:
        return _aliases(world, obj)
    found = world.prop_slot(obj.id, name)
    assert found is not None, f"#{obj.id} has no property {name!r} it inherits"
    definer, slot = found
    value: Any = obj.props.get(name, CLEAR)
    if value is not CLEAR and not _representable(value):
        report.dropped.append(f"#{obj.id}.{name}: {_short(value)} (no textdump value)")
        value = CLEAR
    if value is CLEAR and definer.id == obj.id:
        value = 0  # LambdaMOO's definer always has a value of its own (never clear)
    return PropVal(value, slot.owner, _bits(slot.perms))


def _aliases(world: World, obj: MooObject) -> PropVal:
    *_, root = world.ancestors(obj.id)  # the root whose definition this is
    parent = world.objects.get(obj.parent)
    inherited = parent is not None and parent.aliases == obj.aliases
    value: Any = CLEAR if inherited else list(obj.aliases)
    owner = root.owner if obj.id == root.id else obj.owner
    return PropVal(value, owner, _bits(ALIASES_PERMS))


def _bits(perms: str) -> int:
    return sum(bit for bit, letter in PROP_PERMS if letter in perms)


def _representable(value: Any) -> bool:
    try:
        write_value([], value)
    except (ValueError, RecursionError):
        return False
    return True


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."

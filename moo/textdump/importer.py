"""A textdump's database as this server's world: ``import_world(dump) -> (World, report)``.

Every object, verb and property of the dump, exact in every value, owner and permission,
as LambdaMOO would answer for them; what this server's world cannot hold is said in the
report, never guessed at silently. The pipeline:

1. Each object becomes a ``MooObject``: its name, owner, parent, location; its flags
   (LambdaMOO's player, programmer, wizard, read, write and fertile bits); its contents
   in the file's order (the ``contents``/``next`` links); its verbs (``rwxd`` and the
   argument specs unpacked from the packed number, the preposition's number as its
   group, the program's text as an ``impl == "moo"`` verb); its property definitions
   (owner and ``rwc`` from the definer's own slot); and the values it sets itself (a
   value that is ``CLEAR`` is inherited and not stored).
2. ``aliases``: LambdaCore keeps them in a property of ``$root_class``; here they are an
   object's built-in field (what matching reads). Each object's value, its own or the
   one it inherits, becomes the field, and the property definition goes.
3. A reference to an object that does not exist (a recycled number) becomes ``#-1``,
   as LambdaMOO's own load repairs it, and the report says which.
4. The objects load into a world, and each object's owner and permissions of each
   property it inherits (LambdaMOO keeps them per object) are compared with what the
   world answers (``World.prop_slot``), ancestors first; where they differ, the object
   gets them as its own (``propinfo``), so that every slot reads as in LambdaMOO.

Queued forks, suspended tasks and connections are not part of the world here (the
report counts them): a fork's program is MOO text that could run again, which is for
the importer's caller to decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moo.commands.parser import GROUP_NAMES
from moo.textdump.model import (
    CLEAR,
    FLAG_FERTILE,
    FLAG_PROGRAMMER,
    FLAG_READ,
    FLAG_USER,
    FLAG_WIZARD,
    FLAG_WRITE,
    PF_CHOWN,
    PF_READ,
    PF_WRITE,
    PREP_ANY,
    PREP_NONE,
    VF_DEBUG,
    VF_EXEC,
    VF_READ,
    VF_WRITE,
    DumpObject,
    Textdump,
)
from moo.textdump.model import VerbDef as DumpVerb
from moo.world.model import MOO_IMPL, Flag, MooObject, PropDef, VerbDef
from moo.world.properties import BUILTIN_PROPERTIES
from moo.world.values import NOTHING
from moo.world.world import World

FLAGS = (
    (FLAG_USER, Flag.PLAYER),
    (FLAG_PROGRAMMER, Flag.PROGRAMMER),
    (FLAG_WIZARD, Flag.WIZARD),
    (FLAG_READ, Flag.READ),
    (FLAG_WRITE, Flag.WRITE),
    (FLAG_FERTILE, Flag.FERTILE),
)
VERB_PERMS = ((VF_READ, "r"), (VF_WRITE, "w"), (VF_EXEC, "x"), (VF_DEBUG, "d"))
PROP_PERMS = ((PF_READ, "r"), (PF_WRITE, "w"), (PF_CHOWN, "c"))
PREP_GROUPS = GROUP_NAMES
"""LambdaMOO's preposition numbers: the same fifteen groups, in the same order."""


@dataclass
class ImportReport:
    objects: int = 0
    verbs: int = 0
    programs: int = 0
    recycled: int = 0
    repaired: list[str] = field(default_factory=list)  # references to no object, made #-1
    dropped: list[str] = field(default_factory=list)  # what this world cannot hold
    forked_tasks: int = 0
    suspended_tasks: int = 0


def import_world(dump: Textdump) -> tuple[World, ImportReport]:
    """The dump's database as a new world (module docstring). Raises ``ValueError`` for a
    dump whose hierarchy LambdaMOO itself would refuse (a parent or location loop)."""
    report = ImportReport(
        recycled=sum(obj is None for obj in dump.objects),
        forked_tasks=len(dump.forked_tasks),
        suspended_tasks=dump.suspended_task_count,
    )
    alive = {obj.id for obj in dump.objects if obj is not None}

    def ref(oid: int, what: str) -> int:
        if oid == NOTHING or oid in alive:
            return oid
        report.repaired.append(f"{what} #{oid} (no such object): #-1")
        return NOTHING

    objects: list[MooObject] = []
    slots: dict[int, dict[str, tuple[int, str]]] = {}
    for dumped in dump.objects:
        if dumped is not None:
            made, slots[dumped.id] = _object(dump, dumped, ref, report)
            objects.append(made)
    by_id = {made.id: made for made in objects}
    for made in objects:
        if made.location != NOTHING:
            by_id[made.location].contents.append(made.id)
    for dumped in dump.objects:  # the file's order of contents, where its links agree
        if dumped is not None and dumped.contents != NOTHING:
            by_id[dumped.id].contents = _ordered(dump, dumped, by_id[dumped.id].contents)
    world = World()
    world.load(objects, len(dump.objects))
    _check_hierarchy(world)
    _give_slots(world, slots)
    report.objects = len(objects)
    report.verbs = sum(len(obj.verbs) for obj in objects)
    report.programs = len(dump.programs)
    return world, report


def _object(
    dump: Textdump, obj: DumpObject, ref: Any, report: ImportReport
) -> tuple[MooObject, dict[str, tuple[int, str]]]:
    where = f"#{obj.id}"
    flags = 0
    for bit, flag in FLAGS:
        if obj.flags & bit:
            flags |= int(flag)
    names = dump.property_names(obj.id)
    values: dict[str, Any] = {}
    slots: dict[str, tuple[int, str]] = {}
    for name, prop in zip(names, obj.propvals, strict=True):
        if name in BUILTIN_PROPERTIES:
            continue
        slots[name] = (ref(prop.owner, f"{where}.{name}'s owner"), _letters(prop.perms))
        if prop.value is not CLEAR:
            values[name] = prop.value
    propdefs: dict[str, PropDef] = {}
    for name in obj.propdefs:
        if name in BUILTIN_PROPERTIES:
            if name != "aliases":
                report.dropped.append(f"{where}.{name}: a built-in property's name here")
            continue
        owner, perms = slots[name]
        propdefs[name] = PropDef(owner, perms)
    verbs = [
        _verb(verb, dump.programs.get((obj.id, index)), ref(verb.owner, f"{where}:{verb.names}"))
        for index, verb in enumerate(obj.verbs)
    ]
    for verb in obj.verbs:
        if not PREP_ANY <= verb.prep < len(PREP_GROUPS):
            report.repaired.append(f"{where}:{verb.names}'s preposition {verb.prep}: none")
    made = MooObject(
        id=obj.id,
        name=obj.name,
        parent=ref(obj.parent, f"{where}'s parent"),
        owner=ref(obj.owner, f"{where}'s owner"),
        location=ref(obj.location, f"{where}'s location"),
        flags=flags,
        aliases=_aliases(dump, obj, report),
        contents=[],
        propdefs=propdefs,
        verbs=verbs,
    )
    made.props = values
    return made, slots


def _letters(perms: int) -> str:
    return "".join(letter for bit, letter in PROP_PERMS if perms & bit)


def _verb(verb: DumpVerb, program: list[str] | None, owner: int) -> VerbDef:
    perms = "".join(letter for bit, letter in VERB_PERMS if verb.perms & bit)
    if verb.prep == PREP_ANY:
        prep = "any"
    elif verb.prep == PREP_NONE or not 0 <= verb.prep < len(PREP_GROUPS):
        prep = "none"
    else:
        prep = PREP_GROUPS[verb.prep]
    text = "\n".join(program) if program is not None else ""
    return VerbDef(verb.names, owner, perms, verb.dobj, prep, verb.iobj, MOO_IMPL, text)


def _aliases(dump: Textdump, obj: DumpObject, report: ImportReport) -> list[str]:
    """The object's ``aliases`` property value, its own or inherited (step 2)."""
    current: DumpObject | None = obj
    seen: set[int] = set()
    while current is not None and current.id not in seen:
        seen.add(current.id)
        names = dump.property_names(current.id)
        if "aliases" in names:
            value = current.propvals[names.index("aliases")].value
            if value is not CLEAR:
                if isinstance(value, list) and all(isinstance(v, str) for v in value):
                    return list(value)
                report.dropped.append(f"#{obj.id}.aliases: {value!r} is not a list of strings")
                return []
        current = dump.object(current.parent)
    return []


def _ordered(dump: Textdump, container: DumpObject, found: list[int]) -> list[int]:
    """``found`` (what says it is in ``container``) in the order of the file's links."""
    order: list[int] = []
    seen: set[int] = set()
    item = dump.object(container.contents)
    while item is not None and item.id not in seen and item.id in found:
        seen.add(item.id)
        order.append(item.id)
        item = dump.object(item.next)
    return order + [oid for oid in found if oid not in seen]


def _check_hierarchy(world: World) -> None:
    for oid in world.objects:
        for step in ("parent", "location"):
            here, hops = oid, 0
            while here != NOTHING:
                here = getattr(world.objects[here], step)
                hops += 1
                if hops > len(world.objects):
                    raise ValueError(f"#{oid}'s {step} chain loops")


def _give_slots(world: World, slots: dict[int, dict[str, tuple[int, str]]]) -> None:
    """Step 4: ancestors first, so that a descendant sees what they were given."""
    depth: dict[int, int] = {}
    for oid in world.objects:
        depth[oid] = sum(1 for _ in world.ancestors(oid))
    for oid in sorted(world.objects, key=depth.__getitem__):
        obj = world.objects[oid]
        given: dict[str, PropDef] = {}
        for name, (owner, perms) in slots[oid].items():
            if name in obj.propdefs:
                continue
            found = world.prop_slot(oid, name)
            if found is None:
                continue
            slot = found[1]
            if (slot.owner, slot.perms) != (owner, perms):
                given[name] = PropDef(owner, perms)
        if given:
            obj.propinfo = given  # a new dict: an empty one is the shared, unchangeable one

"""Property and verb access with LambdaMOO's rules: what ``obj.name`` and ``obj:name()`` find.

- Built-in properties (``name owner location contents programmer wizard r w f``, and
  ``aliases``, which this server keeps as an object field) are read by anyone; who may set
  them is ``set_builtin``'s table. LambdaMOO has no ``.parent``: ``parent()`` is a builtin.
- Other properties are found on the object or inherited (names ignore case), and need the
  ``r`` / ``w`` bit, or the programmer to own the property on that object (with ``c``, that
  is the object's owner), or to be a wizard; else ``E_PERM``.
- A verb called from code needs the ``x`` bit: a matching verb without it is passed over,
  as LambdaMOO's ``db_find_callable_verb`` does (``VerbCache.callable``).
"""

from __future__ import annotations

from typing import Any

from moo.commands.parser import canonical_prep
from moo.errors import WorldError
from moo.lang.errors import MooRaise
from moo.lang.values import is_true
from moo.world.model import Flag, MooObject, PropDef, VerbDef
from moo.world.permissions import is_wizard as is_wizard  # the one rule, re-exported
from moo.world.permissions import slot_allows
from moo.world.values import Err, ObjRef
from moo.world.verbnames import verbname_matches
from moo.world.world import World

_FLAG_PROPS: dict[str, Flag] = {
    "programmer": Flag.PROGRAMMER,
    "wizard": Flag.WIZARD,
    "r": Flag.READ,
    "w": Flag.WRITE,
    "f": Flag.FERTILE,
}
BUILTIN_NAMES = frozenset({"name", "owner", "location", "contents", "aliases", *_FLAG_PROPS})


def is_programmer(world: World, who: int) -> bool:
    obj = world.objects.get(who)
    return obj is not None and bool(obj.flags & (Flag.PROGRAMMER | Flag.WIZARD))


def controls(world: World, who: int, oid: int) -> bool:
    """LambdaMOO's ``controls``: ``who`` is a wizard or owns ``oid``."""
    obj = world.objects.get(oid)
    return is_wizard(world, who) or (obj is not None and obj.owner == who)


def object_allows(world: World, who: int, oid: int, flag: Flag) -> bool:
    """``db_object_allows``: the owner, a wizard, or anyone when the object has ``flag``."""
    obj = world.objects[oid]
    return obj.owner == who or bool(obj.flags & flag) or is_wizard(world, who)


def valid_object(world: World, value: Any) -> MooObject:
    """The object ``value`` names: ``E_TYPE`` for a non-object, ``E_INVARG`` for a bad one."""
    if value.__class__ is not ObjRef:
        raise MooRaise(Err.E_TYPE)
    obj = world.objects.get(value.id)
    if obj is None:
        raise MooRaise(Err.E_INVARG)
    return obj


def find_property(world: World, oid: int, name: str) -> tuple[str, MooObject, PropDef] | None:
    """(the stored key, definer, the property's owner and permissions on ``oid``: its
    slot, ``World.prop_slot``) of property ``name`` (any case) for ``oid``."""
    found = world.prop_slot(oid, name)
    if found is not None:
        return name, found[0], found[1]
    lowered = name.lower()  # the rare case: the name typed in another case
    for obj in world.ancestors(oid):
        for key in obj.propdefs:
            if key.lower() == lowered:
                slot = world.prop_slot(oid, key)
                assert slot is not None
                return key, slot[0], slot[1]
    return None


def property_allows(world: World, who: int, slot: PropDef, bit: str) -> bool:
    """``slot`` (``find_property``'s: the property on the object) allows ``who`` to ``bit``."""
    return slot_allows(world, who, slot, bit)


def get_builtin(obj: MooObject, name: str) -> Any:
    if name == "name":
        return obj.name
    if name == "owner":
        return ObjRef(obj.owner)
    if name == "location":
        return ObjRef(obj.location)
    if name == "contents":
        return [ObjRef(item) for item in obj.contents]
    if name == "aliases":
        return list(obj.aliases)
    return 1 if obj.flags & _FLAG_PROPS[name] else 0


def set_builtin(world: World, progr: int, obj: MooObject, name: str, value: Any) -> None:
    """Assign a built-in property, by LambdaMOO's rules:

    ``name``: a string; the owner or a wizard (a player's name: wizards only).
    ``owner``, ``programmer``, ``wizard``: wizards only (the player flag is
    ``set_player_flag``'s: LambdaMOO has no ``.player``).
    ``r``, ``w``, ``f``, ``aliases`` (a list of strings): the owner or a wizard.
    ``location``, ``contents``: never (``move()`` changes them): ``E_PERM``.
    A true ``$server_options.protect_<name>`` makes any of them wizards-only.
    """
    wizard = is_wizard(world, progr)
    owner_or_wizard = wizard or obj.owner == progr
    if not wizard and _protected(world, name):
        raise MooRaise(Err.E_PERM)
    try:
        if name == "name":
            if value.__class__ is not str:
                raise MooRaise(Err.E_TYPE)
            if not owner_or_wizard or (obj.is_player and not wizard):
                raise MooRaise(Err.E_PERM)
            world.rename(obj.id, value)
        elif name == "owner":
            if value.__class__ is not ObjRef:
                raise MooRaise(Err.E_TYPE)
            if not wizard:
                raise MooRaise(Err.E_PERM)
            world.set_owner(obj.id, value.id)
        elif name == "aliases":
            if value.__class__ is not list or any(v.__class__ is not str for v in value):
                raise MooRaise(Err.E_TYPE)
            if not owner_or_wizard:
                raise MooRaise(Err.E_PERM)
            world.set_aliases(obj.id, value)
        elif name in ("location", "contents"):
            raise MooRaise(Err.E_PERM)
        else:
            flag = _FLAG_PROPS[name]
            allowed = owner_or_wizard if name in ("r", "w", "f") else wizard
            if not allowed:
                raise MooRaise(Err.E_PERM)
            flags = obj.flags | int(flag) if is_true(value) else obj.flags & ~int(flag)
            world.set_flags(obj.id, flags)
    except WorldError as error:
        raise MooRaise(Err.E_INVARG, str(error)) from None


def _protected(world: World, name: str) -> bool:
    """LambdaMOO's ``bi_prop_protected``: ``$server_options.protect_<name>`` is true."""
    options = world.sys("server_options")
    return options in world.objects and is_true(world.prop(options, f"protect_{name}", 0))


def definer_of(world: World, oid: int, verb: VerbDef) -> int:
    """The ancestor of ``oid`` (or ``oid``) whose verb list holds this very record."""
    for obj in world.ancestors(oid):
        if any(v is verb for v in obj.verbs):
            return obj.id
    return oid


def verb_index(obj: MooObject, desc: Any) -> int:
    """The index (from 0) of the verb ``desc`` names on ``obj`` itself: a name (``E_VERBNF``
    when none matches) or a 1-based number (``E_INVARG`` below 1, ``E_VERBNF`` past the
    last verb, as LambdaMOO: LambdaCore loops ``verb_info(o, i)`` until ``E_VERBNF``)."""
    if desc.__class__ is int:
        if desc < 1:
            raise MooRaise(Err.E_INVARG)
        if desc > len(obj.verbs):
            raise MooRaise(Err.E_VERBNF)
        return int(desc) - 1
    if desc.__class__ is not str:
        raise MooRaise(Err.E_TYPE)
    for index, verb in enumerate(obj.verbs):
        if verbname_matches(verb.names, desc):
            return index
    raise MooRaise(Err.E_VERBNF)


def verb_allows(world: World, who: int, verb: VerbDef, bit: str) -> bool:
    return bit in verb.perms or verb.owner == who or is_wizard(world, who)


def parse_verb_info(world: World, info: Any) -> tuple[int, str, str]:
    """``{owner, perms, names}`` as (owner, perms, names); ``E_TYPE`` / ``E_INVARG``."""
    if info.__class__ is not list:
        raise MooRaise(Err.E_TYPE)
    if len(info) != 3:
        raise MooRaise(Err.E_INVARG)
    owner, perms, names = info
    if owner.__class__ is not ObjRef or perms.__class__ is not str or names.__class__ is not str:
        raise MooRaise(Err.E_TYPE)
    perms = perms.lower()
    if owner.id not in world.objects or any(c not in "rwxd" for c in perms) or not names.strip():
        raise MooRaise(Err.E_INVARG)
    return owner.id, "".join(c for c in "rwxd" if c in perms), " ".join(names.split())


def parse_verb_args(args: Any) -> tuple[str, str, str]:
    """``{dobj, prep, iobj}`` as (dobj, canonical prep, iobj); ``E_TYPE`` / ``E_INVARG``."""
    if args.__class__ is not list:
        raise MooRaise(Err.E_TYPE)
    if len(args) != 3:
        raise MooRaise(Err.E_INVARG)
    if any(a.__class__ is not str for a in args):
        raise MooRaise(Err.E_TYPE)
    dobj, prep, iobj = (a.lower() for a in args)
    canonical = canonical_prep(prep)
    if dobj not in ARG_SPECS or iobj not in ARG_SPECS or canonical is None:
        raise MooRaise(Err.E_INVARG)
    return dobj, canonical, iobj


ARG_SPECS = ("this", "none", "any")

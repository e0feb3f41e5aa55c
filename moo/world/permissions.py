"""MOO's permission model, as checks that verbs call before changing the world.

Objects have owners; players carry the player / builder / programmer / wizard
flags; properties carry r/w/c. Wizards may do anything. Each ``require_*``
raises ``PermissionDenied`` with the line the player sees.
"""

from __future__ import annotations

from moo.errors import PermissionDenied
from moo.world.model import Flag, PropDef
from moo.world.world import World


def is_wizard(world: World, who: int) -> bool:
    obj = world.objects.get(who)
    return obj is not None and bool(obj.flags & Flag.WIZARD)


def is_builder(world: World, who: int) -> bool:
    obj = world.objects.get(who)
    return obj is not None and bool(obj.flags & (Flag.BUILDER | Flag.WIZARD))


def controls(world: World, who: int, oid: int) -> bool:
    """True when ``who`` owns ``oid`` or is a wizard."""
    obj = world.objects.get(oid)
    return is_wizard(world, who) or (obj is not None and obj.owner == who)


def require_wizard(world: World, who: int, command: str) -> None:
    if not is_wizard(world, who):
        raise PermissionDenied(f"Sorry, {command} is for wizards only.")


def require_builder(world: World, who: int, command: str) -> None:
    if not is_builder(world, who):
        raise PermissionDenied(
            f"Sorry, {command} is for builders only. Ask a wizard for @make-builder."
        )


def require_control(world: World, who: int, oid: int, action: str) -> None:
    if not controls(world, who, oid):
        raise PermissionDenied(
            f"You don't own {world.objects[oid].name} (#{oid}), so you can't {action}."
        )


def slot_allows(world: World, who: int, slot: PropDef, perm: str) -> bool:
    """MOO's property rule, for MOO and Python verbs alike: anyone when the property has
    ``perm`` ('r' or 'w') on the object (its slot, ``World.prop_slot``: with 'c', the
    object's owner where inherited), else its owner there, and wizards."""
    return perm in slot.perms or slot.owner == who or is_wizard(world, who)


def _prop_allows(world: World, who: int, oid: int, name: str, perm: str) -> bool:
    found = world.prop_slot(oid, name)
    return found is not None and slot_allows(world, who, found[1], perm)


def can_read_prop(world: World, who: int, oid: int, name: str) -> bool:
    return _prop_allows(world, who, oid, name, "r")


def can_write_prop(world: World, who: int, oid: int, name: str) -> bool:
    return _prop_allows(world, who, oid, name, "w")


def require_write_prop(world: World, who: int, oid: int, name: str) -> None:
    if not can_write_prop(world, who, oid, name):
        obj = world.objects[oid]
        raise PermissionDenied(f"You may not change {name} on {obj.name} (#{oid}).")

"""Helpers the verb modules share: names, message checks, moving a player with messages."""

from __future__ import annotations

from moo.commands.context import VerbContext
from moo.errors import VerbError
from moo.world.values import AMBIGUOUS, FAILED_MATCH, NOTHING, ref_id
from moo.world.world import World


def name_of(world: World, oid: int) -> str:
    obj = world.objects.get(oid)
    return obj.name if obj is not None else "nothing"


def title(world: World, oid: int) -> str:
    """``name (#id)``, how building commands refer to objects."""
    return f"{name_of(world, oid)} (#{oid})"


def require_match(oid: int, text: str, *, what: str = "") -> int:
    """Turn a failed or ambiguous match into the player's error line."""
    if oid == AMBIGUOUS:
        raise VerbError(f'I don\'t know which "{text}" you mean.')
    if oid in (FAILED_MATCH, NOTHING):
        if not text:
            raise VerbError(f"{what or 'What'}?")
        raise VerbError(f'I see no "{text}" here.')
    return oid


def exits_of(world: World, room: int) -> list[int]:
    exits = world.prop(room, "exits", [])
    if not isinstance(exits, list):
        return []
    return [ref_id(e) for e in exits if world.valid(ref_id(e))]


def describe_room(ctx: VerbContext, room: int) -> list[str]:
    """Name, description, things, players (awake, then asleep) and exits of a room."""
    world, viewer = ctx.world, ctx.player
    obj = world.get(room)
    lines = [obj.name]
    description = world.prop(room, "description", "")
    if description:
        lines.append(str(description))
    things: list[str] = []
    awake: list[str] = []
    asleep: list[str] = []
    for oid in obj.contents:
        if oid == viewer:
            continue
        other = world.objects[oid]
        if not other.is_player:
            things.append(other.name)
        else:
            (awake if ctx.host.is_connected(oid) else asleep).append(other.name)
    if things:
        lines.append("You see " + join_names(things) + " here.")
    if awake:
        lines.append(join_names(awake) + (" is here." if len(awake) == 1 else " are here."))
    if asleep:
        lines.append(join_names(asleep) + (" is" if len(asleep) == 1 else " are") + " asleep here.")
    exits = [world.objects[e].name for e in exits_of(world, room)]
    if exits:
        lines.append("Exits: " + ", ".join(exits) + ".")
    return lines


def join_names(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def substitute(template: str, ctx: VerbContext, *, exit_name: str = "") -> str:
    return template.replace("%n", name_of(ctx.world, ctx.player)).replace("%e", exit_name)


def travel(ctx: VerbContext, dest: int, *, leave: str, arrive: str) -> None:
    """Move the player to ``dest`` with messages to both rooms, then show the new room."""
    world = ctx.world
    if not world.valid(dest):
        raise VerbError("That leads nowhere.")
    origin = ctx.location
    world.move(ctx.player, dest)
    if leave:
        ctx.announce(leave, room=origin, exclude=(ctx.player,))
    if arrive:
        ctx.announce(arrive, room=dest, exclude=(ctx.player,))
    for line in describe_room(ctx, dest):
        ctx.tell(line)

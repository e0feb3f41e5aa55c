"""Looking around: ``look``, ``look <thing>``, ``inventory``."""

from __future__ import annotations

from moo.commands.context import VerbContext
from moo.commands.parser import Command
from moo.world.verb_registry import verb
from verbs.common import describe_room, join_names, require_match


@verb("$room", "l*ook", "any any any")
def look(ctx: VerbContext, cmd: Command) -> None:
    world = ctx.world
    target_text = cmd.dobjstr or cmd.iobjstr
    if not target_text:
        for line in describe_room(ctx, ctx.this):
            ctx.tell(line)
        return
    target = require_match(ctx.dobj if cmd.dobjstr else ctx.iobj, target_text)
    obj = world.get(target)
    ctx.tell(obj.name)
    ctx.tell(str(world.prop(target, "description", "")) or "You see nothing special.")
    carried = [world.objects[o].name for o in obj.contents]
    if carried and obj.is_player:
        ctx.tell(f"{obj.name} is carrying {join_names(carried)}.")
    elif carried and target != ctx.location:
        ctx.tell(f"It contains {join_names(carried)}.")


@verb("$player", "i inv*entory", "none none none")
def inventory(ctx: VerbContext, cmd: Command) -> None:
    carried = [ctx.world.objects[o].name for o in ctx.world.get(ctx.player).contents]
    if not carried:
        ctx.tell("You are empty-handed.")
        return
    ctx.tell("You are carrying:")
    for name in carried:
        ctx.tell(f"  {name}")

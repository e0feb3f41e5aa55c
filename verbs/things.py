"""Handling things: ``get``/``take``, ``drop``, ``give <thing> to <player>``."""

from __future__ import annotations

from moo.commands.context import VerbContext
from moo.commands.parser import Command
from moo.errors import VerbError
from moo.world.verb_registry import verb
from verbs.common import name_of, require_match


@verb("$thing", "g*et t*ake", "this none none")
def get(ctx: VerbContext, cmd: Command) -> None:
    world, thing = ctx.world, ctx.this
    here = world.get(thing).location
    if here == ctx.player:
        raise VerbError("You already have that.")
    if here != ctx.location:
        raise VerbError("You can't reach that from here.")
    world.move(thing, ctx.player)
    ctx.tell(f"You take {name_of(world, thing)}.")
    ctx.announce(f"{name_of(world, ctx.player)} takes {name_of(world, thing)}.")


@verb("$thing", "d*rop th*row", "this none none")
def drop(ctx: VerbContext, cmd: Command) -> None:
    world, thing = ctx.world, ctx.this
    if world.get(thing).location != ctx.player:
        raise VerbError("You don't have that.")
    world.move(thing, ctx.location)
    ctx.tell(f"You drop {name_of(world, thing)}.")
    ctx.announce(f"{name_of(world, ctx.player)} drops {name_of(world, thing)}.")


@verb("$thing", "give hand", "this at/to any")
def give(ctx: VerbContext, cmd: Command) -> None:
    world, thing = ctx.world, ctx.this
    receiver = require_match(ctx.iobj, cmd.iobjstr, what="Give it to whom")
    if world.get(thing).location != ctx.player:
        raise VerbError("You don't have that.")
    if not world.objects[receiver].is_player:
        raise VerbError(f"{name_of(world, receiver)} can't take things.")
    if receiver == ctx.player:
        raise VerbError("You already have that.")
    if world.objects[receiver].location != ctx.location:
        raise VerbError(f"{name_of(world, receiver)} is not here.")
    world.move(thing, receiver)
    me, it, them = name_of(world, ctx.player), name_of(world, thing), name_of(world, receiver)
    ctx.tell(f"You give {it} to {them}.")
    ctx.tell_to(receiver, f"{me} gives you {it}.")
    ctx.announce(f"{me} gives {it} to {them}.", exclude=(receiver,))

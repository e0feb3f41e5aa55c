"""Getting around: exits by name (``north``, ``n``), ``go <exit>``, ``home``, ``@go <place>``.

Exits are objects listed in a room's ``exits`` property; a command no other
verb claims reaches the room's ``huh`` verb, which looks for an exit of that
name (as LambdaCore does).
"""

from __future__ import annotations

from moo.commands.context import VerbContext
from moo.commands.match import match_among, match_object
from moo.commands.parser import Command
from moo.errors import VerbError
from moo.world.values import AMBIGUOUS, FAILED_MATCH, NOTHING, ref_id
from moo.world.verb_registry import verb
from verbs.common import exits_of, name_of, substitute, travel


def use_exit(ctx: VerbContext, exit_id: int) -> None:
    world = ctx.world
    dest = ref_id(world.prop(exit_id, "dest"))
    exit_name = name_of(world, exit_id)
    leave = substitute(str(world.prop(exit_id, "leave_msg", "")), ctx, exit_name=exit_name)
    arrive = substitute(str(world.prop(exit_id, "arrive_msg", "")), ctx, exit_name=exit_name)
    travel(ctx, dest, leave=leave, arrive=arrive)


def find_exit(ctx: VerbContext, word: str) -> int:
    return match_among(ctx.world, word, exits_of(ctx.world, ctx.location))


@verb("$room", "huh", "any any any")
def huh(ctx: VerbContext, cmd: Command) -> None:
    if not cmd.argstr:
        exit_id = find_exit(ctx, cmd.verb)
        if exit_id >= 0:
            use_exit(ctx, exit_id)
            return
    if cmd.dobjstr and ctx.dobj == FAILED_MATCH:
        raise VerbError(f'I see no "{cmd.dobjstr}" here.')
    if cmd.dobjstr and ctx.dobj == AMBIGUOUS:
        raise VerbError(f'I don\'t know which "{cmd.dobjstr}" you mean.')
    raise VerbError("I don't understand that.")


@verb("$room", "go walk", "any any any")
def go(ctx: VerbContext, cmd: Command) -> None:
    if not cmd.argstr:
        raise VerbError("Go where?")
    exit_id = find_exit(ctx, cmd.argstr)
    if exit_id == AMBIGUOUS:
        raise VerbError(f'I don\'t know which way "{cmd.argstr}" you mean.')
    if exit_id < 0:
        raise VerbError(f'You can\'t go "{cmd.argstr}" from here.')
    use_exit(ctx, exit_id)


@verb("$player", "home", "none none none")
def home(ctx: VerbContext, cmd: Command) -> None:
    world = ctx.world
    dest = ref_id(world.prop(ctx.player, "home"))
    if not world.valid(dest):
        dest = world.sys("first_room")
    if ctx.location == dest:
        raise VerbError("You are already at home.")
    me = name_of(world, ctx.player)
    ctx.tell("You click your heels three times.")
    travel(ctx, dest, leave=f"{me} goes home.", arrive=f"{me} arrives home.")


@verb("$player", "@go @join", "any none none")
def teleport(ctx: VerbContext, cmd: Command) -> None:
    """``@go <room>``: by #number or $name; ``@join <player>``: go where a player is."""
    world = ctx.world
    if not cmd.dobjstr:
        raise VerbError(f"Usage: {cmd.verb} <place>")
    if cmd.verb.lower() == "@join":
        from moo.commands.match import match_player

        who = match_player(world, cmd.dobjstr)
        if who < 0:
            raise VerbError(f'There is no player named "{cmd.dobjstr}".')
        dest = world.objects[who].location
    else:
        dest = match_object(world, ctx.player, cmd.dobjstr)
    if dest < 0 or dest == NOTHING or not world.is_a(dest, world.sys("room")):
        raise VerbError(f'"{cmd.dobjstr}" is not a room I can take you to (try #number).')
    if dest == ctx.location:
        raise VerbError("You are already there.")
    me = name_of(world, ctx.player)
    travel(ctx, dest, leave=f"{me} disappears.", arrive=f"{me} appears.")

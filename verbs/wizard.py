"""Wizard commands: @make-builder, @make-wizard, @shutdown, @boot, @digest.

Each refuses anyone who is not a wizard with one clear line.
"""

from __future__ import annotations

from moo.commands.context import VerbContext
from moo.commands.match import match_player
from moo.commands.parser import Command
from moo.errors import VerbError
from moo.world.model import Flag
from moo.world.permissions import require_wizard
from moo.world.verb_registry import verb
from verbs.common import title


def target_player(ctx: VerbContext, cmd: Command, usage: str) -> int:
    name = cmd.args[0] if cmd.args else ""
    if not name:
        raise VerbError(f"Usage: {usage}")
    who = match_player(ctx.world, name)
    if who < 0:
        raise VerbError(f'There is no player named "{name}".')
    return who


def grant(ctx: VerbContext, cmd: Command, command: str, flags: int, role: str, told: str) -> None:
    """A wizard's ``<command> <player>``: add ``flags`` to the player, tell both."""
    require_wizard(ctx.world, ctx.player, command)
    who = target_player(ctx, cmd, f"{command} <player>")
    ctx.world.set_flags(who, ctx.world.objects[who].flags | flags)
    ctx.tell(f"{title(ctx.world, who)} is now a {role}.")
    ctx.tell_to(who, told)


@verb("$player", "@make-builder", "any any any")
def make_builder(ctx: VerbContext, cmd: Command) -> None:
    grant(
        ctx,
        cmd,
        "@make-builder",
        Flag.BUILDER,
        "builder",
        "You are now a builder: see 'help building'.",
    )


@verb("$player", "@make-wizard", "any any any")
def make_wizard(ctx: VerbContext, cmd: Command) -> None:
    flags = Flag.WIZARD | Flag.PROGRAMMER | Flag.BUILDER
    grant(ctx, cmd, "@make-wizard", flags, "wizard", "You are now a wizard.")


@verb("$player", "@shutdown", "any any any")
def shutdown(ctx: VerbContext, cmd: Command) -> None:
    require_wizard(ctx.world, ctx.player, "@shutdown")
    ctx.tell("Shutting down.")
    ctx.flush()
    ctx.host.request_shutdown(cmd.argstr, ctx.player)


@verb("$player", "@boot", "any any any")
def boot(ctx: VerbContext, cmd: Command) -> None:
    require_wizard(ctx.world, ctx.player, "@boot")
    who = target_player(ctx, cmd, "@boot <player> [reason]")
    if who == ctx.player:
        raise VerbError("Use @quit to leave.")
    reason = cmd.argstr.partition(" ")[2].strip()
    if not ctx.host.boot(who, reason):
        raise VerbError(f"{title(ctx.world, who)} is not connected.")
    ctx.tell(f"{title(ctx.world, who)} has been booted.")


@verb("$player", "@digest", "any any any")
def digest(ctx: VerbContext, cmd: Command) -> None:
    """The world's digest (like Redis DEBUG DIGEST); it hashes every object, so it takes a
    moment in a large world."""
    require_wizard(ctx.world, ctx.player, "@digest")
    ctx.tell(f"World digest: {ctx.world.digest()} ({len(ctx.world.objects)} objects)")

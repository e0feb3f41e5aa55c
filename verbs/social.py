"""Talking: ``say`` ("), ``emote`` (:), ``page``, ``who``."""

from __future__ import annotations

from moo.commands.context import VerbContext
from moo.commands.match import match_player
from moo.commands.parser import Command
from moo.errors import VerbError
from moo.who import who_lines
from moo.world.verb_registry import verb
from verbs.common import name_of


@verb("$room", "say", "any any any")
def say(ctx: VerbContext, cmd: Command) -> None:
    text = cmd.argstr
    if not text:
        raise VerbError("Say what?")
    ctx.tell(f'You say, "{text}"')
    ctx.announce(f'{name_of(ctx.world, ctx.player)} says, "{text}"')


@verb("$room", "emote", "any any any")
def emote(ctx: VerbContext, cmd: Command) -> None:
    text = cmd.argstr
    if not text:
        raise VerbError("Emote what?")
    joiner = "" if text[0] in ",'" else " "
    ctx.announce_all(f"{name_of(ctx.world, ctx.player)}{joiner}{text}")


@verb("$player", "page", "any any any")
def page(ctx: VerbContext, cmd: Command) -> None:
    name, _, message = cmd.argstr.partition(" ")
    message = message.strip()
    if message.lower().startswith("with "):
        message = message[5:].strip()
    if not name or not message:
        raise VerbError("Usage: page <player> <message>")
    target = match_player(ctx.world, name)
    if target < 0:
        raise VerbError(f'There is no player named "{name}".')
    if not ctx.host.is_connected(target):
        raise VerbError(f"{name_of(ctx.world, target)} is not currently logged in.")
    ctx.tell_to(target, f'{name_of(ctx.world, ctx.player)} pages, "{message}"')
    ctx.tell(f'You page {name_of(ctx.world, target)}, "{message}"')


@verb("$player", "who", "any any any")
def who(ctx: VerbContext, cmd: Command) -> None:
    for line in who_lines(ctx.world, ctx.host.connected_players()):
        ctx.tell(line)

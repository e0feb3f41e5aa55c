"""The $checkpointer's commands: @checkpoint, @notify-checkpoint, @status-checkpoint,
@list-checkpoints (shared/seeds/moo-checkpointer.txt made real).

Scheduling and cancelling are for wizards and players on $checkpointer.trusted;
trusting, distrusting and the alternate message are for wizards; anyone may see the
status and history and choose their own notifications.
"""

from __future__ import annotations

from datetime import UTC, datetime

from moo.checkpoint import report, state
from moo.checkpoint.messages import history
from moo.checkpoint.service import Checkpointer
from moo.checkpoint.timeparse import format_duration, parse_duration, parse_when
from moo.commands.context import VerbContext
from moo.commands.match import match_player
from moo.commands.parser import Command
from moo.errors import PermissionDenied, VerbError
from moo.world.permissions import is_wizard, require_wizard
from moo.world.values import ObjRef, ref_id
from moo.world.verb_registry import verb
from verbs.common import name_of

USAGE = (
    "Usage: @checkpoint [now | cancel | in <interval> | at <time> | interval <interval> | "
    "failed-interval <interval> | trust <player> | distrust <player> | message [<text>]]"
)


def checkpointer(ctx: VerbContext) -> Checkpointer:
    service = ctx.host.checkpointer
    if service is None:
        raise VerbError("This server has no checkpointer running.")
    assert isinstance(service, Checkpointer)
    return service


def require_trusted(ctx: VerbContext, cp: Checkpointer) -> None:
    if not (is_wizard(ctx.world, ctx.player) or ctx.player in cp.settings.trusted):
        raise PermissionDenied(
            "Sorry, only wizards and players the checkpointer trusts may schedule checkpoints."
        )


@verb("$player", "@checkpoint @dump", "any any any")
def checkpoint(ctx: VerbContext, cmd: Command) -> None:
    cp = checkpointer(ctx)
    action, _, rest = cmd.argstr.strip().partition(" ")
    action, rest = action.lower(), rest.strip()
    me = name_of(ctx.world, ctx.player)
    if action in ("trust", "distrust", "message"):
        require_wizard(ctx.world, ctx.player, f"@checkpoint {action}")
        ctx.tell(manage(ctx, cp, action, rest))
        return
    require_trusted(ctx, cp)
    now = cp.clock()
    if action == "":
        ctx.tell(cp.request_at(now + 60, me))
    elif action == "now":
        ctx.tell(cp.start_checkpoint("manual", me, ctx.player))
    elif action == "cancel":
        ctx.tell(cp.cancel())
    elif action == "in":
        ctx.tell(cp.request_at(now + parse_duration(rest).total_seconds(), me))
    elif action == "at":
        moment = parse_when(rest, now=datetime.fromtimestamp(now, UTC), tz=cp.tz)
        ctx.tell(cp.request_at(moment.timestamp(), me))
    elif action in ("interval", "failed-interval"):
        seconds = parse_duration(rest).total_seconds()
        if seconds < 10:
            raise VerbError("An interval must be at least 10 seconds.")
        ctx.tell(cp.set_interval(seconds, failed=action == "failed-interval"))
    else:
        raise VerbError(USAGE)


def manage(ctx: VerbContext, cp: Checkpointer, action: str, rest: str) -> str:
    world = ctx.world
    if action == "message":
        world.set_prop(cp.oid, "message", rest)
        if rest:
            return f'Players with checkpoint notification off will see: "{rest}"'
        return "Players with checkpoint notification off will see nothing."
    who = match_player(world, rest)
    if who < 0:
        raise VerbError(f'There is no player named "{rest}".')
    trusted = [v for v in world.prop(cp.oid, "trusted", []) if ref_id(v) != who]
    if action == "trust":
        world.set_prop(cp.oid, "trusted", [*trusted, ObjRef(who)])
        ctx.tell_to(who, "The checkpointer now trusts you: see 'help checkpoints'.")
        return f"{name_of(world, who)} may now schedule and cancel checkpoints."
    world.set_prop(cp.oid, "trusted", trusted)
    return f"{name_of(world, who)} may no longer schedule or cancel checkpoints."


@verb("$player", "@notify-checkpoint @notify-ch*eckpoint", "any any any")
def notify_checkpoint(ctx: VerbContext, cmd: Command) -> None:
    cp = checkpointer(ctx)
    action, _, rest = cmd.argstr.strip().partition(" ")
    action, rest = action.lower(), rest.strip()
    world = ctx.world
    if action == "on":
        world.set_prop(ctx.player, "checkpoint_notify", 1)
    elif action == "off":
        world.set_prop(ctx.player, "checkpoint_notify", 0)
    elif action == "warn":
        lead = (
            0.0
            if rest.lower() in ("off", "none")
            else (parse_duration(rest).total_seconds() if rest else 60.0)
        )
        world.set_prop(ctx.player, "checkpoint_warn", int(lead))
        cp.reschedule_warning(ctx.player)
    elif action:
        raise VerbError("Usage: @notify-checkpoint [on | off | warn [<time> | off]]")
    settings = state.player_notify(world, ctx.player)
    ctx.tell(
        f"Checkpoint notification is {'on' if settings.on else 'off'}"
        + (" (you see the short message instead)." if not settings.on else ".")
    )
    if settings.warn:
        ctx.tell(f"You are warned {format_duration(settings.warn)} before each checkpoint.")
    else:
        ctx.tell("You get no advance warning of checkpoints.")


@verb("$player", "@status-checkpoint @status-ch*eckpoint", "any any any")
def status_checkpoint(ctx: VerbContext, cmd: Command) -> None:
    for line in report.status_lines(checkpointer(ctx)):
        ctx.tell(line)


@verb("$player", "@list-checkpoints @list-ch*eckpoints", "any any any")
def list_checkpoints(ctx: VerbContext, cmd: Command) -> None:
    cp = checkpointer(ctx)
    text = cmd.argstr.strip() or "10"
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise VerbError("Usage: @list-checkpoints [<how many, 1 to 100>]")
    for line in history(cp.history, cp.tz, int(text)):
        ctx.tell(line)

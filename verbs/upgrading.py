"""``@hot-upgrade [to <command line> | rollback | status]``: wizards only.

The verb checks who asks and the syntax; moo/upgrade/triggers.py does the rest and
tells the wizard how it goes (the upgrade runs after this command has finished).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from moo.commands.context import VerbContext
from moo.commands.parser import Command
from moo.errors import MooError, VerbError
from moo.upgrade import triggers
from moo.upgrade.handoff import Upgrader
from moo.world.permissions import require_wizard
from moo.world.verb_registry import verb
from verbs.common import title


@verb("$player", "@hot-upgrade", "any any any")
def hot_upgrade(ctx: VerbContext, cmd: Command) -> None:
    require_wizard(ctx.world, ctx.player, "@hot-upgrade")
    upgrader = ctx.host.upgrader
    if not isinstance(upgrader, Upgrader):
        raise VerbError(
            "This server cannot upgrade itself here: it is not running under moo serve, or it"
            " runs behind a front (moo serve --front), where restarting the engine runs the"
            " code now on disk without disconnecting anyone."
        )
    player = ctx.player
    host = ctx.host
    # Status is answered inside this command's output; an upgrade is told as it goes.
    tell: Callable[[str], None] = (
        ctx.tell if cmd.argstr.strip() == "status" else functools.partial(host.notify, player)
    )
    try:
        triggers.player_request(upgrader, player, title(ctx.world, player), cmd.argstr, tell)
    except MooError as error:
        raise VerbError(str(error)) from None

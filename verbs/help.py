"""``help`` and ``help <topic>``: topics live on ``$help.topics`` (from core_db/help.yaml)."""

from __future__ import annotations

from moo.commands.context import VerbContext
from moo.commands.parser import Command
from moo.errors import VerbError
from moo.world.verb_registry import verb


@verb("$player", "help ?", "any any any")
def help_(ctx: VerbContext, cmd: Command) -> None:
    topics = ctx.world.prop(ctx.world.sys("help"), "topics", {})
    if not isinstance(topics, dict):
        topics = {}
    wanted = cmd.argstr.strip().lower() or "summary"
    text = topics.get(wanted)
    if text is None:
        matches = sorted(t for t in topics if t.startswith(wanted))
        if len(matches) == 1:
            text = topics[matches[0]]
        elif matches:
            raise VerbError(f"Which topic: {', '.join(matches)}?")
        else:
            raise VerbError(f'Sorry, there is no help on "{wanted}". Type "help" for the topics.')
    for line in str(text).rstrip("\n").split("\n"):
        ctx.tell(line)

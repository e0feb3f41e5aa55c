"""The three ways to ask for a hot upgrade, all ending in ``Upgrader.start``:

- in game: ``@hot-upgrade [to <command line> | rollback | status]`` (wizards only; the
  verb in verbs/upgrading.py checks that and calls ``player_request``);
- ``moo upgrade [--to CMD] [--rollback] [--status]`` through the admin socket
  (``admin_handler``; the socket is the owner's only, mode 0600);
- ``SIGUSR2`` (``signal_request``), as nginx and gunicorn do: the default command line.

A command line is split like a shell would split it and run directly, never through a
shell; the replacement gets ``serve``, this server's own serve arguments and
``--upgrade-fd N`` appended.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections.abc import Callable
from typing import Any

from moo.errors import MooError
from moo.upgrade.handoff import Request, Upgrader, parse_command

log = logging.getLogger(__name__)

USAGE = "Usage: @hot-upgrade [to <command line> | rollback | status]"


async def _command_for(upgrader: Upgrader, to: str | None, rollback: bool) -> list[str]:
    """Raises MooError (bad command line, nothing to roll back to)."""
    if rollback:
        return await upgrader.rollback_command()
    if to:
        return parse_command(to)
    return list(upgrader.program)


async def admin_handler(
    upgrader: Upgrader, request: dict[str, Any], reply: Callable[[dict[str, Any]], None]
) -> None:
    """One ``moo upgrade`` request on the admin socket."""
    op = request.get("op")
    if op == "status":
        for line in await asyncio.to_thread(upgrader.status_lines):
            reply({"text": line})
        reply({"done": True, "ok": True})
        return
    if op != "upgrade":
        reply({"done": True, "ok": False, "text": f"Unknown request {op!r}."})
        return
    to = request.get("to")
    try:
        command = await _command_for(
            upgrader, to if isinstance(to, str) else None, bool(request.get("rollback"))
        )
    except MooError as error:
        reply({"done": True, "ok": False, "text": str(error)})
        return
    refusal = upgrader.start(
        Request(command, "moo upgrade", None, lambda text: reply({"text": text}))
    )
    if refusal is not None:
        reply({"done": True, "ok": False, "text": refusal})
        return
    result = await upgrader.wait()
    reply({"done": True, "ok": result.ok})


def signal_request(upgrader: Upgrader) -> None:
    """SIGUSR2: upgrade to the default command line; the outcome goes to the log."""
    refusal = upgrader.start(Request(list(upgrader.program), "SIGUSR2", None, log.info))
    if refusal is not None:
        log.warning("SIGUSR2: %s", refusal)


def player_request(
    upgrader: Upgrader, player: int, who: str, argstr: str, tell: Callable[[str], None]
) -> None:
    """``@hot-upgrade ARGS`` from a wizard (already checked). Raises MooError for bad usage;
    everything after that is told to the wizard as it happens."""
    words = argstr.strip()
    first, _, rest = words.partition(" ")
    if first == "status" and not rest:
        for line in upgrader.status_lines():
            tell(line)
        return
    if first == "rollback" and not rest:
        action = "rollback"
    elif first == "to" and rest.strip():
        if not upgrader.config.upgrade.allow_in_game_command_lines:
            raise MooError(
                "Upgrading to another program is not allowed from inside the game here"
                " (upgrade.allow_in_game_command_lines); use moo upgrade --to on the host."
            )
        parse_command(rest)  # a command line that does not parse is refused now
        action = "to"
    elif not words:
        action = "default"
    else:
        raise MooError(USAGE)

    async def go() -> None:
        try:
            command = await _command_for(
                upgrader, rest if action == "to" else None, action == "rollback"
            )
        except MooError as error:
            tell(str(error))
            return
        refusal = upgrader.start(Request(command, who, player, tell))
        if refusal is not None:
            tell(refusal)
        else:
            tell(f"Upgrading to: {shlex.join(command)}")

    task = asyncio.get_running_loop().create_task(go())
    _background.add(task)
    task.add_done_callback(_background.discard)


_background: set[asyncio.Task[None]] = set()

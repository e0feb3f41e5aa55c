"""Command -> verb call, by MOO's rules.

1. ``parse(line)`` gives the verb word and the object strings.
2. The direct and indirect object strings are matched (``match.py``).
3. The verb is looked for on the player, the room, the direct object and the
   indirect object, in that order, each with its ancestors; a verb matches when
   its names match the word and its argument spec matches the command.
4. Nothing found: the room's ``huh`` verb is called (exits live there) and
   says "I don't understand that." when it cannot help either.
5. A Python verb runs inside one world transaction; its output is delivered after
   commit. ``VerbError``s become one line to the player; any other exception is
   logged with its traceback, undone, and reported as an internal error.
6. An out-of-band line (``#$#...``, moo/serving/line_input.py) skips 1-4: it calls
   ``#0:do_out_of_band_command`` with the line's words (``run_out_of_band``).
7. A MOO verb (``impl == "moo"``) runs as a task of the world's ``Scheduler``
   (``moo/lang/scheduler.py``): its own transaction, LambdaMOO's tracebacks, and what it
   changed before an error stays, as in LambdaMOO.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from moo.commands.context import Host, VerbContext
from moo.commands.match import match_object
from moo.commands.parser import Command, parse, words
from moo.errors import MooError
from moo.world.model import MOO_IMPL, VerbDef
from moo.world.verb_registry import resolve
from moo.world.verbnames import verbname_matches
from moo.world.world import World

if TYPE_CHECKING:
    from moo.lang.scheduler import Scheduler

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Something went wrong running that command; nothing was changed. (It was logged.)"
OUT_OF_BAND_VERB = "do_out_of_band_command"
SYSTEM_OBJECT = 0


def _argspec_matches(verb: VerbDef, target: int, cmd: Command, dobj: int, iobj: int) -> bool:
    if verb.dobj == "this" and dobj != target:
        return False
    if verb.dobj == "none" and cmd.dobjstr:
        return False
    if verb.iobj == "this" and iobj != target:
        return False
    if verb.iobj == "none" and cmd.iobjstr:
        return False
    if verb.prep == "none":
        return cmd.prep is None
    if verb.prep == "any":
        return True
    return verb.prep == cmd.prep


def find_verb(world: World, oid: int, word: str) -> Iterator[tuple[int, VerbDef]]:
    """Verbs named ``word`` on ``oid`` and its ancestors, nearest first, with their definer."""
    for obj in world.ancestors(oid):
        for verb in obj.verbs:
            if verbname_matches(verb.names, word):
                yield obj.id, verb


class VerbCache:
    """``find_verb`` results by (object, word), dropped whenever verbs or parents change.

    Measured: the uncached walk over every verb of the player's and room's ancestors was
    ~10% of the server's CPU under the command benchmark.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self._epoch = -1
        self._found: dict[tuple[int, str], tuple[tuple[int, VerbDef], ...]] = {}

    def lookup(self, oid: int, word: str) -> tuple[tuple[int, VerbDef], ...]:
        if self._epoch != self.world.verbs_epoch:
            self._found.clear()
            self._epoch = self.world.verbs_epoch
        key = (oid, word.lower())
        found = self._found.get(key)
        if found is None:
            found = tuple(find_verb(self.world, oid, word))
            if len(self._found) > 100_000:
                self._found.clear()
            self._found[key] = found
        return found

    def callable(self, oid: int, name: str) -> tuple[int, VerbDef] | None:
        """The first verb named ``name`` with the ``x`` bit on ``oid`` or an ancestor, and
        its definer: what MOO code and the server's own calls run (LambdaMOO's
        ``db_find_callable_verb``); a matching verb without ``x`` is passed over."""
        for definer, verb in self.lookup(oid, name):
            if "x" in verb.perms:
                return definer, verb
        return None


def find_command_verb(
    verbs: VerbCache, player: int, cmd: Command, dobj: int, iobj: int
) -> tuple[int, VerbDef] | None:
    """The (target, verb) a command runs, searching player, room, dobj, iobj."""
    objects = verbs.world.objects
    location = objects[player].location
    for target in (player, location, dobj, iobj):
        if target < 0 or target not in objects:
            continue
        for _definer, verb in verbs.lookup(target, cmd.verb):
            if _argspec_matches(verb, target, cmd, dobj, iobj):
                return target, verb
    return None


class Dispatcher:
    """Runs players' command lines against the world."""

    def __init__(self, world: World, host: Host, scheduler: Scheduler | None = None) -> None:
        self.world = world
        self._scheduler = scheduler  # the server's (None: a world without MOO verbs)
        self.host = host
        self.verbs = VerbCache(world)

    @property
    def scheduler(self) -> Scheduler:
        """The world's MOO task scheduler, the server's. RuntimeError if none was given."""
        if self._scheduler is None:
            raise RuntimeError("this dispatcher was made without a MOO task scheduler")
        return self._scheduler

    def run(self, player: int, line: str) -> None:
        """Run one command line typed by ``player``. Never raises."""
        cmd = parse(line)
        if not cmd.verb or player not in self.world.objects:
            return
        world = self.world
        dobj = match_object(world, player, cmd.dobjstr)
        iobj = match_object(world, player, cmd.iobjstr)
        found = find_command_verb(self.verbs, player, cmd, dobj, iobj)
        if found is None:
            location = world.objects[player].location
            candidates = self.verbs.lookup(location, "huh") if location >= 0 else ()
            huh = candidates[0] if candidates else None
            if huh is None:
                self.host.notify(player, "I don't understand that.")
                return
            found = (location, huh[1])
        target, verb = found
        ctx = VerbContext(world, self.host, player, target, cmd.verb, dobj, iobj)
        self.call(ctx, verb, cmd)

    def run_verb(self, oid: int, name: str) -> bool:
        """Run verb ``name`` of ``oid`` with no command line (server hooks such as
        ``prepare_checkpoint``); its output goes to the object's owner. False if none."""
        if oid not in self.world.objects:
            return False
        found = self.verbs.lookup(oid, name)
        if not found:
            return False
        owner = self.world.objects[oid].owner
        ctx = VerbContext(self.world, self.host, owner, oid, name)
        self.call(ctx, found[0][1], parse(name))
        return True

    def run_out_of_band(self, player: int, line: str) -> None:
        """LambdaMOO's out-of-band command: ``#0:do_out_of_band_command`` runs for
        ``player`` with the line's words as ``args`` and the whole line as ``argstr``: no
        parsing, no object matching, no ``huh``. Nothing happens when #0 has no callable
        (``x``) verb of that name, as in LambdaMOO. Never raises."""
        found = self.verbs.callable(SYSTEM_OBJECT, OUT_OF_BAND_VERB)
        if found is None or player not in self.world.objects:
            return
        verb = found[1]
        args = words(line)
        cmd = Command(line, OUT_OF_BAND_VERB, line, args, "", "", None, "")
        self.call(VerbContext(self.world, self.host, player, SYSTEM_OBJECT, cmd.verb), verb, cmd)

    def run_server_verb(self, player: int, name: str, args: list[object]) -> bool:
        """LambdaMOO's server task: ``#0:name(@args)`` for ``player`` if #0 has a callable
        verb of that name (``user_connected`` ...); its traceback, if any, is logged.
        False if there is none. Never raises."""
        found = self.verbs.callable(SYSTEM_OBJECT, name)
        if found is None:
            return False
        from moo.lang.entries import run_server_verb

        outcome = run_server_verb(self.scheduler, player, SYSTEM_OBJECT, found[1], name, args)
        if outcome.status in ("error", "aborted", "compile_error", "failed"):
            log.warning("#0:%s for #%d: %s", name, player, " / ".join(outcome.lines()))
        return True

    def call(self, ctx: VerbContext, verb: VerbDef, cmd: Command) -> None:
        """Run ``verb`` in a transaction; deliver its output only if it commits."""
        if verb.impl == MOO_IMPL:
            from moo.lang.entries import run_command_verb

            run_command_verb(self.scheduler, ctx.player, ctx.this, verb, cmd, ctx.dobj, ctx.iobj)
            return
        try:
            function = resolve(verb.impl)
        except MooError as error:
            self.host.notify(ctx.player, str(error))
            return
        run_committed(ctx, lambda: function(ctx, cmd), f"verb {verb.impl} on {cmd.text!r}")


def run_committed(ctx: VerbContext, action: Callable[[], object], what: str) -> bool:
    """Run ``action`` in one world transaction; deliver ``ctx``'s output only if it commits.

    A MooError undoes it and becomes one line to the player; anything else is logged with
    ``what`` and its traceback, undone, and reported as an internal error. Returns whether
    it committed. Never raises. (Typed commands and lines a verb asked for both run here.)
    """
    try:
        with ctx.world.transaction():
            action()
            if ctx.host.output_is_held:  # into the group the commit seals (engine/link.py)
                ctx.host.commit_output_begins()
                ctx.flush()
    except MooError as error:
        ctx.discard()
        ctx.host.notify(ctx.player, str(error))
        return False
    except Exception:
        ctx.discard()
        log.exception("%s failed (player #%d)", what, ctx.player)
        ctx.host.notify(ctx.player, INTERNAL_ERROR)
        return False
    ctx.flush()
    return True

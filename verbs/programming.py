"""Programming the world from inside it, with LambdaCore's command names:

``;<code>`` (eval), ``@verb``, ``@program``, ``@edit`` (a small line editor), ``@list``,
``@show``, ``@rmverb``, ``@args``, ``@chmod``, ``@rmproperty``, and ``@programmer`` (wizards
grant the programmer bit).

Each command is a thin skin over the builtin that does the work (``add_verb``,
``set_verb_code``, ``verb_code``, ``delete_verb``, ``set_verb_args``, ``set_verb_info``,
``set_property_info``, ``delete_property``), run with the player's permissions: LambdaMOO's
rules (who may add, read, change or delete a verb or property) live once, in the builtins,
and a refusal reads as LambdaCore's would. Only programmers use these; verb programs are
world data, journaled, checkpointed and carried through hot upgrades like any property.
"""

from __future__ import annotations

from typing import Any

from moo.commands.context import VerbContext
from moo.commands.match import match_object
from moo.commands.parser import Command, canonical_prep
from moo.errors import PermissionDenied, VerbError
from moo.lang import access
from moo.lang.entries import run_builtin, run_eval
from moo.lang.scheduler import Outcome, Scheduler
from moo.lang.values import toliteral
from moo.world.model import Flag
from moo.world.values import Err, ObjRef
from moo.world.verb_registry import verb
from verbs.common import require_match, title
from verbs.wizard import grant

ARG_WORDS = ("this", "none", "any")

REFUSALS = {
    Err.E_PERM: "Permission denied.",
    Err.E_VERBNF: "That object does not define that verb.",
    Err.E_PROPNF: "That object does not define that property.",
    Err.E_INVARG: "Invalid argument.",
    Err.E_INVIND: "That object does not exist.",
    Err.E_TYPE: "Type mismatch.",
}


def require_programmer(ctx: VerbContext, command: str) -> None:
    if not access.is_programmer(ctx.world, ctx.player):
        raise PermissionDenied(f"{command}: only programmers may do that (a wizard can grant it).")


def moo_tasks(ctx: VerbContext) -> Scheduler:
    """The server's MOO task scheduler (``Host`` types it ``object``: see its note)."""
    scheduler = ctx.host.moo_tasks
    assert isinstance(scheduler, Scheduler)
    return scheduler


def call(ctx: VerbContext, name: str, *args: Any) -> Any:
    """Builtin ``name(@args)`` with the player's permissions; its refusal as a VerbError."""
    outcome: Outcome = run_builtin(moo_tasks(ctx), ctx.player, name, list(args))
    if outcome.status != "done":
        code = outcome.value
        raise VerbError(REFUSALS.get(code, f"{name}() failed: {code!r}"))
    return outcome.value


def find_object(ctx: VerbContext, text: str) -> int:
    return require_match(match_object(ctx.world, ctx.player, text.strip()), text.strip())


def verb_ref(ctx: VerbContext, text: str, usage: str) -> tuple[ObjRef, str]:
    """``"#12:look"`` / ``"me:foo"`` / ``"$room:say"`` -> (object, verb name)."""
    obj_text, colon, name = text.partition(":")
    if not colon or not obj_text.strip() or not name.strip():
        raise VerbError(f"Usage: {usage}")
    return ObjRef(find_object(ctx, obj_text)), name.strip()


def prop_ref(ctx: VerbContext, text: str, usage: str) -> tuple[ObjRef, str]:
    obj_text, dot, name = text.partition(".")
    if not dot or not obj_text.strip() or not name.strip():
        raise VerbError(f"Usage: {usage}")
    return ObjRef(find_object(ctx, obj_text)), name.strip()


def parse_argspec(words: list[str], usage: str) -> list[str]:
    """``["this", "in", "front", "of", "any"]`` -> [dobj, prep, iobj]; missing parts: none."""
    dobj = words[0].lower() if words else "none"
    prep_text = " ".join(words[1:-1]) if len(words) >= 3 else " ".join(words[1:2]) or "none"
    iobj = words[-1].lower() if len(words) >= 3 else "none"
    prep = canonical_prep(prep_text)
    if dobj not in ARG_WORDS or iobj not in ARG_WORDS:
        raise VerbError(f"Object specs are this, none or any. Usage: {usage}")
    if prep is None:
        raise VerbError(f'"{prep_text}" is not a preposition.')
    return [dobj, prep, iobj]


@verb("$player", "eval", "any any any")
def eval_(ctx: VerbContext, cmd: Command) -> None:
    """``;<expression>`` or ``;<statements>``: run as the player, show the value."""
    require_programmer(ctx, "eval")
    outcome = run_eval(moo_tasks(ctx), ctx.player, cmd.argstr, output=ctx.tell_to)
    for line in outcome.lines():
        ctx.tell(line)


@verb("$player", "@verb", "any any any")
def add_verb(ctx: VerbContext, cmd: Command) -> None:
    usage = "@verb <object>:<name(s)> [<dobj> [<prep> [<iobj>]]]"
    require_programmer(ctx, "@verb")
    if not cmd.args:
        raise VerbError(f"Usage: {usage}")
    obj, names = verb_ref(ctx, cmd.args[0], usage)
    spec = parse_argspec(list(cmd.args[1:]), usage)
    # LambdaCore's default: readable; callable from code when the spec is "this none this".
    perms = "rxd" if spec == ["this", "none", "this"] else "rd"
    call(ctx, "add_verb", obj, [ObjRef(ctx.player), perms, names], spec)
    count = len(ctx.world.objects[obj.id].verbs)
    ctx.tell(f"Verb added ({count}): {obj!r}:{names} {' '.join(spec)}.")


@verb("$player", "@program", "any any any")
def program(ctx: VerbContext, cmd: Command) -> None:
    """``@program obj:verb``, then the program's lines, then a lone ``.`` (``@abort`` quits)."""
    usage = "@program <object>:<verb>"
    require_programmer(ctx, "@program")
    if len(cmd.args) != 1:
        raise VerbError(f"Usage: {usage}")
    obj, name = verb_ref(ctx, cmd.args[0], usage)
    names = call(ctx, "verb_info", obj, name)[2]
    target = ctx.world.objects[obj.id]
    if not access.verb_allows(
        ctx.world, ctx.player, target.verbs[access.verb_index(target, name)], "w"
    ):
        raise VerbError(REFUSALS[Err.E_PERM])  # refused now, not after all the typing
    ctx.tell(f"Now programming {obj!r}:{names}.  Type the code; a lone . ends, @abort aborts.")
    lines: list[str] = []

    def take(line_ctx: VerbContext, line: str) -> bool:
        if line.strip() == "@abort":
            line_ctx.tell("@program aborted; the verb is unchanged.")
            return True
        if line.strip() != ".":
            lines.append(line)
            return False
        errors = call(line_ctx, "set_verb_code", obj, name, lines)
        for error in errors:
            line_ctx.tell(str(error))
        line_ctx.tell(
            f"{len(errors)} error(s).  Verb not programmed."
            if errors
            else "0 errors.  Verb programmed."
        )
        return True

    ctx.host.read_lines(ctx.player, take)


@verb("$player", "@list", "any any any")
def list_verb(ctx: VerbContext, cmd: Command) -> None:
    usage = "@list <object>:<verb>"
    require_programmer(ctx, "@list")
    if len(cmd.args) != 1:
        raise VerbError(f"Usage: {usage}")
    obj, name = verb_ref(ctx, cmd.args[0], usage)
    owner, perms, names = call(ctx, "verb_info", obj, name)
    dobj, prep, iobj = call(ctx, "verb_args", obj, name)
    ctx.tell(f"{obj!r}:{names}   {dobj} {prep} {iobj}   ({perms}, owner {owner!r})")
    code = call(ctx, "verb_code", obj, name)
    if not code:
        ctx.tell("(This verb has no program.)")
    for number, line in enumerate(code, start=1):
        ctx.tell(f"{number:3}:  {line}")


@verb("$player", "@rmverb", "any any any")
def remove_verb(ctx: VerbContext, cmd: Command) -> None:
    usage = "@rmverb <object>:<verb>"
    require_programmer(ctx, "@rmverb")
    if len(cmd.args) != 1:
        raise VerbError(f"Usage: {usage}")
    obj, name = verb_ref(ctx, cmd.args[0], usage)
    names = call(ctx, "verb_info", obj, name)[2]
    call(ctx, "delete_verb", obj, name)
    ctx.tell(f"Verb {obj!r}:{names} removed.")


@verb("$player", "@args", "any any any")
def set_args(ctx: VerbContext, cmd: Command) -> None:
    usage = "@args <object>:<verb> <dobj> [<prep> [<iobj>]]"
    require_programmer(ctx, "@args")
    if len(cmd.args) < 2:
        raise VerbError(f"Usage: {usage}")
    obj, name = verb_ref(ctx, cmd.args[0], usage)
    spec = parse_argspec(list(cmd.args[1:]), usage)
    call(ctx, "set_verb_args", obj, name, spec)
    ctx.tell(f"{obj!r}:{name} now takes {' '.join(spec)}.")


@verb("$player", "@chmod", "any any any")
def chmod(ctx: VerbContext, cmd: Command) -> None:
    usage = "@chmod <object>:<verb> <perms>   or   @chmod <object>.<property> <perms>"
    require_programmer(ctx, "@chmod")
    if len(cmd.args) not in (1, 2):
        raise VerbError(f"Usage: {usage}")
    target, perms = cmd.args[0], (cmd.args[1].lower() if len(cmd.args) == 2 else "")
    if ":" in target:
        obj, name = verb_ref(ctx, target, usage)
        owner, _, names = call(ctx, "verb_info", obj, name)
        call(ctx, "set_verb_info", obj, name, [owner, perms, names])
        ctx.tell(f"{obj!r}:{names} permissions set to {perms or '(none)'}.")
        return
    obj, prop = prop_ref(ctx, target, usage)
    owner = call(ctx, "property_info", obj, prop)[0]
    call(ctx, "set_property_info", obj, prop, [owner, perms])
    ctx.tell(f"{obj!r}.{prop} permissions set to {perms or '(none)'}.")


@verb("$player", "@rmproperty @rmprop*", "any any any")
def remove_property(ctx: VerbContext, cmd: Command) -> None:
    usage = "@rmproperty <object>.<property>"
    require_programmer(ctx, "@rmproperty")
    if len(cmd.args) != 1:
        raise VerbError(f"Usage: {usage}")
    obj, prop = prop_ref(ctx, cmd.args[0], usage)
    call(ctx, "delete_property", obj, prop)
    ctx.tell(f"Property {obj!r}.{prop} removed.")


@verb("$player", "@programmer", "any any any")
def make_programmer(ctx: VerbContext, cmd: Command) -> None:
    told = "You are now a programmer: see 'help programming'."
    grant(ctx, cmd, "@programmer", Flag.PROGRAMMER, "programmer", told)


@verb("$player", "@show", "any any any")
def show(ctx: VerbContext, cmd: Command) -> None:
    """An object's own verbs and properties with their owners, permissions and specs."""
    require_programmer(ctx, "@show")
    if not cmd.argstr.strip():
        raise VerbError("Usage: @show <object>")
    world = ctx.world
    oid = find_object(ctx, cmd.argstr)
    obj = world.objects[oid]
    flags = " ".join(f.name.lower() for f in Flag if f.name and obj.flags & f) or "(none)"
    ctx.tell(f"Object #{oid}: {obj.name}")
    ctx.tell(f"  Parent: #{obj.parent}   Owner: {title(world, obj.owner)}   Flags: {flags}")
    ctx.tell(f"  Location: #{obj.location}")
    ctx.tell("  Verb definitions:" if obj.verbs else "  No verbs defined.")
    for number, verb_def in enumerate(obj.verbs, start=1):
        kind = "MOO" if verb_def.impl == "moo" else "Python"
        ctx.tell(
            f"    {number}. {verb_def.names}   {verb_def.dobj} {verb_def.prep} {verb_def.iobj}"
            f"   {verb_def.perms or '-'}   owner #{verb_def.owner}   ({kind})"
        )
    ctx.tell("  Property definitions:" if obj.propdefs else "  No properties defined.")
    for name, propdef in obj.propdefs.items():
        readable = "r" in propdef.perms or access.controls(world, ctx.player, oid)
        value = toliteral(obj.props.get(name, 0)) if readable else "(not readable)"
        if len(value) > 120:
            value = value[:117] + "..."
        ctx.tell(f"    .{name}   {propdef.perms or '-'}   owner #{propdef.owner}: {value}")


EDIT_HELP = (
    "Editor commands: list | ins <n> <text> | app <text> | del <n> | rep <n> <text> | save | abort"
)


@verb("$player", "@edit", "any any any")
def edit(ctx: VerbContext, cmd: Command) -> None:
    """A small line editor over a verb's program; ``save`` programs it, ``abort`` leaves."""
    usage = "@edit <object>:<verb>"
    require_programmer(ctx, "@edit")
    if len(cmd.args) != 1:
        raise VerbError(f"Usage: {usage}")
    obj, name = verb_ref(ctx, cmd.args[0], usage)
    lines: list[str] = [str(line) for line in call(ctx, "verb_code", obj, name)]
    ctx.tell(f"Editing {obj!r}:{name} ({len(lines)} lines). {EDIT_HELP}")

    def number(text: str, upto: int) -> int:
        if not text.isdigit() or not 1 <= int(text) <= upto:
            raise VerbError(f"A line number from 1 to {upto}, please.")
        return int(text)

    def take(line_ctx: VerbContext, line: str) -> bool:
        try:
            return edit_line(line_ctx, line)
        except VerbError as error:  # a bad line number or a refusal: the editor stays open
            line_ctx.tell(str(error))
            return False

    def edit_line(line_ctx: VerbContext, line: str) -> bool:
        word, _, rest = line.strip().partition(" ")
        word = word.lower()
        if word == "list":
            for n, text in enumerate(lines, start=1):
                line_ctx.tell(f"{n:3}:  {text}")
        elif word == "app":
            lines.append(rest)
            line_ctx.tell(f"Line {len(lines)} added.")
        elif word in ("ins", "rep", "del"):
            where, _, text = rest.partition(" ")
            upto = len(lines) + (1 if word == "ins" else 0)
            n = number(where, upto)
            if word == "ins":
                lines.insert(n - 1, text)
            elif word == "rep":
                lines[n - 1] = text
            else:
                del lines[n - 1]
            done = {"ins": "inserted", "rep": "replaced", "del": "deleted"}[word]
            line_ctx.tell(f"Line {n} {done}.")
        elif word == "save":
            errors = call(line_ctx, "set_verb_code", obj, name, lines)
            for error in errors:
                line_ctx.tell(str(error))
            if errors:
                line_ctx.tell(f"{len(errors)} error(s); not saved. Fix them, or abort.")
                return False
            line_ctx.tell("Saved: verb programmed.")
            return True
        elif word == "abort":
            line_ctx.tell("Edit abandoned; the verb is unchanged.")
            return True
        else:
            line_ctx.tell(EDIT_HELP)
        return False

    ctx.host.read_lines(ctx.player, take)

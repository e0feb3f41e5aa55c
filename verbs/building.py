"""Building, for builders and wizards: @create, @dig, @describe, @rename, @recycle,
@property, @examine, @move.

Each command checks the builder flag first (a clear refusal for plain
players), then ownership of what it changes, then changes the world only
through its mutation methods.
"""

from __future__ import annotations

import re

from moo.commands.context import VerbContext
from moo.commands.match import match_object
from moo.commands.parser import Command
from moo.errors import VerbError, WorldError
from moo.world.literals import format_value, parse_value
from moo.world.model import Flag
from moo.world.permissions import (
    can_read_prop,
    controls,
    is_wizard,
    require_builder,
    require_control,
    require_write_prop,
)
from moo.world.values import NOTHING, ObjRef, is_objref, ref_id
from moo.world.verb_registry import verb
from verbs.common import exits_of, name_of, require_match, title

NAMED = re.compile(r"\s+(?:named|called)\s+", re.IGNORECASE)


def split_names(text: str) -> tuple[str, list[str]]:
    """``"lamp,lantern,light"`` -> ("lamp", ["lantern", "light"])."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise VerbError("A name cannot be empty.")
    return parts[0], parts[1:]


def find(ctx: VerbContext, text: str) -> int:
    return require_match(match_object(ctx.world, ctx.player, text), text)


def split_on(argstr: str, word: str) -> tuple[str, str] | None:
    """Split ``argstr`` at the first `` <word> `` (case-insensitive)."""
    parts = re.split(rf"\s+{word}\s+", argstr, maxsplit=1, flags=re.IGNORECASE)
    return (parts[0].strip(), parts[1].strip()) if len(parts) == 2 else None


@verb("$player", "@create", "any any any")
def create(ctx: VerbContext, cmd: Command) -> None:
    require_builder(ctx.world, ctx.player, "@create")
    parts = NAMED.split(cmd.argstr, maxsplit=1)
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        raise VerbError("Usage: @create <parent> named <name>[,<alias>...]")
    world = ctx.world
    parent = find(ctx, parts[0].strip())
    parent_obj = world.objects[parent]
    if not (parent_obj.flags & Flag.FERTILE or controls(world, ctx.player, parent)):
        raise VerbError(f"{title(world, parent)} is not fertile: you can't make children of it.")
    if parent_obj.is_player:
        raise VerbError("Players can only be made with 'create' on the welcome screen.")
    name, aliases = split_names(parts[1])
    oid = world.create(parent, ctx.player, name, aliases=aliases, location=ctx.player)
    ctx.tell(f"You now have {title(world, oid)}, a kind of {title(world, parent)}.")


@verb("$player", "@dig", "any any any")
def dig(ctx: VerbContext, cmd: Command) -> None:
    """``@dig <room name>`` or ``@dig <exit>[|<return exit>] to <room name or #n>``."""
    require_builder(ctx.world, ctx.player, "@dig")
    world = ctx.world
    split = split_on(cmd.argstr, "to")
    if split is None:
        if not cmd.argstr:
            raise VerbError("Usage: @dig <room name>  or  @dig <exit>[|<back exit>] to <room>")
        room = world.create(world.sys("room"), ctx.player, cmd.argstr.strip())
        ctx.tell(f"{title(world, room)} created.")
        return
    exit_spec, where = split
    here = ctx.location
    if not world.valid(here):
        raise VerbError("You are nowhere; there is nothing to dig from.")
    require_control(world, ctx.player, here, "add exits here")
    if where.startswith("#"):
        dest = find(ctx, where)
        if not world.is_a(dest, world.sys("room")):
            raise VerbError(f"{title(world, dest)} is not a room.")
    else:
        dest = world.create(world.sys("room"), ctx.player, where)
        ctx.tell(f"{title(world, dest)} created.")
    out_spec, _, back_spec = exit_spec.partition("|")
    out = make_exit(ctx, out_spec, here, dest)
    ctx.tell(
        f"Exit {title(world, out)} leads from {name_of(world, here)} to {name_of(world, dest)}."
    )
    if back_spec.strip():
        if not controls(world, ctx.player, dest):
            raise VerbError(f"You don't own {title(world, dest)}, so you can't add an exit back.")
        back = make_exit(ctx, back_spec, dest, here)
        ctx.tell(f"Exit {title(world, back)} leads back to {name_of(world, here)}.")


def make_exit(ctx: VerbContext, spec: str, source: int, dest: int) -> int:
    """A new exit from ``source`` to ``dest``; refused when ``source`` already has an exit
    answering to one of its names (the new one could never be taken)."""
    world = ctx.world
    name, aliases = split_names(spec)
    wanted = {n.lower() for n in (name, *aliases)}
    for existing in exits_of(world, source):
        obj = world.objects[existing]
        clash = wanted & {n.lower() for n in (obj.name, *obj.aliases)}
        if clash:
            raise VerbError(
                f'{name_of(world, source)} already has an exit called "{sorted(clash)[0]}" '
                f"({title(world, existing)}); @recycle it or choose another name."
            )
    exit_id = world.create(world.sys("exit"), ctx.player, name, aliases=aliases)
    world.set_prop(exit_id, "source", ObjRef(source))
    world.set_prop(exit_id, "dest", ObjRef(dest))
    world.set_prop(source, "exits", [*world.prop(source, "exits", []), ObjRef(exit_id)])
    world.set_prop(dest, "entrances", [*world.prop(dest, "entrances", []), ObjRef(exit_id)])
    return exit_id


@verb("$player", "@desc*ribe", "any any any")
def describe(ctx: VerbContext, cmd: Command) -> None:
    require_builder_or_self(ctx, cmd, "@describe")
    split = split_on(cmd.argstr, "as")
    if split is None or not split[0]:
        raise VerbError("Usage: @describe <object> as <description>")
    target = find(ctx, split[0])
    require_write_prop(ctx.world, ctx.player, target, "description")
    ctx.world.set_prop(target, "description", split[1])
    ctx.tell(f"Description of {title(ctx.world, target)} set.")


def require_builder_or_self(ctx: VerbContext, cmd: Command, command: str) -> None:
    """Anyone may change their own player; everything else needs a builder."""
    if match_object(ctx.world, ctx.player, cmd.dobjstr) != ctx.player:
        require_builder(ctx.world, ctx.player, command)


@verb("$player", "@rename", "any any any")
def rename(ctx: VerbContext, cmd: Command) -> None:
    require_builder_or_self(ctx, cmd, "@rename")
    split = split_on(cmd.argstr, "to")
    if split is None or not split[0] or not split[1]:
        raise VerbError("Usage: @rename <object> to <new name>[,<alias>...]")
    world = ctx.world
    target = find(ctx, split[0])
    require_control(world, ctx.player, target, "rename it")
    name, aliases = split_names(split[1])
    if world.objects[target].is_player:
        from moo.accounts import name_problem

        problem = name_problem(name)
        if problem:
            raise VerbError(problem)
    old = title(world, target)
    try:
        world.rename(target, name)
    except WorldError as error:
        raise VerbError(str(error)) from None
    world.set_aliases(target, aliases)
    ctx.tell(
        f"{old} is now called {name}" + (f" (aliases: {', '.join(aliases)})." if aliases else ".")
    )


@verb("$player", "@recycle @destroy", "any any any")
def recycle(ctx: VerbContext, cmd: Command) -> None:
    require_builder(ctx.world, ctx.player, "@recycle")
    world = ctx.world
    target = find(ctx, cmd.dobjstr)
    require_control(world, ctx.player, target, "recycle it")
    obj = world.objects[target]
    if obj.is_player:
        raise VerbError("Players cannot be recycled.")
    core = {ref_id(v) for v in world.objects[0].props.values() if is_objref(v)}
    if target in core or target == 0:
        raise VerbError(f"{title(world, target)} is part of the core world and cannot be recycled.")
    if any(world.objects[o].is_player for o in obj.contents):
        raise VerbError(f"There are players in {title(world, target)}; they must leave first.")
    label = title(world, target)
    if world.is_a(target, world.sys("room")):
        for exit_id in [*world.prop(target, "exits", []), *world.prop(target, "entrances", [])]:
            remove_exit(ctx, ref_id(exit_id))
    elif world.is_a(target, world.sys("exit")):
        remove_exit(ctx, target)
        ctx.tell(f"{label} recycled.")
        return
    for item in list(obj.contents):
        world.move(item, ctx.player if world.objects[item].owner == ctx.player else NOTHING)
    world.recycle(target)
    ctx.tell(f"{label} recycled.")


def remove_exit(ctx: VerbContext, exit_id: int) -> None:
    """Recycle an exit and take it off its rooms' exit and entrance lists."""
    world = ctx.world
    if not world.valid(exit_id):
        return
    for room, prop in (
        (ref_id(world.prop(exit_id, "source")), "exits"),
        (ref_id(world.prop(exit_id, "dest")), "entrances"),
    ):
        if world.valid(room):
            kept = [e for e in world.prop(room, prop, []) if ref_id(e) != exit_id]
            world.set_prop(room, prop, kept)
    world.recycle(exit_id)


@verb("$player", "@prop*erty", "any any any")
def property_(ctx: VerbContext, cmd: Command) -> None:
    """``@property <object>.<name> [<value>]``: set it if it exists, else add it."""
    require_builder(ctx.world, ctx.player, "@property")
    world = ctx.world
    spec, _, value_text = cmd.argstr.partition(" ")
    objname, dot, propname = spec.rpartition(".")
    if not dot or not objname or not propname:
        raise VerbError("Usage: @property <object>.<name> [<value>]")
    target = find(ctx, objname)
    value = parse_value(value_text, objref=ObjRef) if value_text.strip() else ""
    shown = format_value(value, is_objref=is_objref)
    if world.has_prop(target, propname):
        require_write_prop(world, ctx.player, target, propname)
        world.set_prop(target, propname, value)
        ctx.tell(f"{name_of(world, target)}.{propname} set to {shown}.")
        return
    require_control(world, ctx.player, target, "add properties to it")
    try:
        world.define_prop(target, propname, value, ctx.player, "rc")
    except WorldError as error:
        raise VerbError(str(error)) from None
    ctx.tell(f"Property {name_of(world, target)}.{propname} added with value {shown}.")


@verb("$player", "@exam*ine", "any any any")
def examine(ctx: VerbContext, cmd: Command) -> None:
    require_builder(ctx.world, ctx.player, "@examine")
    world = ctx.world
    target = find(ctx, cmd.dobjstr)
    obj = world.objects[target]
    flags = [f.name.lower() for f in Flag if f.name and obj.flags & f]
    lines = [
        f"{title(world, target)}" + (f"  aliases: {', '.join(obj.aliases)}" if obj.aliases else ""),
        f"Owner: {title(world, obj.owner)}   Parent: {title(world, obj.parent)}"
        f"   Location: {title(world, obj.location)}",
        f"Flags: {' '.join(flags) or '(none)'}",
        str(world.prop(target, "description", "")) or "(no description)",
    ]
    if obj.contents:
        lines.append("Contents: " + ", ".join(title(world, o) for o in obj.contents))
    names = sorted({n for o in world.ancestors(target) for n in o.propdefs})
    shown = [n for n in names if can_read_prop(world, ctx.player, target, n)]
    if shown:
        lines.append("Properties:")
        for name in shown:
            value = format_value(world.prop(target, name), is_objref=is_objref)
            inherited = "" if name in obj.props else "  (inherited)"
            lines.append(
                f"  .{name} = {value if len(value) < 200 else value[:197] + '...'}{inherited}"
            )
    if controls(world, ctx.player, target) and obj.verbs:
        lines.append("Verbs:")
        for v in obj.verbs:
            lines.append(f"  {v.names}  {v.dobj} {v.prep} {v.iobj}  [{v.impl}]")
    for line in lines:
        ctx.tell(line)


@verb("$player", "@move @teleport", "any any any")
def move(ctx: VerbContext, cmd: Command) -> None:
    require_builder(ctx.world, ctx.player, "@move")
    world = ctx.world
    split = split_on(cmd.argstr, "to")
    if split is None:
        raise VerbError("Usage: @move <object> to <place>")
    target = find(ctx, split[0])
    dest = NOTHING if split[1].lower() in ("nowhere", "#-1") else find(ctx, split[1])
    if world.objects[target].is_player and target != ctx.player:
        if not is_wizard(world, ctx.player):
            raise VerbError("Only wizards may move other players.")
    else:
        require_control(world, ctx.player, target, "move it")
    try:
        world.move(target, dest)
    except WorldError as error:
        raise VerbError(str(error)) from None
    ctx.tell(
        f"{title(world, target)} moved to {title(world, dest) if dest != NOTHING else 'nowhere'}."
    )
    if target != ctx.player:
        ctx.tell_to(target, f"You have been moved to {name_of(world, dest)}.")

"""Build a world from ``moo/core_db/`` (the readable starting data) and bind the Python verbs.

The core world ships inside the package (found with ``importlib.resources``), so an installed
wheel builds the same world as a checkout. ``core_db/objects.yaml`` lists objects;
``core_db/help.yaml`` holds help
topics, stored on ``$help.topics``. Verbs come from ``verbs/*.py``
(``@verb`` decorators); ``sync_verbs`` adds the record of any code-defined verb
a world does not have yet, so new verbs shipped with new code appear in old
worlds too. Loading happens through the world's mutation methods, like any
other change.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

import msgspec
import yaml

from moo.commands.parser import canonical_prep
from moo.errors import WorldError
from moo.world.model import FLAG_NAMES, MOO_IMPL, VerbDef
from moo.world.values import NOTHING, ObjRef
from moo.world.verb_registry import (
    PY_SCHEME,
    Binding,
    bindings,
    current_identity,
    load_verb_modules,
)
from moo.world.world import World

ARG_WORDS = ("this", "none", "any")
DEFAULT_CORE_DIR = Path(str(importlib.resources.files("moo") / "core_db"))


class _CoreLoader(yaml.SafeLoader):
    """YAML with one extra tag: ``!ref N`` is an object reference."""


def _ref(loader: yaml.SafeLoader, node: yaml.Node) -> ObjRef:
    return ObjRef(int(loader.construct_scalar(node)))  # type: ignore[arg-type]


_CoreLoader.add_constructor("!ref", _ref)


def _read_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=_CoreLoader)


def _depth(by_id: dict[int, dict[str, Any]], oid: int) -> int:
    depth = 0
    while oid in by_id and by_id[oid].get("parent", NOTHING) != NOTHING:
        oid = by_id[oid]["parent"]
        depth += 1
        if depth > 1000:
            raise WorldError(f"core_db: parent loop at #{oid}")
    return depth


def build_core_world(core_dir: Path = DEFAULT_CORE_DIR) -> World:
    """A new world from the core data files, with every Python verb bound."""
    entries: list[dict[str, Any]] = _read_yaml(core_dir / "objects.yaml")
    by_id = {int(e["id"]): e for e in entries}
    world = World()
    with world.transaction():
        for oid, entry in sorted(by_id.items()):
            flags = 0
            for name in entry.get("flags", []):
                if name not in FLAG_NAMES:
                    raise WorldError(f"core_db: #{oid} has unknown flag {name!r}")
                flags |= FLAG_NAMES[name]
            world.create(
                NOTHING,
                int(entry["owner"]),
                str(entry["name"]),
                flags=flags,
                aliases=[str(a) for a in entry.get("aliases", [])],
                oid=oid,
            )
        for oid, entry in by_id.items():
            world.set_parent(oid, int(entry.get("parent", NOTHING)))
        ordered = sorted(by_id, key=lambda oid: (_depth(by_id, oid), oid))
        for oid in ordered:
            owner = int(by_id[oid]["owner"])
            for name, spec in (by_id[oid].get("define") or {}).items():
                if isinstance(spec, dict) and "value" in spec:
                    world.define_prop(oid, name, spec["value"], owner, str(spec.get("perms", "r")))
                else:
                    world.define_prop(oid, name, spec, owner, "r")
        for oid in ordered:
            for name, value in (by_id[oid].get("set") or {}).items():
                world.set_prop(oid, name, value)
        for oid, entry in sorted(by_id.items()):
            if "location" in entry:
                world.move(oid, int(entry["location"]))
        for oid, entry in sorted(by_id.items()):
            for spec in entry.get("verbs") or []:
                world.add_verb(oid, _moo_verb(oid, int(entry["owner"]), spec))
        help_file = core_dir / "help.yaml"
        if help_file.exists():
            topics = _read_yaml(help_file) or {}
            world.set_prop(world.sys("help"), "topics", {str(k): str(v) for k, v in topics.items()})
        sync_verbs(world)
    return world


def _moo_verb(oid: int, owner: int, spec: dict[str, Any]) -> VerbDef:
    """A verb written in the MOO language, from an object's ``verbs:`` list. The program is
    stored as text; it is compiled when first called."""
    args = str(spec.get("args", "none none none")).split()
    prep = canonical_prep(args[1]) if len(args) == 3 else None
    if prep is None or args[0] not in ARG_WORDS or args[2] not in ARG_WORDS:
        raise WorldError(f"core_db: #{oid} verb {spec.get('names')!r}: bad args {args!r}")
    return VerbDef(
        str(spec["names"]),
        owner,
        str(spec.get("perms", "rxd")),
        args[0],
        prep,
        args[2],
        MOO_IMPL,
        program=str(spec.get("program", "")),
    )


def resolve_target(world: World, target: str) -> int:
    if target.startswith("$"):
        return world.sys(target)
    if target.startswith("#"):
        return int(target[1:])
    raise WorldError(f"verb binding target {target!r} must be $name or #id")


def unbindable(world: World) -> list[str]:
    """Why a code-defined verb could not be bound in ``world`` (a missing target, an
    unknown preposition): one line each, empty when ``sync_verbs`` will succeed."""
    load_verb_modules()
    problems = []
    for binding in bindings():
        try:
            oid = resolve_target(world, binding.target)
        except (WorldError, ValueError) as error:
            problems.append(f"verb {binding.impl}: {error}")
            continue
        if not world.valid(oid):
            problems.append(f"verb {binding.impl}: target {binding.target} is not in this world")
        if canonical_prep(binding.prep) is None:
            problems.append(f"verb {binding.impl}: unknown preposition {binding.prep!r}")
    return problems


def sync_verbs(world: World) -> int:
    """Make the world's Python verb records agree with the code; return how many changed.

    On each object a binding targets: a record whose impl is an old code path
    (``py:verbs.social.say``) or that nothing resolves but whose names a binding has, takes
    that binding's identity; a record whose decorator changed (names, argument spec,
    permissions) takes the decorator's values (its owner stays); a binding the world lacks
    is added. Every change goes through the world's mutation methods (journaled).
    Raises WorldError (the first of ``unbindable``) and then changes nothing.
    """
    problems = unbindable(world)
    if problems:
        raise WorldError(problems[0])
    changed = 0
    wizard = 2 if world.valid(2) else NOTHING
    by_target: dict[int, list[Binding]] = {}
    for binding in bindings():
        by_target.setdefault(resolve_target(world, binding.target), []).append(binding)
    for oid, wanted in by_target.items():
        known = {binding.impl for binding in wanted}
        for index, record in enumerate(world.objects[oid].verbs):
            if not record.impl.startswith(PY_SCHEME) or record.impl in known:
                continue
            identity = current_identity(record.impl) or next(
                (b.impl for b in wanted if b.names == record.names), None
            )
            if identity is not None and not any(
                v.impl == identity for v in world.objects[oid].verbs
            ):
                world.set_verb(oid, index, msgspec.structs.replace(record, impl=identity))
                changed += 1
        for binding in wanted:
            prep = canonical_prep(binding.prep)
            assert prep is not None  # unbindable() checked it
            verbs = world.objects[oid].verbs
            found = next((i for i, v in enumerate(verbs) if v.impl == binding.impl), None)
            if found is None:
                world.add_verb(
                    oid,
                    VerbDef(
                        binding.names, wizard, binding.perms, binding.dobj, prep, binding.iobj,
                        binding.impl,
                    ),
                )  # fmt: skip
                changed += 1
                continue
            record = verbs[found]
            declared = (binding.names, binding.perms, binding.dobj, prep, binding.iobj)
            if (record.names, record.perms, record.dobj, record.prep, record.iobj) != declared:
                world.set_verb(
                    oid,
                    found,
                    msgspec.structs.replace(
                        record,
                        names=binding.names,
                        perms=binding.perms,
                        dobj=binding.dobj,
                        prep=prep,
                        iobj=binding.iobj,
                    ),
                )
                changed += 1
    return changed

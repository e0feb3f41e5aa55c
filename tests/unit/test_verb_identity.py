"""Python verbs have stable identities in the world, and loading brings a world's records in
line with the code: an old code-path impl, a moved module, a changed decorator."""

from __future__ import annotations

import msgspec
import pytest

from moo.world.loader import build_core_world, resolve_target, sync_verbs
from moo.world.model import VerbDef
from moo.world.verb_registry import bindings, resolve
from moo.world.world import World


@pytest.fixture
def world() -> World:
    return build_core_world()


def record(world: World, impl: str) -> tuple[int, int, VerbDef]:
    for binding in bindings():
        if binding.impl == impl:
            oid = resolve_target(world, binding.target)
            for index, verb in enumerate(world.objects[oid].verbs):
                if verb.impl == impl:
                    return oid, index, verb
    raise AssertionError(f"no record of {impl}")


def test_identities_name_the_object_and_verb_not_the_module(world: World) -> None:
    say = next(b for b in bindings() if b.names.split()[0] == "say")
    assert say.impl == "py:$room:say"
    assert resolve("py:$room:say") is resolve("py:verbs.social.say")  # the old spelling too


def test_a_world_written_with_code_paths_is_rewritten_to_identities(world: World) -> None:
    oid, index, verb = record(world, "py:$room:say")
    world.set_verb(oid, index, msgspec.structs.replace(verb, impl="py:verbs.social.say"))
    assert sync_verbs(world) == 1
    assert world.objects[oid].verbs[index].impl == "py:$room:say"
    assert sync_verbs(world) == 0


def test_a_verb_whose_module_moved_is_found_again_by_its_names(world: World) -> None:
    oid, index, verb = record(world, "py:$room:say")
    moved = msgspec.structs.replace(verb, impl="py:verbs.old_social.say")
    world.set_verb(oid, index, moved)
    with pytest.raises(Exception, match="not installed"):
        resolve(moved.impl)
    assert sync_verbs(world) == 1
    assert world.objects[oid].verbs[index].impl == "py:$room:say"
    assert world.objects[oid].verbs.count(world.objects[oid].verbs[index]) == 1


def test_a_changed_decorator_reaches_an_existing_world(world: World) -> None:
    oid, index, verb = record(world, "py:$room:say")
    stale = msgspec.structs.replace(verb, names="say", perms="r", dobj="none", owner=7)
    world.set_verb(oid, index, stale)
    assert sync_verbs(world) == 1
    now = world.objects[oid].verbs[index]
    binding = next(b for b in bindings() if b.impl == "py:$room:say")
    assert (now.names, now.perms, now.dobj) == (binding.names, binding.perms, binding.dobj)
    assert now.owner == 7  # who owns it is the world's business, not the code's


def test_a_missing_verb_is_added_and_moo_verbs_are_left_alone(world: World) -> None:
    oid, index, _ = record(world, "py:$room:say")
    world.set_verbs(oid, [v for i, v in enumerate(world.objects[oid].verbs) if i != index])
    before_moo = [v for v in world.objects[1].verbs if v.impl == "moo"]
    assert sync_verbs(world) == 1
    assert record(world, "py:$room:say")
    assert [v for v in world.objects[1].verbs if v.impl == "moo"] == before_moo

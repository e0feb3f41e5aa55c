"""Object matching in a big room goes through the world's name index; every change to the
room's contents or their names is seen at once (the index is dropped and rebuilt)."""

from __future__ import annotations

import pytest

from moo.commands.match import match_object
from moo.errors import WorldError
from moo.world.loader import build_core_world
from moo.world.names import INDEXED_FROM
from moo.world.values import AMBIGUOUS, FAILED_MATCH, NOTHING
from moo.world.world import World

ROOM = 10


@pytest.fixture
def world() -> World:
    return build_core_world()


def crowd(world: World, count: int = 30) -> tuple[int, list[int]]:
    """A player and ``count`` things in the first room (past the indexing threshold)."""
    player = world.create(world.sys("player"), NOTHING, "Looker")
    world.move(player, ROOM)
    things = []
    for i in range(count):
        thing = world.create(world.sys("thing"), player, f"pebble{i:03d}", aliases=[f"stone{i}"])
        world.move(thing, ROOM)
        things.append(thing)
    return player, things


def test_exact_prefix_ambiguous_and_failed_in_a_big_room(world: World) -> None:
    player, things = crowd(world)
    assert len(world.objects[ROOM].contents) >= INDEXED_FROM
    assert match_object(world, player, "pebble007") == things[7]
    assert match_object(world, player, "STONE12") == things[12]
    assert match_object(world, player, "pebble01") == AMBIGUOUS  # pebble010..019
    assert match_object(world, player, "pebble025") == things[25]
    assert match_object(world, player, "pebble02") == AMBIGUOUS
    assert match_object(world, player, "marble") == FAILED_MATCH
    lamp = world.create(world.sys("thing"), player, "pebble")  # exact beats prefixes
    world.move(lamp, ROOM)
    assert match_object(world, player, "pebble") == lamp


def test_what_the_player_carries_counts_too_and_exact_wins(world: World) -> None:
    player, _ = crowd(world)
    carried = world.create(world.sys("thing"), player, "pebble01")
    world.move(carried, player)
    assert match_object(world, player, "pebble01") == carried


def test_moves_renames_aliases_and_recycling_are_seen_at_once(world: World) -> None:
    player, things = crowd(world)
    assert match_object(world, player, "pebble003") == things[3]  # the index is built
    world.move(things[3], NOTHING)
    assert match_object(world, player, "pebble003") == FAILED_MATCH
    world.move(things[3], ROOM)
    assert match_object(world, player, "pebble003") == things[3]
    world.rename(things[4], "boulder")
    assert match_object(world, player, "boulder") == things[4]
    assert match_object(world, player, "pebble004") == FAILED_MATCH
    world.set_aliases(things[5], ["rock"])
    assert match_object(world, player, "rock") == things[5]
    assert match_object(world, player, "stone5") == FAILED_MATCH
    world.recycle(things[6])
    assert match_object(world, player, "pebble006") == FAILED_MATCH


def test_a_rolled_back_change_is_not_seen(world: World) -> None:
    player, things = crowd(world)
    assert match_object(world, player, "pebble009") == things[9]
    with pytest.raises(WorldError), world.transaction():
        world.rename(things[9], "gem")
        assert match_object(world, player, "gem") == things[9]
        raise WorldError("undo")
    assert match_object(world, player, "gem") == FAILED_MATCH
    assert match_object(world, player, "pebble009") == things[9]


def test_small_rooms_are_scanned_and_match_the_same_way(world: World) -> None:
    room = world.create(world.sys("room"), NOTHING, "Closet")
    player = world.create(world.sys("player"), NOTHING, "Looker")
    world.move(player, room)
    thing = world.create(world.sys("thing"), player, "pebble001", aliases=["stone1"])
    world.move(thing, room)
    assert len(world.objects[room].contents) < INDEXED_FROM
    assert match_object(world, player, "pebble001") == thing
    assert match_object(world, player, "pebb") == thing
    assert match_object(world, player, "stone1") == thing
    assert match_object(world, player, "looker") == player
    assert match_object(world, player, "gem") == FAILED_MATCH
    world.move(world.create(world.sys("thing"), player, "pebble002"), room)
    assert match_object(world, player, "pebble") == AMBIGUOUS

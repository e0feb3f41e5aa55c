"""Object matching: turn what a player typed ("lamp", "me", "#12") into an object id.

Rules (LambdaMOO's): empty -> NOTHING; "me" and "here"; "#n" if valid;
"$name" through #0; otherwise objects the player carries or that are in the
room, by name or alias: exact matches first, then prefixes. Several equal
matches -> AMBIGUOUS; none -> FAILED_MATCH.
"""

from __future__ import annotations

from collections.abc import Iterable

from moo.world.values import AMBIGUOUS, FAILED_MATCH, NOTHING
from moo.world.world import World


def _names(world: World, oid: int) -> list[str]:
    obj = world.objects[oid]
    return [obj.name.lower(), *(a.lower() for a in obj.aliases)]


def match_among(world: World, text: str, candidates: Iterable[int]) -> int:
    """Match ``text`` against the names and aliases of ``candidates``."""
    wanted = text.strip().lower()
    exact: list[int] = []
    partial: list[int] = []
    for oid in candidates:
        if oid not in world.objects:
            continue
        names = _names(world, oid)
        if wanted in names:
            if oid not in exact:
                exact.append(oid)
        elif any(n.startswith(wanted) for n in names) and oid not in partial:
            partial.append(oid)
    for found in (exact, partial):
        if len(found) == 1:
            return found[0]
        if found:
            return AMBIGUOUS
    return FAILED_MATCH


def parse_object_number(text: str) -> int | None:
    if text.startswith("#"):
        try:
            return int(text[1:])
        except ValueError:
            return None
    return None


def match_object(world: World, player: int, text: str) -> int:
    """The object ``text`` names from ``player``'s point of view."""
    text = text.strip()
    if not text:
        return NOTHING
    lower = text.lower()
    if lower == "me":
        return player
    me = world.objects.get(player)
    if lower == "here":
        return me.location if me is not None else NOTHING
    number = parse_object_number(text)
    if number is not None:
        return number if world.valid(number) else FAILED_MATCH
    if text.startswith("$"):
        oid = world.sys(text)
        return oid if world.valid(oid) else FAILED_MATCH
    if me is None:
        return FAILED_MATCH
    # What the player carries, then the room: through the world's name index, so a word
    # costs the same in a room of 5 or of 500.
    exact, partial = world.named_in(player, lower)
    if me.location != player:
        here_exact, here_partial = world.named_in(me.location, lower)
        exact += here_exact
        partial += here_partial
    for found in (exact, partial):
        unique: list[int] = list(dict.fromkeys(found))
        if len(unique) == 1:
            return unique[0]
        if unique:
            return AMBIGUOUS
    return FAILED_MATCH


def match_player(world: World, text: str) -> int:
    """A player by exact name, ``#n``, or a unique prefix of a name."""
    text = text.strip()
    number = parse_object_number(text)
    if number is not None:
        obj = world.objects.get(number)
        return number if obj is not None and obj.is_player else FAILED_MATCH
    exact = world.player_by_name(text)
    if exact is not None:
        return exact
    if not text:
        return FAILED_MATCH
    return match_among(world, text, world.player_ids())

"""Which objects in a container answer to a word: the name index object matching uses.

``match_object`` looks for a word among what a player carries and what is in the room, by
exact name or alias first, then by prefix. Scanning a room's contents for every word made
matching cost grow with the room (27% of the server's CPU with 100 players in one room, most
of it lowercasing every name again for every word). ``NameIndex`` answers in O(1) for an
exact name and O(log n + k) for a prefix, and the world keeps one per large container,
built on first use and dropped by the world's mutation path whenever that container's
contents or their names change (so a busy room rebuilds at most once per change, and a
container nobody matches in, or one of one or two objects, costs no memory at all).

Measured (one word, a player in the room): 5 objects 4.5 -> 4.3 us; 15: 11 -> 8 us;
100: 76 -> 1.9 us; 500: 347 -> 2.6 us. Again on a slower machine (a word that is no name,
as ``say hello there``'s): 3 objects 2.5 -> 0.8 us, 5: 4.3 -> 0.8, 12: 8.8 -> 0.4; building
an index costs what one to two scans do, so rooms of a few players are indexed too.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from moo.world.model import MooObject

INDEXED_FROM = 3
"""Containers with at least this many objects get an index; smaller ones are scanned."""


def lowered_names(obj: MooObject) -> tuple[str, ...]:
    return (obj.name.lower(), *(alias.lower() for alias in obj.aliases))


class NameIndex:
    """Lower-cased names and aliases of one container's contents -> the objects, in order."""

    __slots__ = ("_by_name", "_sorted")

    def __init__(self, objects: Iterable[MooObject]) -> None:
        by_name: dict[str, list[int]] = {}
        for obj in objects:
            for name in dict.fromkeys(lowered_names(obj)):
                by_name.setdefault(name, []).append(obj.id)
        self._by_name = by_name
        self._sorted = sorted(by_name)

    def exact(self, word: str) -> list[int]:
        return self._by_name.get(word, [])

    def prefixed(self, word: str) -> list[int]:
        """Objects with a name that starts with ``word`` (exact ones included), in order."""
        found: dict[int, None] = {}
        names = self._sorted
        i = bisect.bisect_left(names, word)
        while i < len(names) and names[i].startswith(word):
            for oid in self._by_name[names[i]]:
                found[oid] = None
            i += 1
        return list(found)


def scan(objects: Iterable[MooObject], word: str) -> tuple[list[int], list[int]]:
    """(exact, partial) matches of ``word`` among ``objects`` without an index."""
    exact: list[int] = []
    partial: list[int] = []
    for obj in objects:
        name = obj.name.lower()
        if name == word:
            exact.append(obj.id)
            continue
        aliases = [alias.lower() for alias in obj.aliases] if obj.aliases else ()
        if word in aliases:
            exact.append(obj.id)
        elif name.startswith(word) or any(alias.startswith(word) for alias in aliases):
            partial.append(obj.id)
    return exact, partial

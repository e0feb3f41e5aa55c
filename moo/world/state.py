"""The bottom layer of ``World``: the objects, the reads every other layer builds on, and
the derived indexes.

``World`` (``world.py``) is built in layers, each using only those below it; this one
holds the state:

- ``objects`` (id -> ``MooObject``), ``tasks`` (queued MOO tasks), ``next_id``;
- reads of the object graph: ``get``, ``ancestors`` (inheritance, hot: every property
  read and verb lookup walks it), ``descendants``, ``contains`` (location);
- indexes derived from the objects and never journalled: children by parent, players by
  name, and the name index of big containers' contents (``names.py``). The layers above
  keep them right with ``_index`` / ``_unindex`` around every change of an object's
  parent, name, flags or location; ``load`` and ``rebuild_indexes`` build them whole.

Nothing here changes an object's own fields except ``load`` (which fills an empty world).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from moo.errors import WorldError
from moo.world.model import Flag, MooObject, compact
from moo.world.names import INDEXED_FROM, NameIndex, scan
from moo.world.tasks import QueuedTask
from moo.world.values import NOTHING

_PLAYER = int(Flag.PLAYER)


class WorldState:
    """All objects in memory, the reads of their graph, and their derived indexes."""

    def __init__(self) -> None:
        self.objects: dict[int, MooObject] = {}
        self.tasks: dict[int, QueuedTask] = {}  # queued MOO tasks by id (``tasks.py``)
        self.next_id = 0
        # parent -> its children, as an insertion-ordered set (a dict), so a class with a
        # million children indexes in O(1) per object (a list made rebuilds quadratic).
        self._children: dict[int, dict[int, None]] = {}
        self._players: dict[str, int] = {}
        # container -> the name index of its contents, for containers past INDEXED_FROM,
        # built on first use and dropped whenever those contents or their names change.
        self._names_in: dict[int, NameIndex] = {}
        self.verbs_epoch = 0  # changes whenever any object's verbs or parent may have changed

    # ------------------------------------------------------------------ reads

    def valid(self, oid: int) -> bool:
        return oid in self.objects

    def get(self, oid: int) -> MooObject:
        try:
            return self.objects[oid]
        except KeyError:
            raise WorldError(f"#{oid} is not a valid object.") from None

    def ancestors(self, oid: int) -> Iterator[MooObject]:
        """The object itself, then its parent, grandparent... up to the root."""
        seen = 0
        obj = self.objects.get(oid)
        while obj is not None:
            yield obj
            seen += 1
            if seen > 10_000:  # a parent loop would be a bug; never hang on it
                raise WorldError(f"#{oid} has a parent loop.")
            obj = self.objects.get(obj.parent)

    def is_a(self, oid: int, ancestor: int) -> bool:
        return any(o.id == ancestor for o in self.ancestors(oid))

    def children(self, oid: int) -> list[int]:
        return list(self._children.get(oid, ()))

    def descendants(self, oid: int) -> Iterator[int]:
        """Every object below ``oid`` in the inheritance tree (each once, even across a loop)."""
        seen = {oid}
        stack = list(self._children.get(oid, ()))
        while stack:
            child = stack.pop()
            if child in seen:
                continue
            seen.add(child)
            yield child
            stack.extend(self._children.get(child, ()))

    def contains(self, container: int, oid: int) -> bool:
        """True when ``oid`` is ``container`` or is (transitively) inside it."""
        here = oid
        for _ in range(100_000):
            if here == container:
                return True
            obj = self.objects.get(here)
            if obj is None or obj.location == NOTHING:
                return False
            here = obj.location
        raise WorldError(f"#{oid} has a location loop.")

    def named_in(self, container: int, word: str) -> tuple[list[int], list[int]]:
        """(exact, partial) matches of lower-case ``word`` among ``container``'s contents:
        by name or alias, exactly, else as a prefix (moo/world/names.py)."""
        obj = self.objects.get(container)
        if obj is None:
            return [], []
        contents = obj.contents
        if not contents:
            return [], []
        objects = self.objects
        if len(contents) < INDEXED_FROM:
            return scan([objects[oid] for oid in contents if oid in objects], word)
        index = self._names_in.get(container)
        if index is None:
            index = NameIndex(objects[oid] for oid in contents if oid in objects)
            self._names_in[container] = index
        exact = index.exact(word)
        if exact:
            return list(exact), []
        return [], index.prefixed(word)

    def player_by_name(self, name: str) -> int | None:
        return self._players.get(name.lower())

    def player_ids(self) -> list[int]:
        return list(self._players.values())

    # --------------------------------------------------------------- indexes

    def _index(self, obj: MooObject) -> None:
        self._names_in.pop(obj.location, None)
        if obj.parent != NOTHING:
            siblings = self._children.get(obj.parent)
            if siblings is None:
                self._children[obj.parent] = {obj.id: None}
            else:
                siblings[obj.id] = None
        if obj.is_player:
            self._players[obj.name.lower()] = obj.id

    def _unindex(self, obj: MooObject) -> None:
        self._names_in.pop(obj.location, None)
        siblings = self._children.get(obj.parent)
        if siblings is not None and obj.id in siblings:
            del siblings[obj.id]
            if not siblings:
                del self._children[obj.parent]
        if self._players.get(obj.name.lower()) == obj.id:
            del self._players[obj.name.lower()]

    def load(self, objects: Iterable[MooObject], next_id: int) -> None:
        """Fill an empty world from ``objects`` (a snapshot, in ascending id order), in one
        pass: each object gets the shared empties (``model.compact``) and its place in the
        indexes, and its ``location`` and its contents' ids become the very int objects that
        are the objects' ids (32 bytes saved per object and per contents entry: a decode
        makes a new int for every number it reads). Raises WorldError if the world is not
        empty or an id repeats.
        """
        if self.objects:
            raise WorldError("a world can only be loaded while it is empty")
        table = self.objects
        children = self._children
        players = self._players
        containers: list[MooObject] = []
        for obj in objects:
            compact(obj)
            oid = obj.id
            if oid in table:
                raise WorldError(f"#{oid} appears twice")
            table[oid] = obj
            where = table.get(obj.location)
            if where is not None:
                obj.location = where.id
            if obj.contents:
                containers.append(obj)
            parent = obj.parent
            if parent != NOTHING:
                siblings = children.get(parent)
                if siblings is None:
                    children[parent] = {oid: None}
                else:
                    siblings[oid] = None
            if obj.flags & _PLAYER:
                players[obj.name.lower()] = oid
        for obj in containers:
            obj.contents = [
                found.id if (found := table.get(c)) is not None else c for c in obj.contents
            ]
        self.next_id = next_id

    def rebuild_indexes(self) -> None:
        """Recompute children and player-name indexes (after a bulk load)."""
        self._children.clear()
        self._players.clear()
        self._names_in.clear()
        for obj in self.objects.values():
            self._index(obj)

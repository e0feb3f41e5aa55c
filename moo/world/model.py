"""The records the world is made of: objects, property definitions, verb records.

They are ``msgspec.Struct``s (array-like) so a snapshot or a journal record can
encode them without conversion: the persistence research on this machine found
Struct encode/decode 3-5x faster than converting to dicts, at the same memory as
slotted classes and with fewer objects for the GC to track.

Memory, by design (bench/checkpoint.py prints bytes per object):

- Most objects have no aliases, contents, property definitions or verbs of their own:
  those fields then hold the shared ``EMPTY_LIST`` / ``EMPTY_DICT`` (~240 bytes saved
  per object). They refuse every change; the world's mutation path, the one place that
  changes objects, gives an object its own container first (``own_props``,
  ``add_content`` in edit.py), and ``compact`` puts the shared empties back after a
  load or a copy.
- Property values decoded from bytes stay bytes until first read (``MooObject.props``).
- ``MooObject`` is not tracked by the cycle collector (``gc=False``): it holds only
  ints, strings and containers of values, and no value refers back to an object, so it
  can never be part of a cycle. That saves 16 bytes per object and a million objects
  the collector would otherwise walk.

Where the bytes go (bench/checkpoint.py's thing, 8 properties, after a load): the struct
112, its id 32, name 80, its property values as the checkpoint's bytes ~200 (a Raw 48
and its share of the file, which the Raws keep in memory), the world's id table and
children index ~80: ~650 in all (LambdaMOO 1.8.1: ~1000 on the same world). Reading an
object's ``props`` once makes them a dict of Python values: ~870 bytes more for that
thing (the dict 272 with 8 str keys; each int past 256 32, a float 32, a list 96-112
plus its items), so a world whose every object is read costs ~1.5 KB an object.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from moo.errors import WorldError
from moo.world.codec import decoder


class Flag(enum.IntFlag):
    """Object flags, as in MOO (``builder`` is ours: MOO cores keep it as a parent class)."""

    PLAYER = 1
    PROGRAMMER = 2
    WIZARD = 4
    BUILDER = 8
    READ = 16
    WRITE = 32
    FERTILE = 64


_PLAYER = int(Flag.PLAYER)
_WIZARD = int(Flag.WIZARD)

FLAG_NAMES: dict[str, Flag] = {f.name.lower(): f for f in Flag if f.name}


class _SharedEmptyList(list[Any]):
    """The one empty list objects share; changing it in place is a bug, so it raises."""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> Any:
        raise TypeError("the shared empty list cannot change (the world gives an object its own)")

    append = extend = insert = remove = pop = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse

    def __reduce__(self) -> str:
        return "EMPTY_LIST"  # copies and pickles of it are it


class _SharedEmptyDict(dict[str, Any]):
    """The one empty dict objects share; changing it in place is a bug, so it raises."""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> Any:
        raise TypeError("the shared empty dict cannot change (the world gives an object its own)")

    __setitem__ = __delitem__ = __ior__ = _refuse
    pop = popitem = clear = update = setdefault = _refuse

    def __reduce__(self) -> str:
        return "EMPTY_DICT"  # copies and pickles of it are it


EMPTY_LIST: list[Any] = _SharedEmptyList()
EMPTY_DICT: dict[str, Any] = _SharedEmptyDict()


def _empty_list() -> list[Any]:
    return EMPTY_LIST


def _empty_dict() -> dict[str, Any]:
    return EMPTY_DICT


def _empty_props() -> msgspec.Raw:
    return EMPTY_DICT  # type: ignore[return-value]  # see MooObject.props


_props_decoder = decoder(dict[str, Any])
_RAW = msgspec.Raw


def _decode_props(data: msgspec.Raw, oid: int) -> dict[str, Any]:
    if len(data) == 1:  # the empty map: msgpack's only one-byte map
        return EMPTY_DICT
    try:
        value: dict[str, Any] = _props_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as error:
        raise WorldError(f"#{oid}: its stored property values do not decode ({error})") from None
    return value


class PropDef(msgspec.Struct, array_like=True):
    """A property's definition, kept on the object that defines it.

    ``perms`` holds MOO's letters: r (others may read), w (others may write),
    c (on descendants the value belongs to the descendant's owner).
    """

    owner: int
    perms: str = "r"


class VerbDef(msgspec.Struct, array_like=True):
    """A verb record.

    ``names``: space-separated names with MOO wildcards (``l*ook``, ``@desc*ribe``, ``*``).
    ``dobj``/``iobj``: "this", "any" or "none"; ``prep``: "any", "none" or a canonical
    preposition group ("with/using"). ``impl``: a reference to the code, "py:module.function"
    for Python verbs, ``MOO_IMPL`` ("moo") for a verb written in the MOO language, whose
    source text is ``program`` (world data like any property: journaled, checkpointed).
    ``program`` is the last field and has a default, so records written before it existed
    still decode.
    """

    names: str
    owner: int
    perms: str
    dobj: str
    prep: str
    iobj: str
    impl: str
    program: str = ""

    @property
    def debug(self) -> bool:
        """LambdaMOO's ``d`` bit: an error raises (without it, it becomes a value)."""
        return "d" in self.perms


MOO_IMPL = "moo"
"""``VerbDef.impl`` of a verb whose code is MOO source in ``VerbDef.program``."""


class MooObject(msgspec.Struct, array_like=True, gc=False):
    """One object. Only the world's own methods change these fields; an empty container
    may be the shared ``EMPTY_LIST``/``EMPTY_DICT`` (read it freely, never change it).

    Property values are read through ``props``. Decoded from bytes (a checkpoint, a
    journal record, a clone), an object keeps its values as those bytes
    (``props_data``, a ``msgspec.Raw``: the sorted msgpack map, as ``digest_encoder``
    writes it) until something first reads ``props``, which decodes them once. An object
    nobody looks at after a load costs its bytes instead of a dict of Python values (~600
    bytes less for bench/checkpoint.py's thing), loads without decoding them, and is
    written back by copying them.
    """

    id: int
    name: str
    parent: int
    owner: int
    location: int
    flags: int = 0
    aliases: list[str] = msgspec.field(default_factory=_empty_list)
    contents: list[int] = msgspec.field(default_factory=_empty_list)
    propdefs: dict[str, PropDef] = msgspec.field(default_factory=_empty_dict)
    props_data: msgspec.Raw = msgspec.field(default_factory=_empty_props)
    verbs: list[VerbDef] = msgspec.field(default_factory=_empty_list)
    # This object's own owner and permissions of inherited properties it was given with
    # ``set_property_info`` (LambdaMOO keeps them per object); last, so older records decode.
    propinfo: dict[str, PropDef] = msgspec.field(default_factory=_empty_dict)

    @property
    def props(self) -> dict[str, Any]:
        """Property values set on this object (not inherited ones); never change in place."""
        data = self.props_data
        if type(data) is _RAW:
            value = _decode_props(data, self.id)
            self.props_data = value  # type: ignore[assignment]  # see the setter
            return value
        return data  # type: ignore[return-value]  # a dict once decoded

    @props.setter
    def props(self, value: dict[str, Any]) -> None:
        self.props_data = value  # type: ignore[assignment]  # a dict is what Raw stands for

    def __eq__(self, other: object) -> bool:
        """Equal fields, property values compared as values (bytes or not)."""
        if type(other) is not MooObject:
            return NotImplemented
        return self.props == other.props and all(
            getattr(self, name) == getattr(other, name) for name in _PLAIN_FIELDS
        )

    # Plain int masks: `int & IntFlag` builds a new IntFlag (~1 us); these are hot.
    def has_flag(self, flag: Flag) -> bool:
        return bool(self.flags & int(flag))

    @property
    def is_player(self) -> bool:
        return bool(self.flags & _PLAYER)

    @property
    def is_wizard(self) -> bool:
        return bool(self.flags & _WIZARD)


_PLAIN_FIELDS = tuple(name for name in MooObject.__struct_fields__ if name != "props_data")


def compact(obj: MooObject) -> MooObject:
    """Put the shared empties in place of ``obj``'s empty containers; returns ``obj``.
    Values still as bytes stay so (an empty map's one byte becomes the shared dict)."""
    if not obj.aliases:
        obj.aliases = EMPTY_LIST
    if not obj.contents:
        obj.contents = EMPTY_LIST
    if not obj.propdefs:
        obj.propdefs = EMPTY_DICT
    data = obj.props_data
    if (len(data) == 1) if type(data) is msgspec.Raw else not data:
        obj.props = EMPTY_DICT
    if not obj.verbs:
        obj.verbs = EMPTY_LIST
    if not obj.propinfo:
        obj.propinfo = EMPTY_DICT
    return obj

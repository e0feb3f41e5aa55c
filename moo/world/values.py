"""Property values: the MOO value types and the object-reference type.

A MOO value is an int, float, str, ObjRef, list of values, or dict (map) of
values. Object *fields* (parent, location, owner) are plain ints; an ObjRef is
how a *property value* says "this is an object, not a number", so that #3 and
3 stay different, as in MOO.
"""

from __future__ import annotations

from typing import Any

NOTHING = -1  # MOO's #-1: no object
AMBIGUOUS = -2  # MOO's $ambiguous_match
FAILED_MATCH = -3  # MOO's $failed_match


class ObjRef:
    """A reference to an object inside a property value (``#12``)."""

    __slots__ = ("id",)

    def __init__(self, id: int) -> None:
        self.id = int(id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjRef) and other.id == self.id

    def __hash__(self) -> int:
        return hash(("ObjRef", self.id))

    def __repr__(self) -> str:
        return f"#{self.id}"

    def __int__(self) -> int:
        return self.id


def is_objref(value: object) -> bool:
    return isinstance(value, ObjRef)


def ref_id(value: Any) -> int:
    """The object id a value refers to, or NOTHING when it is not an object reference."""
    return value.id if isinstance(value, ObjRef) else NOTHING

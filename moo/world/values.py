"""Property values: the MOO value types, the object-reference type and the error type.

A MOO value is an int, float, str, ObjRef, Err, list of values, or dict (map) of
values. Lists are never changed in place once they are a value: code that "changes" one
builds a new list (MOO lists are values, as in LambdaMOO). Object *fields* (parent,
location, owner) are plain ints; an ObjRef is how a *property value* says "this is an
object, not a number", so that #3 and 3 stay different, as in MOO.
"""

from __future__ import annotations

from typing import Any, ClassVar

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


class Err:
    """A MOO error value (``E_DIV``), numbered as LambdaMOO 1.8 numbers them.

    Sixteen singletons, ``Err.E_NONE`` .. ``Err.E_FLOAT``; ``Err.of(n)`` finds one by number
    and ``ERRORS`` lists them in order. Not an Enum: msgspec would write an Enum as its bare
    number (never calling the codec's hook), and an error must never pass for an integer.
    """

    __slots__ = ("message", "name", "value")

    E_NONE: ClassVar[Err]
    E_TYPE: ClassVar[Err]
    E_DIV: ClassVar[Err]
    E_PERM: ClassVar[Err]
    E_PROPNF: ClassVar[Err]
    E_VERBNF: ClassVar[Err]
    E_VARNF: ClassVar[Err]
    E_INVIND: ClassVar[Err]
    E_RECMOVE: ClassVar[Err]
    E_MAXREC: ClassVar[Err]
    E_RANGE: ClassVar[Err]
    E_ARGS: ClassVar[Err]
    E_NACC: ClassVar[Err]
    E_INVARG: ClassVar[Err]
    E_QUOTA: ClassVar[Err]
    E_FLOAT: ClassVar[Err]

    def __init__(self, value: int, name: str, message: str) -> None:
        self.value = value
        self.name = name
        self.message = message  # LambdaMOO's text, what ``tostr(E_DIV)`` gives

    @staticmethod
    def of(value: int) -> Err:
        """The error numbered ``value``; ValueError when there is none."""
        if 0 <= value < len(ERRORS):
            return ERRORS[value]
        raise ValueError(f"no MOO error is numbered {value}")

    @staticmethod
    def named(name: str) -> Err | None:
        """The error called ``name`` (``"E_DIV"``, any case), or None."""
        return _BY_NAME.get(name.upper())

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self) -> tuple[object, tuple[int]]:
        return Err.of, (self.value,)


ERRORS: tuple[Err, ...] = tuple(
    Err(number, name, message)
    for number, (name, message) in enumerate(
        [
            ("E_NONE", "No error"),
            ("E_TYPE", "Type mismatch"),
            ("E_DIV", "Division by zero"),
            ("E_PERM", "Permission denied"),
            ("E_PROPNF", "Property not found"),
            ("E_VERBNF", "Verb not found"),
            ("E_VARNF", "Variable not found"),
            ("E_INVIND", "Invalid indirection"),
            ("E_RECMOVE", "Recursive move"),
            ("E_MAXREC", "Too many verb calls"),
            ("E_RANGE", "Range error"),
            ("E_ARGS", "Incorrect number of arguments"),
            ("E_NACC", "Move refused by destination"),
            ("E_INVARG", "Invalid argument"),
            ("E_QUOTA", "Resource limit exceeded"),
            ("E_FLOAT", "Floating-point arithmetic error"),
        ]
    )
)
_BY_NAME: dict[str, Err] = {error.name: error for error in ERRORS}
for _error in ERRORS:
    setattr(Err, _error.name, _error)

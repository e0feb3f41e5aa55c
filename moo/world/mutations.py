"""Mutation records: the serialisable form of every change to the world.

Each record carries the full new value, so applying it twice in a row gives the
same world; see ``World.apply`` for the whole replay contract. ``World`` builds a
record, applies it with ``apply()``, and hands committed records to its
observers; recovery calls the same ``apply()``, so live changes and replay can
never disagree.
"""

from __future__ import annotations

from typing import Any, get_args

import msgspec

from moo.world.model import MooObject, PropDef, VerbDef
from moo.world.tasks import QueuedTask


class Create(msgspec.Struct, tag="create", array_like=True):
    obj: MooObject


class Recycle(msgspec.Struct, tag="recycle", array_like=True):
    id: int


class SetField(msgspec.Struct, tag="set", array_like=True):
    """name (str), aliases (list[str]), owner (int), flags (int)."""

    id: int
    field: str
    value: Any


class SetParent(msgspec.Struct, tag="parent", array_like=True):
    id: int
    parent: int


class Move(msgspec.Struct, tag="move", array_like=True):
    id: int
    location: int


class SetProp(msgspec.Struct, tag="prop", array_like=True):
    id: int
    name: str
    value: Any


class ClearProp(msgspec.Struct, tag="clear", array_like=True):
    id: int
    name: str


class DefineProp(msgspec.Struct, tag="defprop", array_like=True):
    id: int
    name: str
    propdef: PropDef
    value: Any


class UndefineProp(msgspec.Struct, tag="undefprop", array_like=True):
    id: int
    name: str


class SetVerbs(msgspec.Struct, tag="verbs", array_like=True):
    id: int
    verbs: list[VerbDef]


class SetVerb(msgspec.Struct, tag="verb", array_like=True):
    """One verb record of an object replaced whole (its program, names, perms or args);
    ``index`` counts from 0 in ``MooObject.verbs``."""

    id: int
    index: int
    verb: VerbDef


class SetNextId(msgspec.Struct, tag="nextid", array_like=True):
    next_id: int


class ResetNextId(msgspec.Struct, tag="resetid", array_like=True):
    """``reset_max_object()``: the next new object is ``next_id`` (it may go down)."""

    next_id: int


class Renumber(msgspec.Struct, tag="renum", array_like=True):
    """``renumber()``: object ``old`` becomes ``new`` (a free number below it), and every
    structural reference to it (parent, children, location, contents, owners of objects,
    verbs and property definitions) follows; property values are left as they are."""

    old: int
    new: int


class SetPropInfo(msgspec.Struct, tag="propinfo", array_like=True):
    """Object ``id``'s own owner and permissions of inherited property ``name`` (None: back
    to what it inherits)."""

    id: int
    name: str
    info: PropDef | None


class RenameProp(msgspec.Struct, tag="renprop", array_like=True):
    """Property ``old``, defined on ``id``, is ``new`` there and on every descendant."""

    id: int
    old: str
    new: str


class QueueTask(msgspec.Struct, tag="qtask", array_like=True):
    """A MOO task queued (a fork not yet started, a suspended task), whole (``tasks.py``)."""

    task: QueuedTask


class DropTask(msgspec.Struct, tag="dtask", array_like=True):
    """A queued task left the queue: it started, resumed, or was killed."""

    id: int


Mutation = (
    Create
    | Recycle
    | SetField
    | SetParent
    | Move
    | SetProp
    | ClearProp
    | DefineProp
    | UndefineProp
    | SetVerbs
    | SetVerb
    | SetNextId
    | ResetNextId
    | Renumber
    | SetPropInfo
    | RenameProp
    | QueueTask
    | DropTask
)

RECORD_TYPES: tuple[type, ...] = get_args(Mutation)

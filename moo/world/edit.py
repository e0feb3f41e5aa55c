"""The smallest edits of one object, as the world's mutation path makes them, and ``clone``.

Most objects hold the shared ``EMPTY_LIST`` / ``EMPTY_DICT`` (``model.py``) where they have
no contents, property values or property info of their own; those refuse every change. The
record-applying functions (``replay.py``, ``renumber.py``) change an object's containers only
through these helpers, which give the object its own container before the first change and
put the shared empty back when the last entry goes. Nothing outside ``moo/world`` calls them:
everyone else changes objects through ``World``'s mutation methods.

``clone`` is the copy the transaction machinery saves before an object first changes
(``transactions.py``) and the copy a ``Create`` record's object is applied as.
"""

from __future__ import annotations

from typing import Any

from moo.world.codec import decoder, digest_encoder
from moo.world.model import EMPTY_DICT, EMPTY_LIST, MooObject, compact

_object_decoder = decoder(MooObject)


def clone(obj: MooObject) -> MooObject:
    """A deep copy of an object (through msgpack: several times faster than copy.deepcopy),
    its empty containers the shared ones (``model.compact``), its property values still
    bytes until read. Encoded sorted, as a checkpoint is: values kept as bytes are copied
    as they are into checkpoints and digests, so they must be those very bytes."""
    result: MooObject = _object_decoder.decode(digest_encoder.encode(obj))
    return compact(result)


def own_props(obj: MooObject) -> dict[str, Any]:
    """``obj.props``, made the object's own dict first if it was the shared empty one."""
    props = obj.props
    if props is EMPTY_DICT:
        props = obj.props = {}
    return props


def drop_prop(obj: MooObject, name: str) -> None:
    """Remove ``obj``'s own value of ``name`` if it has one (the shared empty dict when none
    are left)."""
    if name in obj.props:
        del obj.props[name]
        if not obj.props:
            obj.props = EMPTY_DICT


def drop_info(obj: MooObject, name: str) -> None:
    """Remove ``obj``'s own info of property ``name`` if it has one."""
    if name in obj.propinfo:
        del obj.propinfo[name]
        if not obj.propinfo:
            obj.propinfo = EMPTY_DICT


def add_content(where: MooObject, oid: int) -> None:
    """Append ``oid`` to ``where``'s contents (its own list first if it had none)."""
    if where.contents is EMPTY_LIST:
        where.contents = [oid]
    else:
        where.contents.append(oid)


def remove_content(where: MooObject, oid: int) -> None:
    """Take ``oid`` out of ``where``'s contents, if there (the shared empty list when none
    are left)."""
    if oid in where.contents:
        where.contents.remove(oid)
        if not where.contents:
            where.contents = EMPTY_LIST

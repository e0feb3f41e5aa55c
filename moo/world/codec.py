"""msgpack encoding of world records, with ObjRef and Err carried as msgpack extensions.

Loading never runs code: only plain values, ObjRef, Err and the Structs of
``model.py`` / ``mutations.py`` can come out of a decode.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from moo.world.values import Err, ObjRef

OBJREF_EXT = 1
ERR_EXT = 2


def _enc_hook(value: Any) -> Any:
    if isinstance(value, ObjRef):
        return msgspec.msgpack.Ext(OBJREF_EXT, value.id.to_bytes(8, "big", signed=True))
    if isinstance(value, Err):
        return msgspec.msgpack.Ext(ERR_EXT, bytes((value.value,)))
    raise NotImplementedError(f"cannot encode {type(value).__name__} in a world value")


_new_ref = object.__new__


def _ext_hook(code: int, data: memoryview) -> Any:
    if code == OBJREF_EXT and len(data) == 8:
        ref = _new_ref(ObjRef)  # skips __init__'s int(): ~1 s of a 1M-object load
        ref.id = int.from_bytes(data, "big", signed=True)
        return ref
    if code == ERR_EXT and len(data) == 1:
        return Err.of(data[0])  # ValueError for a number that names no error
    raise ValueError(f"unknown msgpack extension {code}")


encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook)
# Same bytes for equal worlds whatever order their dicts were filled in.
digest_encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook, order="sorted")


def decoder(type_: Any) -> msgspec.msgpack.Decoder[Any]:
    """A decoder for ``type_`` that understands ObjRef extensions."""
    return msgspec.msgpack.Decoder(type_, ext_hook=_ext_hook)


def array_header(count: int) -> bytes:
    """A msgpack array header for ``count`` items, always in the 5-byte form."""
    return b"\xdd" + count.to_bytes(4, "big")


def world_hasher(next_id: int, count: int) -> hashlib._Hash:
    """The hash behind ``World.digest``, primed with next_id and the body's array header.

    Feed it each object's ``digest_encoder`` encoding in ascending id order: the bytes fed
    after the prime are exactly a snapshot's body, so a snapshot's digest is also its checksum.
    """
    h = hashlib.sha256()
    h.update(digest_encoder.encode(next_id))
    h.update(array_header(count))
    return h

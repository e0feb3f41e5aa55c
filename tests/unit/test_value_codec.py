"""World values through the msgpack codec: ObjRef and Err come back as themselves."""

from __future__ import annotations

import msgspec
import pytest

from moo.world import codec
from moo.world.values import Err, ObjRef


def test_error_values_round_trip_inside_lists() -> None:
    value = [Err.E_DIV, ObjRef(7), [Err.E_NONE, "x"], 1.5, Err.E_FLOAT]
    decoded = codec.decoder(object).decode(codec.encoder.encode(value))
    assert decoded == value
    assert all(type(a) is type(b) for a, b in zip(decoded, value, strict=True))


def test_an_error_number_that_names_no_error_is_refused() -> None:
    bogus = codec.encoder.encode(msgspec.msgpack.Ext(codec.ERR_EXT, bytes((200,))))
    with pytest.raises(ValueError):
        codec.decoder(object).decode(bogus)


def test_errors_are_not_integers() -> None:
    assert not isinstance(Err.E_TYPE, int)
    assert repr(Err.E_PERM) == "E_PERM" and Err.E_PERM.message == "Permission denied"
    assert Err.of(2) is Err.E_DIV and Err.named("e_div") is Err.E_DIV and Err.named("E_X") is None
    with pytest.raises(ValueError):
        Err.of(16)

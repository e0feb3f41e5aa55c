"""Messages of the handshake that opens a front <-> engine link over TCP.

Before an engine on another machine may say ``EngineHello`` (moo/protocol/front.py), both
sides prove they know the shared link secret (moo/net/link_auth.py runs the exchange):

    engine -> front   AuthHello {version, nonce}        first frame of the stream
    front -> engine   AuthChallenge {version, nonce}
    engine -> front   AuthProof {mac}                   HMAC-SHA256 over both nonces
    front -> engine   AuthWelcome {mac}                 the front's own proof; or
    front -> engine   AuthRefused {reason}              and the front closes

Frames are the link's (a 4-byte big-endian length, then one msgpack message), at most
``MAX_AUTH_FRAME`` bytes each: a peer that has not proved anything cannot make the
front buffer more than that.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from moo.errors import ProtocolError

LINK_AUTH_VERSION = 1
"""1: HMAC-SHA256 over the two nonces."""

NONCE_BYTES = 32
MAC_BYTES = 32  # SHA-256
MAX_AUTH_FRAME = 256
"""Largest handshake frame payload (every message above fits in well under this)."""

Nonce = Annotated[bytes, msgspec.Meta(min_length=NONCE_BYTES, max_length=NONCE_BYTES)]
Mac = Annotated[bytes, msgspec.Meta(min_length=MAC_BYTES, max_length=MAC_BYTES)]


class _Message(msgspec.Struct, frozen=True, array_like=True, tag=True):
    pass


class AuthHello(_Message, frozen=True, tag="auth-hello"):
    version: int
    nonce: Nonce


class AuthChallenge(_Message, frozen=True, tag="auth-challenge"):
    version: int
    nonce: Nonce


class AuthProof(_Message, frozen=True, tag="auth-proof"):
    mac: Mac


class AuthWelcome(_Message, frozen=True, tag="auth-welcome"):
    mac: Mac


class AuthRefused(_Message, frozen=True, tag="auth-refused"):
    reason: Annotated[str, msgspec.Meta(max_length=120)]


AuthMessage = AuthHello | AuthChallenge | AuthProof | AuthWelcome | AuthRefused

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(AuthMessage)


def encode(message: AuthMessage) -> bytes:
    return _encoder.encode(message)


def decode(payload: bytes) -> AuthMessage:
    """One handshake frame's payload. Raises ProtocolError."""
    if len(payload) > MAX_AUTH_FRAME:
        raise ProtocolError(f"handshake frame of {len(payload)} bytes exceeds {MAX_AUTH_FRAME}")
    try:
        return _decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"not a link handshake ({exc})") from None

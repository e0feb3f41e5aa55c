"""Mutual authentication of a front <-> engine link over TCP: the codec, no I/O
(moo/net/link_tcp.py runs it on sockets; the messages are moo/protocol/link_auth.py's).

Both sides hold the same secret K (a file, DATA_DIR/link-secret by default). It never
crosses the wire: each side proves it knows K with an HMAC-SHA256 over a fresh nonce of
its own and one of the other side's, so a recorded handshake played again fails (the
other side's nonce is new) and neither proof can stand in for the other (each names
its role). B binds the proofs to the TLS session under them (``link.tls``, the default):
the SHA-256 of the front's certificate, its own for the front and the one it was shown
for the engine (RFC 5929's tls-server-end-point). A man in the middle must show his own
certificate, so the two sides' B differ and both proofs fail: no CA is needed, and the
front makes a fresh certificate at each start. Without TLS, B is empty.

1. engine: ``AuthHello(version, Ne)``
2. front: ``AuthChallenge(version, Nf)``
3. engine: ``AuthProof(HMAC(K, "moo-link engine" | version | Ne | Nf | B))``; the front
   checks it with ``hmac.compare_digest``. Wrong: ``AuthRefused`` and the front closes.
4. front: ``AuthWelcome(HMAC(K, "moo-link front" | version | Ne | Nf | B))``; the engine
   checks it the same way (a front that does not know K is refused too).

The front proves last, so a peer that has proved nothing gets nothing computed with K
from it. After step 4 the stream carries the usual ``EngineHello`` and the rest of
moo/protocol/front.py unchanged, inside the TLS session (without TLS the link is
authenticated at the start only, not encrypted: for a private network).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from moo.errors import ProtocolError
from moo.protocol import link_auth as msg

HEADER = 4
MIN_SECRET = 32
"""Characters a secret file must hold at least (the front makes 64 hex digits)."""
WRONG_SECRET = "wrong link secret"


class LinkRefused(ProtocolError):
    """The other side does not know the link secret (or the front said we do not).
    ``reply``: what the front sends before it closes (empty on the engine's side)."""

    def __init__(self, reason: str, reply: bytes = b"") -> None:
        super().__init__(reason)
        self.reason = reason
        self.reply = reply


def new_secret() -> bytes:
    """A secret file's content: 32 random bytes as hex, and a newline."""
    return secrets.token_hex(32).encode("ascii") + b"\n"


def parse_secret(text: bytes, source: str) -> bytes:
    """The key in a secret file's bytes (surrounding whitespace is not part of it).
    Raises ProtocolError naming ``source`` if it is too short to be a secret."""
    key = text.strip()
    if len(key) < MIN_SECRET:
        raise ProtocolError(
            f"link secret {source} holds {len(key)} characters; it needs at least "
            f"{MIN_SECRET} (delete it and the front makes a random one)"
        )
    return key


def mac(
    secret: bytes, role: str, engine_nonce: bytes, front_nonce: bytes, binding: bytes = b""
) -> bytes:
    """``role``'s proof (``engine`` or ``front``) over both nonces and the TLS binding."""
    message = b"moo-link %s %d|" % (role.encode("ascii"), msg.LINK_AUTH_VERSION)
    data = message + engine_nonce + front_nonce + binding
    return hmac.new(secret, data, hashlib.sha256).digest()


def tls_binding(certificate_der: bytes) -> bytes:
    """B for a TLS link: the SHA-256 of the front's certificate (DER)."""
    return hashlib.sha256(certificate_der).digest()


def frame(message: msg.AuthMessage) -> bytes:
    """One handshake frame, with its length (the link's framing)."""
    payload = msg.encode(message)
    return len(payload).to_bytes(HEADER, "big") + payload


def frame_length(header: bytes) -> int:
    """The payload length a frame header announces. Raises ProtocolError past
    ``MAX_AUTH_FRAME`` (read no further: a garbage stream ends here)."""
    length = int.from_bytes(header, "big")
    if length > msg.MAX_AUTH_FRAME:
        raise ProtocolError(f"not a link handshake (a frame of {length} bytes)")
    return length


def _check_version(version: int) -> None:
    if version != msg.LINK_AUTH_VERSION:
        raise ProtocolError(
            f"the other side speaks link handshake {version}; "
            f"this process speaks {msg.LINK_AUTH_VERSION}"
        )


class EngineAuth:
    """The engine's side: ``start()``, then ``receive`` each frame the front sends
    until ``done``. ``binding``: ``tls_binding`` of the certificate the front showed."""

    def __init__(self, secret: bytes, nonce: bytes | None = None, binding: bytes = b"") -> None:
        self._secret = secret
        self._binding = binding
        self._nonce = nonce if nonce is not None else secrets.token_bytes(msg.NONCE_BYTES)
        self._front_nonce: bytes | None = None
        self.done = False

    def start(self) -> bytes:
        return frame(msg.AuthHello(msg.LINK_AUTH_VERSION, self._nonce))

    def receive(self, payload: bytes) -> bytes:
        """The reply to send (empty once authenticated). Raises LinkRefused (the front
        refused us, or cannot prove it knows the secret), ProtocolError."""
        message = msg.decode(payload)
        if isinstance(message, msg.AuthRefused):
            raise LinkRefused(f"the front refused this engine: {message.reason}")
        if isinstance(message, msg.AuthChallenge) and self._front_nonce is None:
            _check_version(message.version)
            self._front_nonce = message.nonce
            proof = mac(self._secret, "engine", self._nonce, message.nonce, self._binding)
            return frame(msg.AuthProof(proof))
        if isinstance(message, msg.AuthWelcome) and self._front_nonce is not None:
            expected = mac(self._secret, "front", self._nonce, self._front_nonce, self._binding)
            if not hmac.compare_digest(message.mac, expected):
                raise LinkRefused("the front does not know this engine's link secret")
            self.done = True
            return b""
        raise ProtocolError(f"unexpected {type(message).__name__} in the link handshake")


class FrontAuth:
    """The front's side: ``receive`` each frame the engine sends until ``done``.
    ``binding``: ``tls_binding`` of the front's own certificate."""

    def __init__(self, secret: bytes, nonce: bytes | None = None, binding: bytes = b"") -> None:
        self._secret = secret
        self._binding = binding
        self._nonce = nonce if nonce is not None else secrets.token_bytes(msg.NONCE_BYTES)
        self._engine_nonce: bytes | None = None
        self.done = False

    def receive(self, payload: bytes) -> bytes:
        """The reply to send. Raises LinkRefused with the refusal to send in ``reply``
        (a wrong proof), ProtocolError (anything else: close without a word)."""
        message = msg.decode(payload)
        if isinstance(message, msg.AuthHello) and self._engine_nonce is None:
            if message.version != msg.LINK_AUTH_VERSION:
                speaks = msg.LINK_AUTH_VERSION
                reason = f"link handshake {message.version}; this front speaks {speaks}"
                raise LinkRefused(reason, frame(msg.AuthRefused(reason)))
            self._engine_nonce = message.nonce
            return frame(msg.AuthChallenge(msg.LINK_AUTH_VERSION, self._nonce))
        if isinstance(message, msg.AuthProof) and self._engine_nonce is not None:
            expected = mac(self._secret, "engine", self._engine_nonce, self._nonce, self._binding)
            if not hmac.compare_digest(message.mac, expected):
                raise LinkRefused(WRONG_SECRET, frame(msg.AuthRefused(WRONG_SECRET)))
            self.done = True
            proof = mac(self._secret, "front", self._engine_nonce, self._nonce, self._binding)
            return frame(msg.AuthWelcome(proof))
        raise ProtocolError(f"unexpected {type(message).__name__} in the link handshake")

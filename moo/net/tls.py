"""TLS for telnet as a stage of the connection path: bytes in, plaintext out, and back.

``TlsStage`` wraps ``ssl.SSLObject`` over two ``ssl.MemoryBIO``s, so it does no I/O
of its own, like the telnet codec: ``Connection`` (connection.py) still owns the
non-blocking socket and its reader/writer callbacks, which is what lets a hot upgrade
freeze every connection at any moment. The pipeline of one TLS connection:

1. ``recv`` -> ``feed(ciphertext)``: the handshake advances, or records decrypt to
   plaintext, which goes on to the telnet codec as on a plain connection.
2. ``take_output()``: what TLS itself must send (handshake messages, alerts).
3. Every write -> ``encrypt(plaintext)`` -> ciphertext for the output buffer. Plaintext
   written before the handshake has finished (the welcome screen) waits inside, up to
   ``max_pending`` bytes; more is dropped (such a client is reading nothing anyway).
4. ``close_notify()`` at a clean close; a close_notify from the client makes ``closed``
   true.

A first byte that is not a TLS handshake record (0x16) raises ``NotTls`` (someone
typed plain telnet at the TLS port); a failed handshake or a damaged record raises
``TlsError``. The connection closes only that client.

TLS state cannot move to another process, so a hot upgrade closes TLS connections
with a line of explanation instead of handing them over (Server.close_tls_sessions).
"""

from __future__ import annotations

import ssl
from pathlib import Path

from moo.errors import ProtocolError

HANDSHAKE_RECORD = 0x16
READ_SIZE = 65536
MAX_PENDING = 65536


class TlsError(ProtocolError):
    """The client's TLS is broken: a failed handshake or a damaged record."""


class NotTls(TlsError):
    """The client does not speak TLS at all (plain telnet at the TLS port)."""


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context for ``cert`` and ``key`` (PEM): TLS 1.2 or newer, no
    renegotiation. Raises OSError or ssl.SSLError when the files cannot be used."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_RENEGOTIATION
    context.load_cert_chain(cert, key)
    return context


class TlsStage:
    """Server-side TLS of one connection, over memory buffers (no I/O)."""

    def __init__(self, context: ssl.SSLContext, *, max_pending: int = MAX_PENDING) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._max_pending = max_pending
        self._pending = bytearray()  # plaintext written before the handshake finished
        self._started = False  # the first byte was checked
        self.handshaken = False
        self.closed = False  # the client sent close_notify (or closed TLS)
        self._shut = False  # our close_notify was made: nothing more is encrypted

    def feed(self, data: bytes) -> bytes:
        """Ciphertext from the client -> the plaintext it carried (maybe none yet).
        Raises NotTls or TlsError."""
        if not self._started and data:
            self._started = True
            if data[0] != HANDSHAKE_RECORD:
                raise NotTls("not a TLS handshake")
        self._incoming.write(data)
        if not self.handshaken:
            try:
                self._tls.do_handshake()
            except ssl.SSLWantReadError:
                return b""
            except ssl.SSLError as error:
                raise TlsError(f"TLS handshake failed: {error.reason or error}") from None
            self.handshaken = True
            if self._pending:
                self._tls.write(self._pending)
                self._pending.clear()
        plain = bytearray()
        while not self.closed:
            try:
                chunk = self._tls.read(READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                self.closed = True
                break
            except ssl.SSLError as error:
                raise TlsError(f"bad TLS record: {error.reason or error}") from None
            if not chunk:
                self.closed = True
                break
            plain += chunk
        return bytes(plain)

    def encrypt(self, data: bytes) -> bytes:
        """Plaintext to send -> the ciphertext to put on the wire now (with anything TLS
        itself had waiting). Before the handshake ends, the plaintext waits inside."""
        if not self.handshaken:
            room = self._max_pending - len(self._pending)
            if room > 0:
                self._pending += data[:room]
        elif not self.closed and not self._shut:
            self._tls.write(data)
        return self._outgoing.read()

    def take_output(self) -> bytes:
        """What TLS must send now (handshake messages, alerts, records)."""
        return self._outgoing.read()

    def close_notify(self) -> bytes:
        """The close_notify alert to send before closing (nothing before the handshake)."""
        if self.handshaken and not self.closed and not self._shut:
            self._shut = True
            try:
                self._tls.unwrap()
            except ssl.SSLWantReadError:
                pass  # it sent ours and would wait for the client's: we do not wait
            except ssl.SSLError:
                return b""
        return self._outgoing.read()

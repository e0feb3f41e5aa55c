"""One client socket, driven by event-loop reader/writer callbacks, with a codec.

Why callbacks and not asyncio streams or coroutines: a hot upgrade must freeze
I/O at any moment and hand the socket, the codec state, the unread input and
the unsent output to another process. With callbacks, freezing is removing the
reader and writer; nothing is lost inside a cancelled coroutine (a prototype
that cancelled ``sock_accept``/send coroutines lost connections and replies).

The pipeline:

1. The loop calls ``_on_readable``; ``recv`` takes what the kernel has.
2. The codec (telnet or SSH-gate frames) turns bytes into events; negotiation
   replies it wants sent are queued.
3. Events go to the handler (the server), which owns sessions.
4. ``write`` appends to an output buffer, flushed once per loop turn (so all
   the lines a command produces leave in one ``send``) or when the socket is
   writable again. The buffer is capped: past the cap new output is dropped and
   the client is told how much once it drains; a client that reads nothing
   for ``output_stall_seconds`` is disconnected. Lines fanned out to many connections
   (moo/net/fanout.py) are buffered at once but may leave in a pacer's later slice.

Telnet over TLS adds one stage between the socket and the codec (tls.py, no I/O of
its own): received bytes are decrypted before step 2, and every ``write`` is encrypted
before it joins the output buffer (so the buffer and its cap count what goes on the
wire). A TLS connection cannot be handed to another process (``transferable``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import socket
from collections.abc import Mapping, Sequence
from typing import Protocol

from moo.config import Limits
from moo.net.events import CLIENT_CLOSED, READ_ERROR, WRITE_ERROR, Event
from moo.net.tls import NotTls, TlsError, TlsStage

log = logging.getLogger(__name__)

READ_SIZE = 65536
STALLED = "output stalled: the client stopped reading"
NOT_TLS_REPLY = (
    b"This port speaks telnet over TLS: connect with a TLS client, or use the plain "
    b"telnet port.\r\n"
)


class Codec(Protocol):
    def start(self) -> bytes: ...

    def feed(self, data: bytes) -> list[Event]: ...

    def take_output(self) -> bytes: ...

    def encode_text(self, text: str) -> bytes: ...

    def set_echo(self, server_echoes: bool) -> bytes: ...

    def encode_gmcp(self, package: str, payload: str = "") -> bytes: ...

    def encode_mssp(self, variables: Mapping[str, str | Sequence[str]]) -> bytes: ...

    def end_compression(self) -> bytes: ...

    def resume_compression(self) -> bytes: ...

    @property
    def gmcp_enabled(self) -> bool: ...

    @property
    def echo_off(self) -> bool: ...

    @property
    def window(self) -> tuple[int, int] | None: ...

    @property
    def terminal_type(self) -> str | None: ...

    def get_state(self) -> dict[str, object]: ...


class Pacing(Protocol):
    """What sends fanned-out output in slices (moo/net/fanout.py ``Pacer``)."""

    def add(self, conn: Connection) -> None: ...


class ConnectionHandler(Protocol):
    def connection_events(self, conn: Connection, events: list[Event]) -> None: ...

    def connection_closed(self, conn: Connection, reason: str) -> None: ...


class Connection:
    """A client socket with its codec and buffers. Knows nothing of players or rooms."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        codec: Codec,
        handler: ConnectionHandler,
        limits: Limits,
        *,
        kind: str,
        peer: str,
        tls: TlsStage | None = None,
    ) -> None:
        sock.setblocking(False)
        self.loop = loop
        self.sock = sock
        self.codec = codec
        self.handler = handler
        self.limits = limits
        self.kind = kind
        self.peer = peer
        self.fd = sock.fileno()
        self.closed = False
        self._outbuf = bytearray()
        self._reading = False
        self._writing = False
        self._flush_scheduled = False
        self._paced = False  # queued in a pacer (fanned-out output waits its slice)
        self._closing_reason: str | None = None
        self._dropped = 0
        self._stall_timer: asyncio.TimerHandle | None = None
        self._frozen = False
        self._close_on_thaw: str | None = None
        self._family_number: int | None = None
        self.tls = tls

    @property
    def transferable(self) -> bool:
        """Whether a hot upgrade can hand this connection over (TLS state cannot move)."""
        return self.tls is None

    # ------------------------------------------------------------- handoff

    def freeze(self) -> None:
        """Stop all I/O without losing a byte. The reader and writer stay registered and
        unregister themselves if they fire while frozen: unregistering them all at once
        took 5 ms of a 1000-session hot upgrade's freeze, and few fire in it."""
        self._flush_scheduled = False  # a scheduled _flush now finds nothing to do
        self._frozen = True

    def _unregister(self) -> None:
        if self._reading:
            self.loop.remove_reader(self.fd)
            self._reading = False
        if self._writing:
            self.loop.remove_writer(self.fd)
            self._writing = False

    def thaw(self) -> None:
        """Undo ``freeze`` (a handoff failed): read again and send what is buffered."""
        self._frozen = False
        if self._close_on_thaw == STALLED:  # nothing more will leave: no graceful close
            self._abort(STALLED)
            return
        if self._close_on_thaw is not None:
            self.close(self._close_on_thaw)  # it was closing: send what is left, then close
            return
        self._outbuf += self.codec.resume_compression()  # ended for an export that failed
        self.resume_reading()
        # A close begun before the freeze finishes in _flush, even with nothing to send.
        if (self._outbuf or self._closing_reason is not None) and not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def export_state(self) -> dict[str, object]:
        """Everything another process needs to carry on this connection (JSON-safe).

        An MCCP2 stream is finished first (it cannot move); the state asks for a new one.
        """
        self._outbuf += self.codec.end_compression()
        return {
            "kind": self.kind,
            "family": self._family(),
            "peer": self.peer,
            "codec": self.codec.get_state(),
            "out": base64.b64encode(bytes(self._outbuf)).decode(),
            "dropped": self._dropped,
            "closing": self._closing_reason or self._close_on_thaw,
        }

    def _family(self) -> int:
        if self._family_number is None:  # the property costs 1 us: once per connection
            self._family_number = int(self.sock.family)
        return self._family_number

    def detach(self) -> int:
        """Give up the socket without closing it; returns its fd (to be sent away)."""
        self.freeze()
        self._unregister()
        self.closed = True
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        return self.sock.detach()

    @classmethod
    def adopt(
        cls,
        loop: asyncio.AbstractEventLoop,
        fd: int,
        state: dict[str, object],
        codec: Codec,
        handler: ConnectionHandler,
        limits: Limits,
    ) -> Connection:
        """Rebuild a connection handed over by another process (``export_state`` + fd)."""
        family = state.get("family")
        if isinstance(family, int):  # saves the 3 syscalls that would find it out
            sock = socket.socket(family, socket.SOCK_STREAM, 0, fileno=fd)
        else:
            sock = socket.socket(fileno=fd)
        conn = cls(
            loop, sock, codec, handler, limits, kind=str(state["kind"]), peer=str(state["peer"])
        )
        conn._outbuf += base64.b64decode(str(state.get("out", "")))
        dropped = state.get("dropped", 0)
        conn._dropped = dropped if isinstance(dropped, int) else 0
        conn._frozen = True  # until the handoff is committed: then thaw()
        closing = state.get("closing")
        conn._close_on_thaw = closing if isinstance(closing, str) else None
        return conn

    # -------------------------------------------------------------- reading

    def start(self, greeting: bytes = b"") -> None:
        self.resume_reading()
        first = self.codec.start() + greeting
        if first:
            self.write(first)

    def pause_reading(self) -> None:
        if self._reading and not self.closed:
            self.loop.remove_reader(self.fd)
            self._reading = False

    def resume_reading(self) -> None:
        if not self._frozen:
            self._watch()

    def watch_while_frozen(self) -> None:
        """Register the reader now, though frozen: it unregisters itself if input comes
        before the thaw, so thaw() registers again only connections that had input. A
        hot upgrade's replacement does this while it builds the pre-copy, which takes
        1000 registrations (~7 ms) out of the freeze."""
        if self._close_on_thaw is None:
            self._watch()

    def _watch(self) -> None:
        if not self._reading and not self.closed and self._closing_reason is None:
            self.loop.add_reader(self.fd, self._on_readable)
            self._reading = True

    def _on_readable(self) -> None:
        if self._frozen:
            self.pause_reading()  # thaw() reads again
            return
        try:
            data = self.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._abort(f"{READ_ERROR}: {error.strerror or error}")
            return
        if not data:
            self._abort(CLIENT_CLOSED)
            return
        if self.tls is not None:
            data = self._decrypt(data)
            if not data:
                return
        try:
            events = self.codec.feed(data)
        except Exception as error:  # a codec bug or a protocol violation: drop only this client
            log.warning("%s %s: bad input, closing: %s", self.kind, self.peer, error)
            self._abort(f"protocol error: {error}")
            return
        reply = self.codec.take_output()
        if reply:
            self.write(reply)
        if events:
            self.handler.connection_events(self, events)

    def _decrypt(self, data: bytes) -> bytes:
        """The TLS stage: ciphertext in, plaintext out; its own replies queued. A client
        that does not speak TLS is told so in plain text; a broken one gets TLS's alert.
        Either way only this connection closes."""
        assert self.tls is not None
        try:
            plain = self.tls.feed(data)
        except NotTls:
            log.info("%s %s: not TLS, closing", self.kind, self.peer)
            self._queue(NOT_TLS_REPLY)
            self.close("not TLS")
            return b""
        except TlsError as error:
            log.info("%s %s: %s, closing", self.kind, self.peer, error)
            self._queue(self.tls.take_output())
            self.close(str(error))
            return b""
        self._queue(self.tls.take_output())
        if self.tls.closed:
            self.close(CLIENT_CLOSED)
        return plain

    # -------------------------------------------------------------- writing

    def send_text(self, text: str) -> None:
        self.write(self.codec.encode_text(text))

    def set_echo(self, server_echoes: bool) -> None:
        data = self.codec.set_echo(server_echoes)
        if data:
            self.write(data)

    def send_gmcp(self, package: str, payload: str) -> None:
        self.write(self.codec.encode_gmcp(package, payload))

    def send_mssp(self, table: dict[str, str | list[str]]) -> None:
        self.write(self.codec.encode_mssp(table))

    def send_auth_result(self, ok: bool, reason: str) -> None:
        """The SSH gate's answer to a login (only gate connections have one)."""
        encode = getattr(self.codec, "encode_auth_result", None)
        if encode is not None:
            self.write(encode(ok, reason))

    @property
    def gmcp_enabled(self) -> bool:
        return self.codec.gmcp_enabled

    @property
    def echo_off(self) -> bool:
        return self.codec.echo_off

    @property
    def window(self) -> tuple[int, int] | None:
        return self.codec.window

    @property
    def terminal_type(self) -> str | None:
        return self.codec.terminal_type

    def write(self, data: bytes, pacer: Pacing | None = None) -> None:
        """Buffer ``data``; it leaves in the next loop turn, or when ``pacer`` gets to this
        connection (fanned-out lines, moo/net/fanout.py) unless something else is written
        first."""
        if self.closed or not data:
            return
        if self.tls is not None:
            self._write_tls(data, pacer)
            return
        if len(self._outbuf) + len(data) > self.limits.output_buffer_bytes:
            self._drop(len(data))
            return
        self._outbuf += data
        self._schedule(pacer)

    def _schedule(self, pacer: Pacing | None) -> None:
        """Arrange for the buffer to be sent: by a flush in the next loop turn, or by
        ``pacer`` (once; a flush scheduled meanwhile sends it first)."""
        if self._flush_scheduled or self._writing or self._frozen:
            return  # the flush, the writer or the thaw sends it
        if pacer is None:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)
        elif not self._paced:
            self._paced = True
            pacer.add(self)

    def flush_now(self) -> None:
        """Send a flush scheduled for the next loop turn now: the caller has written all
        that this turn gives this connection (the front, after a frame of the engine's
        answers), so waiting a turn would only add a loop iteration to every reply."""
        if self._flush_scheduled:
            self._flush()

    def paced_flush(self) -> None:
        """A pacer's turn for this connection: send what waits, unless a flush is already
        scheduled or the socket is waiting to be writable."""
        self._paced = False
        if self._outbuf and not self._flush_scheduled and not self._writing:
            self._flush()

    def _write_tls(self, data: bytes, pacer: Pacing | None = None) -> None:
        """``write`` on a TLS connection. Output over the cap is dropped before it is
        encrypted (a dropped TLS record would break every record after it), and nothing
        may follow close_notify."""
        assert self.tls is not None
        if self._closing_reason is not None:
            return
        if len(self._outbuf) + len(data) > self.limits.output_buffer_bytes:
            self._drop(len(data))
            return
        self._queue(self.tls.encrypt(data), pacer)

    def _drop(self, size: int) -> None:
        """Output past the cap: counted (the client is told once it drains), and the
        stall timer starts."""
        self._dropped += size
        if self._stall_timer is None:
            self._stall_timer = self.loop.call_later(
                self.limits.output_stall_seconds, self._on_stalled
            )

    def _queue(self, data: bytes, pacer: Pacing | None = None) -> None:
        """Bytes for the wire (already encrypted on a TLS connection) into the buffer."""
        if self.closed or not data:
            return
        self._outbuf += data
        self._schedule(pacer)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._frozen and self._writing:  # fired as the writer: thaw() flushes again
            self.loop.remove_writer(self.fd)
            self._writing = False
        if self.closed or self._frozen:
            return
        if self._outbuf:
            try:
                sent = self.sock.send(self._outbuf)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as error:
                self._abort(f"{WRITE_ERROR}: {error.strerror or error}")
                return
            del self._outbuf[:sent]
        if self._dropped and len(self._outbuf) < self.limits.output_buffer_bytes // 2:
            notice = (
                f"*** {self._dropped} bytes of output were dropped: your client fell behind ***\n"
            )
            self._dropped = 0
            if self._stall_timer is not None:
                self._stall_timer.cancel()
                self._stall_timer = None
            encoded = self.codec.encode_text(notice)
            self._outbuf += self.tls.encrypt(encoded) if self.tls is not None else encoded
        if self._outbuf:
            if not self._writing:
                self.loop.add_writer(self.fd, self._flush)
                self._writing = True
        else:
            if self._writing:
                self.loop.remove_writer(self.fd)
                self._writing = False
            if self._closing_reason is not None:
                self._abort(self._closing_reason)

    def _on_stalled(self) -> None:
        """Output was dropped and the client has not caught up for ``output_stall_seconds``."""
        self._stall_timer = None
        if self._frozen:  # its socket may be on its way to another process: at the thaw
            self._close_on_thaw = STALLED
            return
        self._abort(STALLED)

    # -------------------------------------------------------------- closing

    def close(self, reason: str, *, even_if_frozen: bool = False) -> None:
        """Stop reading, send what is buffered, then close. A frozen connection closes
        when thawed (its state may be on its way to another process), unless
        ``even_if_frozen`` (upgrade levels 2 and 3 close their players themselves)."""
        if self.closed or self._closing_reason is not None:
            return
        if self._frozen and not even_if_frozen:
            self._close_on_thaw = self._close_on_thaw or reason
            return
        self.pause_reading()
        self._frozen = False
        if self.tls is not None:
            self._queue(self.tls.close_notify())
        self._closing_reason = reason
        if not self._flush_scheduled and not self._writing:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _abort(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self._unregister()
        self._outbuf.clear()
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        with contextlib.suppress(OSError):
            # A hot upgrade's replacement may hold a copy of this socket (pre-copied):
            # shutdown, unlike close, ends the connection for the client all the same.
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()
        self.handler.connection_closed(self, reason)

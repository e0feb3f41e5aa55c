"""A framed stream between two of our processes (the front and its engine), on callbacks.

1. ``_on_readable`` takes what the kernel has; a ``FrameDecoder`` cuts it into frames and
   decodes each into a list of messages; each decoded frame goes to ``on_frame``, and
   then ``on_read_done`` is told that this read's frames are all in.
2. ``queue(payload)`` appends a frame to the output buffer, sent once per loop turn;
   ``send(payload)`` sends it at once, as far as the kernel takes it.
3. ``send_now()`` sends the whole buffer before it returns (the engine's rule: a group of
   output is in the front's hands before the journal write that makes it durable). The
   kernel's buffer is set large, so this rarely waits; if the peer does not read for
   ``SEND_TIMEOUT`` seconds, the link is closed.
4. EOF, an error or a frame that does not decode closes the link; ``on_closed`` is told.

The socket may be an ``ssl.SSLSocket`` (an engine over TCP, moo/net/link_tcp.py): its
"would block" is ``SSLWantReadError``/``SSLWantWriteError``, and bytes it has already
decrypted (``pending()``) are read in the same turn, since the kernel will not say so.

Callbacks, not asyncio streams, for the reason ``connection.py`` gives: nothing may be
lost inside a cancelled coroutine, and ``send_now`` must run inside a synchronous commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import socket
import ssl
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from moo.errors import ProtocolError
from moo.net.gate_protocol import FrameDecoder

log = logging.getLogger(__name__)

READ_SIZE = 1 << 18
SOCKET_BUFFER = 4 << 20
SEND_TIMEOUT = 10.0

M = TypeVar("M")

_WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


def frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


class Link(Generic[M]):
    """One end of a framed stream. Knows nothing of what the messages mean."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        decode: Callable[[bytes], list[M]],
        on_frame: Callable[[list[M]], None],
        on_closed: Callable[[str], None],
        *,
        max_frame: int,
        on_read_done: Callable[[], None] | None = None,
    ) -> None:
        sock.setblocking(False)
        for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)
        self.loop = loop
        self.sock = sock
        self.fd = sock.fileno()
        self._decoder: FrameDecoder[list[M]] = FrameDecoder(decode, max_frame=max_frame)
        self._on_frame = on_frame
        self._on_closed = on_closed
        self._on_read_done = on_read_done
        self._out = bytearray()
        self._writing = False
        self._flush_scheduled = False
        self.closed = False
        loop.add_reader(self.fd, self._on_readable)
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            loop.call_soon(self._on_readable)

    # -------------------------------------------------------------- reading

    def _on_readable(self) -> None:
        try:
            data = self.sock.recv(READ_SIZE)
            if isinstance(self.sock, ssl.SSLSocket):
                while data and (more := self.sock.pending()):
                    data += self.sock.recv(more)
        except _WOULD_BLOCK:
            return
        except OSError as error:
            self.close(f"read error: {error.strerror or error}")
            return
        if not data:
            self.close("closed by peer")
            return
        try:
            frames = self._decoder.feed(data)
        except (ProtocolError, ValueError) as error:
            self.close(f"protocol error: {error}")
            return
        for messages in frames:
            if self.closed:
                return
            self._on_frame(messages)
        if frames and self._on_read_done is not None and not self.closed:
            self._on_read_done()

    # -------------------------------------------------------------- writing

    def queue(self, payload: bytes) -> None:
        """Send ``payload`` as one frame, at the end of this loop turn."""
        if self.closed:
            return
        self._out += frame(payload)
        if not self._flush_scheduled and not self._writing:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def send_now(self) -> bool:
        """Send everything queued before returning (waiting for the peer to read, at most
        ``SEND_TIMEOUT``). False if the link is closed or closes meanwhile."""
        deadline = time.monotonic() + SEND_TIMEOUT
        while self._out and not self.closed:
            if not self._send_some():
                return False
            if self._out:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.close("the peer stopped reading")
                    return False
                select.select([], [self.fd], [], remaining)
        return not self.closed

    def send(self, payload: bytes) -> None:
        """Send ``payload`` as one frame now, as far as the kernel takes it without
        waiting; the rest at the end of this loop turn (a caller whose turn's work is
        done: a reply waits no extra loop iteration)."""
        if self.closed:
            return
        self._out += frame(payload)
        if not self._writing and not self._send_some():
            return
        if self._out and not self._flush_scheduled and not self._writing:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _send_some(self) -> bool:
        try:
            sent = self.sock.send(self._out)
        except _WOULD_BLOCK:
            return True
        except OSError as error:
            self.close(f"write error: {error.strerror or error}")
            return False
        del self._out[:sent]
        return True

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.closed:
            return
        if self._out and not self._send_some():
            return
        if self._out and not self._writing:
            self.loop.add_writer(self.fd, self._flush)
            self._writing = True
        elif not self._out and self._writing:
            self.loop.remove_writer(self.fd)
            self._writing = False

    @property
    def unsent(self) -> int:
        return len(self._out)

    # -------------------------------------------------------------- closing

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.loop.remove_reader(self.fd)
        if self._writing:
            self.loop.remove_writer(self.fd)
            self._writing = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()
        self._on_closed(reason)

"""The control channel between a running server and its replacement.

A ``socket.socketpair(AF_UNIX, SOCK_SEQPACKET)``: the old server keeps one end and
passes the other to the replacement (the only file descriptor it inherits). SEQPACKET
keeps message boundaries, and file descriptors ride on the message that describes
them (``SCM_RIGHTS``), so a batch of sessions and its sockets arrive together or not
at all. Messages are JSON objects with a type ``t`` (msgspec's codec: the stdlib's took
10 us per session each way, a fifth of the freeze at 1000 sessions); at most
``MAX_FDS`` descriptors go with one message (the kernel refuses more than 253) and a
message stays under ``MAX_MESSAGE`` bytes, so big session state is split across several.

The conversation (see handoff.py and adopt.py):

    replacement -> old   hello   {version, formats: {session_state, journal, checkpoint}, checks}
    old -> replacement   precopy {now}           level 1, while the old server still serves:
    old -> replacement   output / input {sid, ...}   big unsent output or unread lines, chunked
    old -> replacement   sessions {items: [...]}  + one fd per item   (repeated)
    old -> replacement   done    {sessions: N, changed: N, gone: []}
    replacement -> old   prebuilt {sessions: N}
    old -> replacement   freeze  {position, listeners: [...], gate_pid, ...}  + lock, listener fds
    old -> replacement   output / input / sessions   as above, for sessions new since
    old -> replacement   updates {items: [...]}  sessions changed since the pre-copy, no fds
    old -> replacement   done    {sessions: N, changed: N, gone: [session ids]}
    replacement -> old   ready   {sessions: N}   (or "error" {reason} at any step)
    old -> replacement   go      {frozen_at}     the freeze began (time.monotonic())
    replacement -> old   serving {}              the old server's point of no return
    (level 3: old -> replacement restart {command}, then the old server exits)
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import msgspec

from moo.errors import ChannelClosed, ProtocolError

MAX_FDS = 200
MAX_MESSAGE = 60_000
RECV_SIZE = 1 << 17


def socketpair() -> tuple[socket.socket, socket.socket]:
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for end in (parent, child):
        end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    return parent, child


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def decode(data: bytes) -> dict[str, Any]:
    try:
        message = _decoder.decode(data)
    except msgspec.DecodeError as error:
        raise ProtocolError(f"control message is not JSON: {error}") from None
    if not isinstance(message, dict) or not isinstance(message.get("t"), str):
        raise ProtocolError("control message has no type")
    return message


class Channel:
    """One end of the control channel, used from the event loop."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock

    async def send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        await self.send_encoded(_encoder.encode(message), fds)

    async def send_encoded(self, data: bytes, fds: list[int] | None = None) -> None:
        """Send one message already encoded (``encode_item``/``batch_message``)."""
        loop = asyncio.get_running_loop()
        while not self._try_send(data, fds):
            ready = loop.create_future()
            loop.add_writer(self.sock.fileno(), ready.set_result, None)
            try:
                await ready
            finally:
                loop.remove_writer(self.sock.fileno())

    def send_nowait(self, message: dict[str, Any], fds: list[int] | None = None) -> bool:
        """Send ``message`` at once if the socket has room (True), without yielding to
        the loop; False if it would have to wait (then ``send`` it)."""
        return self._try_send(_encoder.encode(message), fds)

    def _try_send(self, data: bytes, fds: list[int] | None) -> bool:
        if fds and len(fds) > MAX_FDS:
            raise ProtocolError(f"{len(fds)} descriptors in one message (at most {MAX_FDS})")
        if len(data) > RECV_SIZE:
            raise ProtocolError(f"control message too large ({len(data)} bytes)")
        try:
            if fds:
                socket.send_fds(self.sock, [data], fds)
            else:
                self.sock.send(data)
        except BlockingIOError:
            return False
        return True

    async def receive(self) -> tuple[dict[str, Any], list[int]]:
        """The next message and the descriptors that came with it. ChannelClosed on EOF,
        ProtocolError for anything that is not a message."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                data, fds, flags, _addr = socket.recv_fds(self.sock, RECV_SIZE, MAX_FDS)
            except BlockingIOError:
                ready = loop.create_future()
                loop.add_reader(self.sock.fileno(), ready.set_result, None)
                try:
                    await ready
                finally:
                    loop.remove_reader(self.sock.fileno())
                continue
            if not data and not fds:
                raise ChannelClosed("the other side closed the control channel")
            if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
                for fd in fds:
                    socket.close(fd)
                raise ProtocolError("a control message was truncated")
            return decode(data), list(fds)

    def close(self) -> None:
        self.sock.close()


Batch = tuple[list[bytes], list[int]]


class Batcher:
    """JSON-encoded items, each with its one fd, gathered into messages under MAX_FDS and
    MAX_MESSAGE as they come, so each message can leave as soon as it is full (the other
    side rebuilds a batch while this one exports the next). Each item is encoded once, by
    the caller: encoding 1000 sessions twice was a third of a hot upgrade's freeze."""

    def __init__(self) -> None:
        self._items: list[bytes] = []
        self._fds: list[int] = []
        self._size = 0

    def add(self, item: bytes, fd: int | None) -> Batch | None:
        """Add one item (with its fd, or None); returns the batch it closed, if any."""
        if len(item) > MAX_MESSAGE:
            raise ProtocolError(f"a session's state is too large to hand over ({len(item)} bytes)")
        full = None
        if self._items and (len(self._items) >= MAX_FDS or self._size + len(item) > MAX_MESSAGE):
            full = self.take()
        self._items.append(item)
        if fd is not None:
            self._fds.append(fd)
        self._size += len(item) + 1
        return full

    def take(self) -> Batch | None:
        """The batch gathered so far (None if empty), and start a new one."""
        if not self._items:
            return None
        batch = (self._items, self._fds)
        self._items, self._fds, self._size = [], [], 0
        return batch


def batch_message(kind: str, encoded: list[bytes]) -> bytes:
    """``{"t": kind, "items": [...]}`` from items already encoded."""
    return b'{"t":"' + kind.encode() + b'","items":[' + b",".join(encoded) + b"]}"


def encode_item(item: dict[str, Any]) -> bytes:
    return _encoder.encode(item)

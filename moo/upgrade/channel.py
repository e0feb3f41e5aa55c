"""The control channel between a running server and its replacement.

A ``socket.socketpair(AF_UNIX, SOCK_SEQPACKET)``: the old server keeps one end and
passes the other to the replacement (the only file descriptor it inherits). SEQPACKET
keeps message boundaries, and file descriptors ride on the message that describes
them (``SCM_RIGHTS``), so a batch of sessions and its sockets arrive together or not
at all. Messages are the typed Structs of ``moo/protocol/upgrade.py``, which lists the
conversation: msgpack after HELLO, JSON for HELLO itself (``send_hello`` /
``receive_hello``). At most ``MAX_FDS`` descriptors go with one message (the kernel
refuses more than 253) and a message stays under ``MAX_MESSAGE`` bytes, so big session
state is split across several.
"""

from __future__ import annotations

import asyncio
import socket

from moo.errors import ChannelClosed, ProtocolError
from moo.protocol import upgrade as msg

MAX_FDS = 200
MAX_MESSAGE = 60_000
RECV_SIZE = 1 << 17


def socketpair() -> tuple[socket.socket, socket.socket]:
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for end in (parent, child):
        end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    return parent, child


class Channel:
    """One end of the control channel, used from the event loop."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock

    async def send(self, message: msg.Message, fds: list[int] | None = None) -> None:
        await self.send_encoded(msg.encode(message), fds)

    async def send_hello(self, message: msg.Hello | msg.Error) -> None:
        """The replacement's first message (or an ERROR in its place), in JSON."""
        await self.send_encoded(msg.encode_hello(message))

    async def send_encoded(self, data: bytes, fds: list[int] | None = None) -> None:
        """Send one message already encoded (``msg.batch``)."""
        loop = asyncio.get_running_loop()
        while not self._try_send(data, fds):
            ready = loop.create_future()
            loop.add_writer(self.sock.fileno(), ready.set_result, None)
            try:
                await ready
            finally:
                loop.remove_writer(self.sock.fileno())

    def send_nowait(self, message: msg.Message, fds: list[int] | None = None) -> bool:
        """Send ``message`` at once if the socket has room (True), without yielding to
        the loop; False if it would have to wait (then ``send`` it)."""
        return self._try_send(msg.encode(message), fds)

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

    async def receive(self) -> tuple[msg.Message, list[int]]:
        """The next message and the descriptors that came with it. ChannelClosed on EOF,
        ProtocolError for anything that is not a message."""
        data, fds = await self._receive()
        try:
            return msg.decode(data), fds
        except ProtocolError:
            _close(fds)
            raise

    async def receive_hello(self) -> msg.Hello | msg.Error:
        """The replacement's first message (no descriptors come with it). ChannelClosed
        on EOF; ProtocolError for anything else, or a HELLO of another protocol."""
        data, fds = await self._receive()
        _close(fds)
        if fds:
            raise ProtocolError("descriptors came with the HELLO")
        return msg.decode_hello(data)

    async def _receive(self) -> tuple[bytes, list[int]]:
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
                _close(fds)
                raise ProtocolError("a control message was truncated")
            return data, list(fds)

    def close(self) -> None:
        self.sock.close()


def _close(fds: list[int]) -> None:
    for fd in fds:
        socket.close(fd)


Batch = tuple[list[bytes], list[int]]


class Batcher:
    """Encoded items (``msg.encode_item``), each with its one fd, gathered into
    messages under MAX_FDS and MAX_MESSAGE as they come, so each message can leave as
    soon as it is full (the other side rebuilds a batch while this one exports the
    next). Each item is encoded once, by the caller: encoding 1000 sessions twice was a
    third of a hot upgrade's freeze."""

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

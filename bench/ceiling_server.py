"""The ceilings: the fastest servers a Python program can be on this machine, for
``bench/peers.py``'s figures to be read against.

``python bench/ceiling_server.py [--relay]`` listens on 127.0.0.1 (an ephemeral port,
printed as ``listening on PORT``) and answers every line at once with a fixed text and the
bench's marker line: no world, no parsing, no session, on uvloop when it is installed (as
our server runs). It does the same writes as a MOO server, though: ``go N`` puts the
connection in room N, and ``say`` is heard by everyone in the speaker's room (one write to
each, as LambdaMOO and our server do), so 10 players to a room cost ten writes per
``say``. It is what any Python MOO server would be if its commands cost nothing, measured
by the same client in the same run:

- one process (the default): a goal above its figure (say "2x the peer" with one client,
  where each round trip's wake-ups are the cost) cannot be met by a server written in
  Python on this machine, nor shown by this client;
- ``--relay``: the shape of our server, a front holding the connections and a second
  process answering the lines, joined by a Unix socket that carries each loop turn's lines
  as one frame (a 4-byte length and a msgpack array, as moo/protocol/front.py's frames).
  A goal above its figure cannot be met by a front and an engine written in Python here,
  whatever the engine's commands cost.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import struct
import subprocess
import sys
from pathlib import Path

import msgspec

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.commands import MARK_LINE  # noqa: E402

ANSWERS = {
    b"say": b'You say, "hello there"\r\n' + MARK_LINE,
    b"look": b"A room\r\nA plain room for the bench.\r\nYou see nothing here.\r\n" + MARK_LINE,
}
HEARD = b'Someone says, "hello there"\r\n'
LENGTH = struct.Struct(">I")

Heard = list[tuple[list[int], bytes]]
"""What others hear: (connection ids, text) for each line said to a room."""


class Rooms:
    """Which room each connection is in (``go N``); ``say`` is heard there."""

    def __init__(self) -> None:
        self.room_of: dict[int, int] = {}
        self.members: dict[int, dict[int, None]] = {}

    def answer(self, conn: int, line: bytes, heard: Heard) -> bytes:
        """``conn``'s own answer to ``line``; what others hear is appended to ``heard``."""
        verb, _, rest = line.partition(b" ")
        if verb == b"go" and rest.isdigit():
            self.leave(conn)
            joined = self.room_of[conn] = int(rest)
            self.members.setdefault(joined, {})[conn] = None
        elif verb == b"say" and (room := self.room_of.get(conn)) is not None:
            others = [other for other in self.members[room] if other != conn]
            if others:
                heard.append((others, HEARD))
        return ANSWERS.get(verb, MARK_LINE)

    def leave(self, conn: int) -> None:
        room = self.room_of.pop(conn, None)
        if room is not None:
            self.members[room].pop(conn, None)


class Outbox:
    """Writes coalesced per connection per loop turn (one send each, as our server does:
    without it a room of 100 costs a send per line each hears, and a naive server is no
    ceiling)."""

    def __init__(self) -> None:
        self.pending: dict[asyncio.Transport, list[bytes]] = {}

    def write(self, transport: asyncio.Transport, data: bytes) -> None:
        pending = self.pending
        if not pending:
            asyncio.get_running_loop().call_soon(self.flush)
        chunks = pending.get(transport)
        if chunks is None:
            pending[transport] = [data]
        else:
            chunks.append(data)

    def flush(self) -> None:
        pending, self.pending = self.pending, {}
        for transport, chunks in pending.items():
            if not transport.is_closing():
                transport.write(b"".join(chunks))


OUTBOX = Outbox()


class Answerer(asyncio.Protocol):
    """Each complete line gets its answer (``say``/``look``, else the marker alone)."""

    rooms = Rooms()
    transports: dict[int, asyncio.Transport] = {}
    count = 0

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.pending = b""
        Answerer.count += 1
        self.id = Answerer.count

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        self.transports[self.id] = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transports.pop(self.id, None)
        self.rooms.leave(self.id)

    def data_received(self, data: bytes) -> None:
        *lines, self.pending = (self.pending + data).split(b"\r\n")
        if not lines or self.transport is None:
            return
        heard: Heard = []
        OUTBOX.write(
            self.transport, b"".join(self.rooms.answer(self.id, line, heard) for line in lines)
        )
        for ids, text in heard:
            for other in ids:
                if (transport := self.transports.get(other)) is not None:
                    OUTBOX.write(transport, text)


class Framed(asyncio.Protocol):
    """One end of the relay's Unix socket: frames out once per loop turn, frames in."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.outgoing: list[tuple[int | list[int], bytes]] = []
        self.scheduled = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, conn: int | list[int], data: bytes) -> None:
        self.outgoing.append((conn, data))
        if not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self.scheduled = False
        payload = msgspec.msgpack.encode(self.outgoing)
        self.outgoing = []
        if self.transport is not None:
            self.transport.write(LENGTH.pack(len(payload)) + payload)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while len(buffer) >= 4:
            (size,) = LENGTH.unpack_from(buffer)
            if len(buffer) < 4 + size:
                break
            items = msgspec.msgpack.decode(bytes(buffer[4 : 4 + size]))
            del buffer[: 4 + size]
            for conn, line in items:
                self.received(conn, line)

    def received(self, conn: int | list[int], data: bytes) -> None:
        raise NotImplementedError


class Back(Framed):
    """The relay's second process: answers each line it is sent (a line many hear goes to
    the front once, with their ids, as our engine's ``OutMany``)."""

    rooms = Rooms()

    def received(self, conn: int | list[int], data: bytes) -> None:
        assert isinstance(conn, int)
        heard: Heard = []
        self.send(conn, self.rooms.answer(conn, data, heard))
        for ids, text in heard:
            self.send(ids, text)


class Front(Framed):
    """The relay's first process: its clients' lines to the back, answers to the clients."""

    def __init__(self) -> None:
        super().__init__()
        self.clients: dict[int, asyncio.Transport] = {}

    def received(self, conn: int | list[int], data: bytes) -> None:
        for one in conn if isinstance(conn, list) else (conn,):
            client = self.clients.get(one)
            if client is not None:
                OUTBOX.write(client, data)


class Relayed(asyncio.Protocol):
    """A client of the relay's front: its lines go to the back."""

    count = 0

    def __init__(self, front: Front) -> None:
        self.front = front
        Relayed.count += 1
        self.id = Relayed.count
        self.pending = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.front.clients[self.id] = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.front.clients.pop(self.id, None)

    def data_received(self, data: bytes) -> None:
        *lines, self.pending = (self.pending + data).split(b"\r\n")
        for line in lines:
            self.front.send(self.id, line)


async def serve(relay: bool) -> None:
    loop = asyncio.get_running_loop()
    if relay:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        subprocess.Popen(
            [sys.executable, __file__, "--back", str(theirs.fileno())], pass_fds=[theirs.fileno()]
        )
        theirs.close()
        _, front = await loop.create_unix_connection(Front, sock=mine)
        server = await loop.create_server(lambda: Relayed(front), "127.0.0.1", 0)
    else:
        server = await loop.create_server(Answerer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on {port}", flush=True)
    await server.serve_forever()


async def back(fd: int) -> None:
    """The relay's back: answer until the front's end of the socket closes."""
    loop = asyncio.get_running_loop()
    closed = loop.create_future()

    class Ending(Back):
        def connection_lost(self, exc: Exception | None) -> None:
            closed.set_result(None)

    await loop.create_unix_connection(Ending, sock=socket.socket(fileno=fd))
    await closed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--relay", action="store_true", help="a front and a back process")
    parser.add_argument("--back", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    coro = back(args.back) if args.back is not None else serve(args.relay)
    try:
        import uvloop  # our server's default loop, when installed
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ceiling: the fastest server a Python program can be on this machine, for
``bench/peers.py``'s figures to be read against.

``python bench/ceiling_server.py`` listens on 127.0.0.1 (an ephemeral port, printed as
``listening on PORT``) and answers every line at once with a fixed text and the bench's
marker line: no world, no parsing, no session, one process, on uvloop when it is installed
(as our server runs). It is what any Python MOO server would be if its commands cost
nothing, measured by the same client in the same run. A goal above its figure (say
"2x the peer" at 10 clients, where the client itself is the limit) cannot be met by a
server written in Python on this machine, nor shown by this client.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.commands import MARK_LINE  # noqa: E402

ANSWERS = {
    b"say": b'You say, "hello there"\r\n' + MARK_LINE,
    b"look": b"A room\r\nA plain room for the bench.\r\nYou see nothing here.\r\n" + MARK_LINE,
}


class Answerer(asyncio.Protocol):
    """Each complete line gets its answer (``say``/``look``, else the marker alone)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.pending = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        *lines, self.pending = (self.pending + data).split(b"\r\n")
        if lines and self.transport is not None:
            self.transport.write(
                b"".join(ANSWERS.get(line.split(b" ", 1)[0], MARK_LINE) for line in lines)
            )


async def serve() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Answerer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on {port}", flush=True)
    await server.serve_forever()


def main() -> int:
    try:
        import uvloop  # our server's default loop, when installed
    except ImportError:
        asyncio.run(serve())
    else:
        uvloop.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Drive the real tintin++ MUD client (Debian's ``tintin++``, binary ``tt++``) from a test.

The pipeline: a test writes a tintin script (``#session`` to the server, ``#action``s that
answer what the server prints, ``#event``s that log what tintin decoded from the telnet
options, ``#end`` when done); ``run_tintin`` runs ``tt++ -G -H script`` (``-H``: no terminal
needed) with a timeout and returns what tintin logged. ``Relay`` sits between tintin and the
server when a test needs the bytes on the wire: it forwards both ways and keeps every byte the
server sent.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

INSTALL_HINT = (
    "tt++ (Debian package tintin++) is not installed: `./dev test` installs it when run as "
    "root where apt-get exists; otherwise run `apt-get install tintin++`"
)


def tintin_binary() -> str:
    """The path of tt++; Debian puts it in /usr/games, which is often not on PATH."""
    found = shutil.which("tt++") or shutil.which("tt++", path="/usr/games")
    if found is None:
        raise AssertionError(INSTALL_HINT)  # a failure, not a skip: the client is part of the test
    return found


async def run_tintin(script: str, workdir: Path, timeout: float = 12.0) -> str:
    """Run ``script`` in tt++ until it ends itself; its screen output (for failure messages).

    Raises AssertionError when tintin has not ended within ``timeout`` seconds.
    """
    path = workdir / "script.tin"
    path.write_text(script)
    process = await asyncio.create_subprocess_exec(
        tintin_binary(),
        "-G",
        "-H",
        str(path),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=workdir,
        # HOME: tintin makes ~/.tintin and would read a user's settings from it.
        env={**os.environ, "TERM": "dumb", "HOME": str(workdir)},
    )
    try:
        async with asyncio.timeout(timeout):
            screen, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        screen, _ = await process.communicate()
        raise AssertionError(
            f"tt++ did not end within {timeout}s; its screen ended with "
            f"{screen.decode(errors='replace')[-1500:]!r}"
        ) from None
    return screen.decode(errors="replace")


def session(port: int, log: Path) -> str:
    """The tintin lines that log the session's text (plain, no colour codes) to ``log`` and
    connect to 127.0.0.1:``port``; put events and actions before them."""
    return (
        "#config {LOG MODE} {PLAIN};\n"
        f"#event {{SESSION CONNECTED}} {{#log overwrite {log}}};\n"
        f"#session {{moo}} {{127.0.0.1}} {{{port}}};\n"
    )


class Relay:
    """A TCP relay on 127.0.0.1 (port 0) to ``target_port``; ``from_server`` holds every byte
    the server sent, as it came off the wire."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.from_server = b""
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._connected, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        for task in (
            asyncio.create_task(self._pump(reader, up_writer, record=False)),
            asyncio.create_task(self._pump(up_reader, writer, record=True)),
        ):
            self._tasks.add(task)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, record: bool
    ) -> None:
        try:
            while chunk := await reader.read(65536):
                if record:
                    self.from_server += chunk
                writer.write(chunk)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

"""MSSP and GMCP over a real telnet socket, byte for byte as a MUD client sends them."""

from __future__ import annotations

import asyncio
import json
import re
import zlib
from pathlib import Path

import pytest

from moo import __version__
from tests.loopback.conftest import login, player, unique_name, wizard
from tests.loopback.upgrade_helpers import start, upgrade
from tests.server_process import ServerProcess

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
MSSP, GMCP, MCCP2 = 70, 201, 86
MCCP2_START = bytes((IAC, SB, MCCP2, IAC, SE))


def gmcp(text: str) -> bytes:
    return bytes((IAC, SB, GMCP)) + text.encode() + bytes((IAC, SE))


class RawClient:
    """A telnet peer that keeps every byte: subnegotiations are what these tests read."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.seen = b""

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def until(self, pattern: bytes, timeout: float = 5.0) -> re.Match[bytes]:
        """Read until ``pattern`` (a regex over the raw bytes) matches; consume through it."""
        async with asyncio.timeout(timeout):
            while True:
                found = re.search(pattern, self.seen, re.DOTALL)
                if found:
                    self.seen = self.seen[found.end() :]
                    return found
                chunk = await self.reader.read(65536)
                assert chunk, f"closed; saw {self.seen[-300:]!r}"
                self.seen += chunk

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def test_a_crawler_gets_the_mssp_table(server: ServerProcess) -> None:
    client = await RawClient.connect(server.telnet_port)
    await client.until(re.escape(bytes((IAC, WILL, MSSP))))
    client.send(bytes((IAC, DO, MSSP)))
    table = (await client.until(rb"\xff\xfaF(.*?)\xff\xf0")).group(1)
    pairs = dict(re.findall(rb"\x01([^\x01\x02]+)\x02([^\x01\x02]*)", table))
    assert pairs[b"NAME"] == b"LambdaMOO-in-Python"
    assert pairs[b"CODEBASE"] == f"moo {__version__}".encode()
    assert pairs[b"PORT"] == str(server.telnet_port).encode()
    assert int(pairs[b"PLAYERS"]) >= 0 and int(pairs[b"UPTIME"]) > 1_600_000_000
    assert pairs[b"GMCP"] == b"1"
    await client.close()


async def test_gmcp_room_info_at_login_and_on_each_move(server: ServerProcess) -> None:
    name = unique_name("gmcp")
    await (await login(server.telnet_port, name, "gmcp-pw")).close()
    client = await RawClient.connect(server.telnet_port)
    await client.until(re.escape(bytes((IAC, WILL, GMCP))))
    client.send(bytes((IAC, DO, GMCP)))
    client.send(gmcp('Core.Hello {"client": "test", "version": "1"}'))
    client.send(gmcp('Core.Supports.Set ["Room 1", "Char 1"]'))
    client.send(gmcp("Core.Ping"))
    await client.until(re.escape(gmcp("Core.Ping")))
    client.send(f"connect {name} gmcp-pw\r\n".encode())
    first = json.loads((await client.until(rb"Room\.Info (.*?)\xff\xf0")).group(1))
    assert first["name"] == "The First Room" and "north" in first["exits"]
    await client.until(rb"Exits: ")
    client.send(b"north\r\n")
    moved = json.loads((await client.until(rb"Room\.Info (.*?)\xff\xf0")).group(1))
    assert moved["num"] == first["exits"]["north"]
    assert moved["name"] != "The First Room"
    await client.close()


async def test_no_gmcp_for_a_client_that_did_not_ask(server: ServerProcess) -> None:
    name = unique_name("plain")
    await (await login(server.telnet_port, name, "plain-pw")).close()
    client = await RawClient.connect(server.telnet_port)
    client.send(bytes((IAC, DO, GMCP)))  # agrees to GMCP but names no package
    client.send(f"connect {name} plain-pw\r\nnorth\r\nsouth\r\n".encode())
    await client.until(rb"Exits: .*Exits: .*Exits: ")
    assert b"Room.Info" not in client.seen
    await client.close()


class Mccp2Reader:
    """The client's side of MCCP2: plain bytes until ``IAC SB COMPRESS2 IAC SE``, then one zlib
    stream until it ends, then plain again (and so on)."""

    def __init__(self) -> None:
        self.text = b""
        self.streams = 0
        self._raw = b""
        self._zlib: zlib._Decompress | None = None

    def feed(self, data: bytes) -> None:
        while data:
            if self._zlib is None:
                data = self._raw + data
                start = data.find(MCCP2_START)
                if start < 0:
                    keep = len(MCCP2_START) - 1
                    self.text += data[:-keep] if len(data) > keep else b""
                    self._raw = data[-keep:] if len(data) > keep else data
                    return
                self.text += data[:start]
                self._raw = b""
                data = data[start + len(MCCP2_START) :]
                self._zlib = zlib.decompressobj()
                self.streams += 1
            else:
                self.text += self._zlib.decompress(data)
                if not self._zlib.eof:
                    return
                data = self._zlib.unused_data
                self._zlib = None


@pytest.mark.parametrize(
    ("flags", "streams"),
    [
        ((), 1),  # the front holds the stream: only the engine behind it is replaced
        (("--single-process",), 2),  # the old server ends its stream, the new one begins one
    ],
)
async def test_mccp2_compresses_and_survives_a_hot_upgrade(
    tmp_path: Path, flags: tuple[str, ...], streams: int
) -> None:
    server = start(tmp_path / "data", flags=flags)
    try:
        name = unique_name("zip")
        await (await login(server.telnet_port, name, "zip-pw")).close()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.telnet_port)
        stream = Mccp2Reader()

        async def until(text: bytes) -> None:
            async with asyncio.timeout(30):
                while text not in stream.text:
                    chunk = await reader.read(65536)
                    assert chunk, stream.text[-300:]
                    stream.feed(chunk)

        writer.write(bytes((IAC, DO, MCCP2)) + f"connect {name} zip-pw\r\n".encode())
        await until(b"Exits: ")
        assert stream.streams == 1
        writer.write(b"say squeezed\r\n")
        await until(b'You say, "squeezed"')
        # A line many hear is encoded once, then compressed only for the one who asked.
        plain, plain_name = await player(server, "plain")
        other, _ = await player(server, "other")
        plain.send_line("say to everyone")  # heard by the compressing client and by other
        await until(f'{plain_name} says, "to everyone"'.encode())
        await other.expect(f'{plain_name} says, "to everyone"')
        writer.write(b"say back\r\n")
        await plain.expect(f'{name} says, "back"')
        await other.expect(f'{name} says, "back"')
        await plain.close()
        await other.close()
        wiz = await wizard(server)
        await upgrade(server, wiz)
        writer.write(b"say still squeezed\r\n")
        await until(b'You say, "still squeezed"')
        assert stream.streams == streams
        writer.close()
        await wiz.close()
    finally:
        server.stop()

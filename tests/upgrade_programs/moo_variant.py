"""The real server with one difference, chosen by flags before ``serve`` (a single-process
server's replacement) or ``engine`` (an engine's, behind a front):

--version V      report version V (a "new release")
--load-fails     the world does not load (a release whose loader is broken)
--no-sessions    cannot read this session-state version (level 2)
--restart-only   takes neither sessions nor sockets (level 3)
--reads-checkpoint N   reads only checkpoint format N (an incompatible release)
--slow-prebuild S      answers PREBUILT S seconds after the pre-copy (the running server
                       serves on meanwhile: sessions change, close and connect)
--protocol N     says HELLO with handoff protocol N (a release that speaks another one)
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import moo

args = sys.argv[1:]
command = next(i for i, word in enumerate(args) if word in ("serve", "engine"))
rest = args[command:]
flags = args[:command]
if "--version" in flags:
    moo.__version__ = flags[flags.index("--version") + 1]

from moo import cli  # noqa: E402
from moo.errors import CheckpointError  # noqa: E402
from moo.persist.store import Store  # noqa: E402
from moo.protocol.upgrade import Hello, Precopy  # noqa: E402
from moo.server import Server  # noqa: E402
from moo.upgrade import adopt, protocol  # noqa: E402
from moo.upgrade.channel import Channel  # noqa: E402

if "--load-fails" in flags:

    def broken(*_args: object, **_kwargs: object) -> object:
        raise CheckpointError("ckpt-00000001.mck: checksum mismatch (simulated by moo_variant)")

    Store.load_readonly = staticmethod(broken)  # type: ignore[assignment]

original_hello = protocol.hello
if "--no-sessions" in flags:
    original_reads = protocol.reads

    def reads() -> dict[str, list[int]]:
        found = original_reads()
        found["session_state"] = [99]
        return found

    protocol.reads = reads
if "--reads-checkpoint" in flags:
    only = int(flags[flags.index("--reads-checkpoint") + 1])
    earlier_reads = protocol.reads

    def reads_other_checkpoints() -> dict[str, list[int]]:
        found = earlier_reads()
        found["checkpoint"] = [only]
        return found

    protocol.reads = reads_other_checkpoints
if "--restart-only" in flags:

    def hello(checks: dict[str, str], load_seconds: float) -> Hello:
        message = original_hello(checks, load_seconds)
        return msgspec.structs.replace(message, accepts=[protocol.RESTART])

    protocol.hello = hello
if "--protocol" in flags:  # a replacement of a release with another handoff protocol
    speaks = int(flags[flags.index("--protocol") + 1])

    def other_hello(checks: dict[str, str], load_seconds: float) -> Hello:
        return msgspec.structs.replace(original_hello(checks, load_seconds), protocol=speaks)

    protocol.hello = other_hello

if "--slow-prebuild" in flags:
    delay = float(flags[flags.index("--slow-prebuild") + 1])
    prompt_precopy = adopt.receive_precopy

    async def slow_precopy(control: Channel, server: Server, message: Precopy) -> adopt.Prebuilt:
        prebuilt = await prompt_precopy(control, server, message)
        await asyncio.sleep(delay)
        return prebuilt

    adopt.receive_precopy = slow_precopy

sys.exit(cli.main(rest))

"""LambdaCore's own utility verbs, run on a peer LambdaMOO and on this server's language,
compared answer by answer: where the language's semantics differ from LambdaMOO's.

``python bench/lambdacore_diff.py --peer HOST:PORT [--db LambdaCore-17May04.db]`` prints
one JSON object and writes it to ``bench/results/lambdacore_diff.json``.

1. The peer is LambdaMOO 1.8 started by hand on a fresh copy of the same LambdaCore
   database (built from its public source outside the checkout; see the README's
   Benchmarks section); it is never started or built here. Its Wizard logs in with
   ``connect Wizard``.
2. Here, the same database is imported into a world in this process
   (moo/textdump/importer.py) with its own scheduler.
3. For each verb of the utility objects (``$string_utils``, ``$list_utils``, ...) that
   takes ``this none this``, is callable and by its name changes nothing (``SKIP``), each
   argument list of ``ARGS`` is tried on both as ``toliteral(`$util:verb(args) ! ANY')``;
   here each call's changes are undone after it. Answers are compared as the text after
   ``=> ``; a task stopped (ticks, seconds) is compared by the reason in its first
   traceback line.
4. The differences are printed grouped by verb, with the first example of each. Known
   causes (the JSON's ``known``): ticks counted per loop and call here (LambdaMOO counts
   opcodes, so a runaway stops on another line), ``aliases`` a built-in field here, and
   the order of ``children()``, which this world does not keep as LambdaMOO does.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.report import publish  # noqa: E402
from moo.lang.entries import run_eval  # noqa: E402
from moo.lang.scheduler import Scheduler  # noqa: E402
from moo.lang.task_api import Limits  # noqa: E402
from moo.lang.values import toliteral  # noqa: E402
from moo.textdump.importer import import_world  # noqa: E402
from moo.textdump.reader import read_textdump  # noqa: E402
from moo.world.world import World  # noqa: E402
from tests.unit.lang.test_task_helpers import FakeServices  # noqa: E402

RESULTS = REPO / "bench" / "results" / "lambdacore_diff.json"
DEFAULT_DB = REPO.parent / "shared" / "data" / "LambdaCore-17May04.db"
WIZARD = 2
UTILS = [
    *("string_utils", "list_utils", "math_utils", "set_utils", "seq_utils", "code_utils"),
    *("object_utils", "perm_utils", "convert_utils", "matrix_utils", "trig_utils"),
    *("match_utils", "command_utils", "lock_utils", "time_utils", "building_utils"),
]
ARGS = [
    "",
    '"hello world"',
    '"hello", "world"',
    "{1, 2, 3}",
    "#2",
    '#2, "x"',
    "1, 2",
    '{"a", "b"}, "c"',
    '"The quick brown fox", " "',
    "3",
    "-7, 2",
    "1.5",
    '"a,b,c", ","',
    "{3, 1, 2}, 1",
    '"abc", 1, 2',
    "{#2, #3}",
    '"Hello, World!", "o"',
    "{{1, 2}, {3, 4}}",
    '"%N says %s", #2',
    '"a*b", "axxb"',
    '#1, "name"',
    "{}",
    "10, 3",
]
SKIP = re.compile(
    r"frame|caller|random|connected|location|propert|set|add|remove|create|recycle|move|"
    r"kill|shutdown|dump|chown|chparent|clear|delete|write|reset|update|notify|tell|"
    r"announce|boot|suspend|read|yes_or_no"
)
STOPPED = re.compile(r"Task ran out of (ticks|seconds)")


class Peer:
    """The peer's Wizard, one ``;`` line at a time, its answer between markers."""

    async def open(self, host: str, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection(host, port, limit=2**26)
        self.writer.write(b"connect Wizard\r\nPREFIX <<begin>>\r\nSUFFIX <<end>>\r\n;1\r\n")
        await self.answer()

    async def answer(self) -> list[str]:
        lines: list[str] = []
        started = False
        while True:
            raw = await asyncio.wait_for(self.reader.readline(), 60)
            if not raw:
                raise ConnectionError("the peer closed the connection")
            line = raw.decode("latin-1").rstrip("\r\n")
            if line == "<<begin>>":
                started, lines = True, []
            elif line == "<<end>>" and started:
                return lines
            elif started:
                lines.append(line)

    async def ask(self, expression: str) -> str:
        self.writer.write(f";{expression}\r\n".encode("latin-1"))
        return summary(await self.answer())


def summary(lines: list[str]) -> str:
    """An answer as one comparable text: ``=> value``, or why the task stopped."""
    for line in lines:
        if line.startswith("=> "):
            return line
        stopped = STOPPED.search(line)
        if stopped:
            return f"stopped: {stopped.group(1)}"
    return " | ".join(lines[-3:])


def ours(world: World, scheduler: Scheduler, expression: str) -> str:
    class Undo(Exception):
        pass

    outcome: Any = None
    try:
        with world.transaction():
            outcome = run_eval(scheduler, WIZARD, expression)
            raise Undo
    except Undo:
        pass
    if outcome.status == "done":
        return f"=> {toliteral(outcome.value)}"
    if outcome.status == "aborted":
        return f"stopped: {outcome.value}"
    return " | ".join(outcome.lines()[-3:])


async def compare(args: argparse.Namespace) -> dict[str, Any]:
    dump = read_textdump(Path(args.db).read_text(encoding="latin-1"))
    world, _ = import_world(dump)
    services = FakeServices()
    scheduler = Scheduler(world, services, foreground=Limits())
    services.moo_tasks = scheduler
    host, _, port = args.peer.rpartition(":")
    peer = Peer()
    await peer.open(host, int(port))
    calls = 0
    differ: dict[str, dict[str, Any]] = {}
    for util in UTILS:
        oid = world.sys(util)
        if oid < 0:
            continue
        for verb in world.objects[oid].verbs:
            name = verb.names.split()[0].replace("*", "").strip('"')
            if (verb.dobj, verb.prep, verb.iobj) != ("this", "none", "this"):
                continue
            if "x" not in verb.perms or SKIP.search(name):
                continue
            for given in ARGS:
                expression = f'toliteral(`${util}:("{name}")({given}) ! ANY\')'
                calls += 1
                here = ours(world, scheduler, expression)
                there = await peer.ask(expression)
                if here != there:
                    entry = differ.setdefault(
                        f"${util}:{name}",
                        {"calls": 0, "debug_bit": "d" in verb.perms, "example": None},
                    )
                    entry["calls"] += 1
                    if entry["example"] is None:
                        entry["example"] = {"args": given, "ours": here, "peer": there}
    return {"calls": calls, "verbs_differing": len(differ), "differences": differ}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--peer", required=True, help="HOST:PORT of LambdaMOO on LambdaCore")
    parser.add_argument("--db", default=str(DEFAULT_DB), help="the database the peer runs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    started = time.monotonic()
    result = asyncio.run(compare(args))
    result["seconds"] = round(time.monotonic() - started, 1)
    result["known"] = {
        "children order": "children() lists the same objects in another order here",
        "ticks": "runaways stop on other lines: ticks per loop and call here, per opcode there",
        "aliases": "a built-in field here, a property of $root_class in LambdaCore",
    }
    publish(result, RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The MOO language's speed: classic programs run through ``;`` on our server and, with
``--peer``, on another MOO server (LambdaMOO 1.8 on LambdaCore) in the same run.

``python bench/lang.py [--peer HOST:PORT] [--peer-login "connect Wizard"] [--runs 3]``
prints one JSON object and writes it to ``bench/results/lang.json``. The goal (issue 20):
at least LambdaMOO's speed on every program, same run.

1. Start our server (``tests/server_process.py``). The peer is never started or built here:
   build LambdaMOO by hand from its public source in a folder outside the checkout, start it
   on LambdaCore, and give its address (see the README's Benchmarks section).
2. On each server, as a wizard, with the same MOO text: raise ``$server_options``' fg_ticks,
   fg_seconds and max_stack_depth (and ``load_server_options()``) so no program is cut short;
   ``create(#1)`` an object and give it the verbs the programs call (``add_verb`` +
   ``set_verb_code``, so neither server's ``@program`` dialect matters).
3. Each program runs ``--runs`` times on each server, interleaved (ours, peer, ours, ...);
   its time is the client's wall time from sending the ``;;`` line (statements, in
   LambdaCore's spelling; ours reads the extra ``;`` as an empty statement) to the end of its answer
   (``PREFIX``/``SUFFIX`` markers, which both servers speak). Both must answer the same value.
4. Print per program the median seconds for each server and ``speedup`` (peer's time over
   ours: above 1 means we are faster), and loop iterations per second. For the loops and
   fib, also ``python_floor_seconds``: the same loop as plain Python with none of MOO's
   semantics (``FLOORS``), timed in this process, the fastest any compiler to CPython code
   can make it; ``floor_speedup`` (peer over floor) below 1 means the peer is faster than
   that floor on this interpreter, and ``ours_over_floor`` is what our semantics cost.
5. On our server: 10 players' ``look`` latency (p50/p99/max) alone, then while 10
   programmers each keep a ``;while (1) endwhile`` running (each ends out of ticks and is
   typed again).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.report import publish  # noqa: E402
from tests.server_process import WIZARD_PASSWORD, ServerProcess  # noqa: E402

RESULTS = REPO / "bench" / "results" / "lang.json"
BEGIN, END = "--lang-begin--", "--lang-end--"

VERBS: dict[str, list[str]] = {
    "fib": [
        "{n} = args;",
        "if (n < 2)",
        "  return n;",
        "endif",
        "return this:fib(n - 1) + this:fib(n - 2);",
    ],
    "sort": [
        '"Merge sort, the way MOO code sorts: by building lists.";',
        "{l} = args;",
        "if (length(l) < 2)",
        "  return l;",
        "endif",
        "middle = length(l) / 2;",
        "a = this:sort(l[1..middle]);",
        "b = this:sort(l[middle + 1..$]);",
        "out = {};",
        "i = j = 1;",
        "while (i <= length(a) && j <= length(b))",
        "  if (a[i] <= b[j])",
        "    out = {@out, a[i]};",
        "    i = i + 1;",
        "  else",
        "    out = {@out, b[j]};",
        "    j = j + 1;",
        "  endif",
        "endwhile",
        "return {@out, @a[i..$], @b[j..$]};",
    ],
}

# name -> (the ; text, with OBJ for the bench object; loop iterations it runs, if a loop)
PROGRAMS: dict[str, tuple[str, int]] = {
    "empty_loop_10M": ("for i in [1..10000000] endfor; return i;", 10_000_000),
    "sum_loop_1M": ("x = 0; for i in [1..1000000] x = x + i; endfor; return x;", 1_000_000),
    "while_loop_1M": ("i = 0; while (i < 1000000) i = i + 1; endwhile; return i;", 1_000_000),
    "fib_25_verb_calls": ("return OBJ:fib(25);", 0),
    "sort_1000": (
        "l = {}; for i in [1..1000] l = {@l, (i * 7919) % 1000}; endfor; "
        "s = OBJ:sort(l); return {length(s), s[1], s[$]};",
        0,
    ),
    "string_build_20k": (
        's = ""; for i in [1..20000] s = s + "x"; endfor; return length(s);',
        20_000,
    ),
    "list_index_assign_10k": (
        "l = {}; for i in [1..1000] l = {@l, 0}; endfor; "
        "for i in [1..10000] l[(i % 1000) + 1] = i; endfor; return l[1];",
        10_000,
    ),
    "string_ops_10k": (
        'n = 0; for i in [1..10000] n = n + length(tostr(i, "abc")) + index("hello world", "w"); '
        "endfor; return n;",
        10_000,
    ),
}


# The same loops as plain Python with none of MOO's semantics (no ticks, no type checks,
# recursion as plain method calls): the fastest a compiler to CPython code objects can make
# them on this interpreter. A peer faster than the floor cannot be matched that way.
FLOORS: dict[str, str] = {
    "empty_loop_10M": "for i in range(1, 10000001):\n    pass",
    "sum_loop_1M": (
        "x = 0\nfor i in range(1, 1000001):\n    x = x + i\n"
        "    if x > 2147483647:\n        x = x - 4294967296"
    ),
    "while_loop_1M": "i = 0\nwhile i < 1000000:\n    i = i + 1",
    "fib_25_verb_calls": (
        "class Obj:\n    def fib(self, args):\n        n, = args\n"
        "        return n if n < 2 else self.fib([n - 1]) + self.fib([n - 2])\n"
        "Obj().fib([25])"
    ),
}


def python_floor(program: str, runs: int) -> float:
    """The best of ``runs`` timings of ``FLOORS[program]``, compiled as a function body."""
    body = "\n".join("    " + line for line in FLOORS[program].splitlines())
    namespace: dict[str, Any] = {}
    exec(compile(f"def floor():\n{body}\n", f"<floor {program}>", "exec"), namespace)
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        namespace["floor"]()
        best = min(best, time.perf_counter() - started)
    return best


class Client:
    """One telnet connection with PREFIX/SUFFIX markers: a command's answer is the lines
    between them (telnet negotiation bytes are ignored: both servers' lines are plain)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.sock = writer.get_extra_info("socket")
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def quick_ack(self) -> None:
        """Acknowledge at once: a server that writes an answer in two pieces (LambdaMOO: the
        value, then the SUFFIX) would otherwise wait ~40 ms on our delayed ACK (Nagle)."""
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)

    @classmethod
    async def connect(cls, host: str, port: int, login: str) -> Client:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 24)
        client = cls(reader, writer)
        writer.write(f"{login}\r\n".encode())
        writer.write(f"PREFIX {BEGIN}\r\nSUFFIX {END}\r\n".encode())
        await client.command(";1")  # logged in and answering
        return client

    async def command(self, line: str, timeout: float = 600.0) -> list[str]:
        self.writer.write(line.encode() + b"\r\n")
        lines: list[str] = []
        inside = False
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.reader.readline()
                self.quick_ack()
                if not raw:
                    raise ConnectionError(f"closed during {line!r}")
                text = raw.decode("utf-8", "replace").replace("\xff", "")
                text = re.sub(r"[\x00-\x08\x0b-\x1f]", "", text).strip()
                text = re.sub(r"^[\xfa-\xfe].", "", text)
                if text.endswith(BEGIN):
                    inside, lines = True, []
                elif text.endswith(END) and inside:
                    return lines
                elif inside:
                    lines.append(text)

    def close(self) -> None:
        self.writer.close()


def literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def prepare(client: Client) -> str:
    """Raise the budgets, make the bench object and its verbs; returns the object (#N)."""
    setup = (
        ";if (`$server_options ! ANY' == E_PROPNF) "
        'add_property(#0, "server_options", create(#1), {player, "r"}); endif; '
        'for p in ({{"fg_ticks", 2000000000}, {"fg_seconds", 100000}, {"max_stack_depth", 100}}) '
        '`add_property($server_options, p[1], p[2], {player, "r"}) ! ANY\'; '
        "$server_options.(p[1]) = p[2]; endfor; `load_server_options() ! ANY'; return 1;"
    )
    answer = await client.command(setup)
    if answer[-1:] != ["=> 1"]:
        raise RuntimeError(f"could not raise the budgets: {answer}")
    # LambdaCore counts what a player may create (its ownership_quota); ours has no quota.
    created = await client.command(";;`player.ownership_quota = 1000 ! ANY'; return create(#1);")
    found = re.search(r"=> (#\d+)", " ".join(created))
    if not found:
        raise RuntimeError(f"create(#1) failed: {created}")
    obj = found.group(1)
    for name, lines in VERBS.items():
        await client.command(
            f';add_verb({obj}, {{player, "rxd", "{name}"}}, {{"this", "none", "this"}})'
        )
        code = "{" + ", ".join(literal(line) for line in lines) + "}"
        answer = await client.command(f';set_verb_code({obj}, "{name}", {code})')
        if answer != ["=> {}"]:
            raise RuntimeError(f"{name} did not compile: {answer}")
    return obj


async def timed(client: Client, text: str) -> tuple[float, str]:
    started = time.perf_counter()
    answer = await client.command(";;" + text)
    elapsed = time.perf_counter() - started
    value = next((line for line in reversed(answer) if line.startswith("=> ")), "")
    if not value:
        raise RuntimeError(f"{text!r} gave no value: {answer[-5:]}")
    return elapsed, value.split("  (")[0]  # LambdaCore adds "  (Division by zero)" to errors


async def bench(args: argparse.Namespace, port: int) -> dict[str, Any]:
    servers: dict[str, Client] = {
        "ours": await Client.connect("127.0.0.1", port, f"connect Wizard {WIZARD_PASSWORD}")
    }
    if args.peer:
        host, _, peer_port = args.peer.rpartition(":")
        servers["peer"] = await Client.connect(host or "127.0.0.1", int(peer_port), args.peer_login)
    objects = {name: await prepare(client) for name, client in servers.items()}
    results: dict[str, Any] = {}
    for program, (text, iterations) in PROGRAMS.items():
        times: dict[str, list[float]] = {name: [] for name in servers}
        values: dict[str, str] = {}
        for _ in range(args.runs):
            for name, client in servers.items():
                elapsed, value = await timed(client, text.replace("OBJ", objects[name]))
                times[name].append(elapsed)
                values[name] = value
        entry: dict[str, Any] = {"value": values["ours"]}
        for name in servers:
            median = statistics.median(times[name])
            entry[f"{name}_seconds"] = round(median, 4)
            if iterations:
                entry[f"{name}_iterations_per_s"] = round(iterations / median)
        if "peer" in servers:
            entry["peer_value"] = values["peer"]
            entry["same_value"] = values["peer"] == values["ours"]
            entry["speedup"] = round(entry["peer_seconds"] / max(entry["ours_seconds"], 1e-9), 2)
        if program in FLOORS:
            floor = python_floor(program, args.runs)
            entry["python_floor_seconds"] = round(floor, 4)
            entry["ours_over_floor"] = round(entry["ours_seconds"] / floor, 2)
            if "peer" in servers:
                entry["floor_speedup"] = round(entry["peer_seconds"] / floor, 2)
        results[program] = entry
        print(program, entry, file=sys.stderr)
    for client in servers.values():
        client.close()
    return results


async def runaway(
    port: int, seconds: float, runaways: int = 10, players: int = 10
) -> dict[str, Any]:
    """Other players' ``look`` latency, alone and while ``runaways`` programmers each keep a
    ``;while (1) endwhile`` running (every one ends out of ticks; each is typed again)."""
    wizard = await Client.connect("127.0.0.1", port, f"connect Wizard {WIZARD_PASSWORD}")
    # The programs raised the budgets: runaways get LambdaMOO's defaults again.
    restored = await wizard.command(
        ";;$server_options.fg_ticks = 30000; $server_options.fg_seconds = 5; "
        "`load_server_options() ! ANY'; return 1;"
    )
    if restored[-1:] != ["=> 1"]:
        raise RuntimeError(f"could not restore the budgets: {restored}")
    coders = []
    for i in range(runaways):
        coders.append(await Client.connect("127.0.0.1", port, f"create runaway{i} bench-pw"))
        await wizard.command(f"@programmer runaway{i}")
    lookers = [
        await Client.connect("127.0.0.1", port, f"create looker{i} bench-pw")
        for i in range(players)
    ]

    async def look(client: Client, until: float, latencies: list[float]) -> None:
        while time.monotonic() < until:
            started = time.perf_counter()
            await client.command("look")
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.05)

    async def spin(client: Client, until: float, count: list[int]) -> None:
        while time.monotonic() < until:
            answer = await client.command(";while (1) endwhile")
            if not any("ran out of ticks" in line for line in answer):
                raise RuntimeError(f"the runaway was not stopped for ticks: {answer}")
            count[0] += 1

    figures: dict[str, Any] = {}
    for phase in ("baseline", "with_runaways"):
        until = time.monotonic() + seconds
        latencies: list[float] = []
        aborted = [0]
        jobs = [look(c, until, latencies) for c in lookers]
        if phase == "with_runaways":
            jobs += [spin(c, until, aborted) for c in coders]
        await asyncio.gather(*jobs)
        ordered = sorted(latencies)
        figures[phase] = {
            "looks": len(ordered),
            "p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
            "max_ms": round(ordered[-1] * 1000, 2),
        }
        if phase == "with_runaways":
            figures[phase]["runaway_tasks_aborted"] = aborted[0]
    for client in [wizard, *coders, *lookers]:
        client.close()
    figures["runaways"] = runaways
    return figures


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--peer", help="HOST:PORT of another MOO server (e.g. LambdaMOO 1.8)")
    parser.add_argument("--peer-login", default="connect Wizard", help="the line that logs in")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--runaway-seconds", type=float, default=5.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="moo-bench-") as tmp:
        server = ServerProcess(
            Path(tmp) / "data",
            extra_config={"log_level": "WARNING", "limits": {"commands_per_second": 1e6}},
            ssh=False,
        ).start()
        try:
            programs = asyncio.run(bench(args, server.telnet_port))
            stalls = asyncio.run(runaway(server.telnet_port, args.runaway_seconds))
        finally:
            server.stop()
    result: dict[str, Any] = {
        "programs": programs,
        "others_while_runaway_tasks_run": stalls,
        "runs": args.runs,
        "peer": args.peer or None,
        "machine": {"cpus": os.cpu_count()},
        "timing": "client wall time of the ; line, median of the runs, interleaved",
    }
    if args.peer:
        speedups = [p["speedup"] for p in programs.values()]
        result["goal"] = {
            "at_least_peer_speed_everywhere": min(speedups) >= 1.0,
            "slowest_speedup": min(speedups),
            "peer_faster_than_the_python_floor": sorted(
                name for name, p in programs.items() if p.get("floor_speedup", 2.0) < 1.0
            ),
        }
    publish(result, RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())

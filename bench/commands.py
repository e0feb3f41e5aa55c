"""Command benchmark: concurrent telnet clients, ten to a room, alternating ``say`` and ``look``.

``python bench/commands.py [--seconds 10] [--only closed|open] [--port P] [--metrics]
[--front on|off|compare]`` prints one JSON object and writes it to
``bench/results/commands.json``. Goals (from the issue): the closed loop does at least
10,000 commands/s on 2 cores; the open loop's p99 stays under 50 ms.

The pipeline:

1. Raise this process's open-file limit to the hard limit (the server, started next as a
   child process, inherits it: 1000 clients need more than 1000 descriptors).
2. Start the real server with ``tests/server_process.py`` (unless ``--port`` is given):
   what ``moo serve`` starts, a front and its engine (``--front off``: ``moo serve
   --single-process``; ``--front compare``: both, alternating, with the ratio), with
   ``limits.commands_per_second`` and ``command_burst`` raised to 1e6 and
   ``max_connections`` above the client count, so the token bucket does not cap the
   figures (the JSON says ``limits_raised``). ``--metrics`` turns the server's
   Prometheus endpoint on (``--metrics 127.0.0.1:0``): its cost is the difference in
   ``server_cpu_cores / commands_per_s`` against a run without.
3. Setup: the Wizard ``@dig``s one room per ten clients; the clients ``create benchNNNN``
   (``connect`` if the name is taken) over a few dozen concurrent setup connections; each
   sends ``SUFFIX --done--`` and ``@go #room``.
4. Closed loop (``--closed-clients``, 100): each client sends its next command as soon as
   the previous one's ``--done--`` arrives. 2 s of warm-up, then ``--seconds`` measured.
5. Open loop (``--open-clients``, 1000): each client sends a command every 200 ms
   (``--open-period``) from a random initial phase, whether or not the last one was
   answered. Latency runs from the *scheduled* send time, so a late client loop or a
   stalled server both count (no coordinated omission); ``client_send_lag_*`` says how
   much of it is this process sending late, and ``slow_*`` where in time the answers
   slower than 10 ms fell (a few full 100 ms windows: stalls; many thin ones: queueing).
   2 s of warm-up, then ``--seconds`` measured, then up to 5 s for the stragglers; a
   command answered after more than one period, or never, is ``late_or_missing``.
6. Print the JSON; write it to ``bench/results/commands.json``.

The clients run in this process, separate from the server's, on uvloop when it is
installed. They are hand-written ``asyncio.Protocol``s rather than ``TelnetClient``: the
load only needs to count ``--done--`` markers in the byte stream, and the closed loop
sends the next command straight from ``data_received``, with no line splitting, no
decoding and no task switch per command; at ~55,000 receive callbacks a second (each
``say`` reaches ten clients) that overhead would be charged to the server's figures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import random
import re
import resource
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.report import publish  # noqa: E402
from tests.server_process import WIZARD_PASSWORD, ServerProcess  # noqa: E402

MARK = "--done--"
MARK_LINE = MARK.encode() + b"\r\n"
PLAYER_PASSWORD = "bench-pw"
PER_ROOM = 10
WARMUP_SECONDS = 2.0
OPEN_PERIOD = 0.2
DRAIN_SECONDS = 5.0
SETUP_CONCURRENCY = 32
SETUP_TIMEOUT = 30.0
COMMANDS = (b"say hello there\r\n", b"look\r\n")
RESULTS = REPO / "bench" / "results" / "commands.json"
FRONT_RESULTS = RESULTS.with_name("commands_front.json")

# Latencies use the monotonic clock: uvloop's loop.time() only has millisecond resolution.
clock = time.monotonic

Done = Callable[["BenchClient", float, float], None]


class BenchClient(asyncio.Protocol):
    """One telnet connection: text waits during setup, marker counting during the load."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.text = bytearray()  # kept only while collecting (setup)
        self.collecting = True
        self._pattern: re.Pattern[bytes] | None = None
        self._waiter: asyncio.Future[bytes] | None = None
        self._tail = b""
        self.started: deque[float] = deque()  # send (or scheduled) times awaiting --done--
        self.on_done: Done | None = None
        self.next_command = 0

    # ------------------------------------------------------------ protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError(f"closed; got {bytes(self.text[-300:])!r}"))

    def data_received(self, data: bytes) -> None:
        if self.collecting:
            self.text += data
            self._check()
            return
        chunk = self._tail + data
        done = chunk.count(MARK_LINE)
        self._tail = chunk[-(len(MARK_LINE) - 1) :]
        if done:
            now = clock()
            for _ in range(done):
                if not self.started:
                    break
                started = self.started.popleft()
                if self.on_done is not None:
                    self.on_done(self, started, now)

    # ---------------------------------------------------------------- setup

    def send(self, line: str) -> None:
        assert self.transport is not None
        self.transport.write(line.encode() + b"\r\n")

    def send_next(self) -> None:
        """The next command of the say/look alternation, timed from now."""
        assert self.transport is not None
        self.started.append(clock())
        self.transport.write(COMMANDS[self.next_command])
        self.next_command ^= 1

    async def wait_for(self, pattern: bytes, timeout: float = SETUP_TIMEOUT) -> bytes:
        """The text received up to the first match of ``pattern`` (consumed)."""
        self._pattern = re.compile(pattern)
        self._waiter = self.loop.create_future()
        self._check()
        return await asyncio.wait_for(self._waiter, timeout)

    def _check(self) -> None:
        if self._waiter is None or self._waiter.done() or self._pattern is None:
            return
        found = self._pattern.search(self.text)
        if found:
            result = bytes(self.text[: found.end()])
            del self.text[: found.end()]
            self._waiter.set_result(result)

    async def command(self, line: str) -> bytes:
        """Send a command and return its output up to the marker (needs SUFFIX set)."""
        self.send(line)
        return await self.wait_for(re.escape(MARK_LINE))

    def start_load(self, on_done: Done) -> None:
        self.collecting = False
        self.text.clear()
        self._tail = b""
        self.on_done = on_done

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def connect(host: str, port: int, cls: type[BenchClient] = BenchClient) -> BenchClient:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: cls(loop), host, port)
    return client


async def log_in(client: BenchClient, name: str, password: str) -> None:
    """``create`` the player (``connect`` when the name is taken), then set the SUFFIX."""
    client.send(f"create {name} {password}")
    text = await client.wait_for(rb"\*\*\* Connected as|already taken")
    if b"already taken" in text:
        client.send(f"connect {name} {password}")
        await client.wait_for(rb"\*\*\* (Connected as|Redirected)")
    client.send(f"SUFFIX {MARK}")


async def dig_rooms(host: str, port: int, password: str, count: int) -> list[int]:
    wizard = await connect(host, port)
    await log_in_wizard(wizard, password)
    rooms: list[int] = []
    for n in range(count):
        text = (await wizard.command(f"@dig Bench Room {n}")).decode(errors="replace")
        found = re.search(r"\(#(\d+)\) created\.", text)
        if not found:
            raise RuntimeError(f"@dig failed: {text!r}")
        rooms.append(int(found.group(1)))
    wizard.close()
    return rooms


async def log_in_wizard(client: BenchClient, password: str) -> None:
    client.send(f"connect Wizard {password}")
    text = await client.wait_for(rb"\*\*\* (Connected as|Redirected)|different password")
    if b"different password" in text:
        raise RuntimeError("the Wizard's password was refused (give --wizard-password)")
    client.send(f"SUFFIX {MARK}")


async def open_clients(
    host: str,
    port: int,
    first: int,
    last: int,
    rooms: list[int],
    cls: type[BenchClient] = BenchClient,
) -> list[BenchClient]:
    """Clients ``first``..``last - 1``, logged in, each in room ``rooms[i // 10]``."""
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def one(i: int) -> BenchClient:
        async with gate:
            client = await connect(host, port, cls)
            await log_in(client, f"bench{i:04d}", PLAYER_PASSWORD)
            text = await client.command(f"@go #{rooms[i // PER_ROOM]}")
            if b"is not a room" in text:
                raise RuntimeError(f"bench{i:04d} could not @go: {text!r}")
            return client

    return list(await asyncio.gather(*(one(i) for i in range(first, last))))


# ---------------------------------------------------------------------------- figures


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (0 when empty)."""
    if not ordered:
        return 0.0
    rank = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[rank]


def figures(latencies: list[float], seconds: float, clients: int) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "clients": clients,
        "seconds": round(seconds, 3),
        "commands": len(ordered),
        "commands_per_s": round(len(ordered) / seconds, 1) if seconds > 0 else 0.0,
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 2),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 2),
        "max_ms": round((ordered[-1] if ordered else 0.0) * 1000, 2),
    }


async def wait_drained(clients: list[BenchClient], limit: float) -> None:
    deadline = time.monotonic() + limit
    while any(c.started for c in clients) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


class CpuMeter:
    """Cores' worth of CPU used over a window: by the server, by this process, by the machine.

    ``machine_busy_cores`` minus the other two is what the rest of the machine took: on a
    shared 2-core box, read the figures next to it.
    """

    def __init__(self, server_pids: list[int]) -> None:
        self.server_pids = server_pids  # the front and its engine, or the one process
        self._start = (0.0, 0.0, 0.0, 0.0)
        self._by_process: list[float] = []

    @staticmethod
    def process_seconds(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def server_seconds(self) -> float:
        return sum(self.process_seconds(pid) for pid in self.server_pids)

    @staticmethod
    def machine_seconds() -> float:
        """Busy CPU seconds of the whole machine (all but idle and iowait), 0 if unknown."""
        try:
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        except OSError:
            return 0.0
        ticks = [int(f) for f in fields]
        busy = sum(ticks[:8]) - ticks[3] - ticks[4]  # user..steal, less idle and iowait
        return busy / os.sysconf("SC_CLK_TCK")

    def start(self) -> None:
        self._by_process = [self.process_seconds(pid) for pid in self.server_pids]
        self._start = (clock(), self.server_seconds(), time.process_time(), self.machine_seconds())

    def stop(self) -> dict[str, Any]:
        wall = clock() - self._start[0]
        out: dict[str, Any] = {
            "client_cpu_cores": round((time.process_time() - self._start[2]) / wall, 2)
        }
        if self.server_pids:
            out["server_cpu_cores"] = round((self.server_seconds() - self._start[1]) / wall, 2)
        if len(self.server_pids) > 1:
            out["server_cpu_cores_by_process"] = [
                round((self.process_seconds(pid) - before) / wall, 2)
                for pid, before in zip(self.server_pids, self._by_process, strict=True)
            ]
        out["machine_busy_cores"] = round((self.machine_seconds() - self._start[3]) / wall, 2)
        return out


# ---------------------------------------------------------------------------- the runs


def quiet_client_gc() -> None:
    """Collect once and freeze what the client holds (thousands of connections and their
    buffers): a full collection over them mid-run would pause the client and show as the
    server's latency, whichever server is measured."""
    gc.collect()
    gc.freeze()


async def closed_loop(
    clients: list[BenchClient], seconds: float, meter: CpuMeter
) -> dict[str, Any]:
    quiet_client_gc()
    latencies: list[float] = []
    window = [float("inf"), float("inf")]  # measure completions in [start, end)
    running = True

    def done(client: BenchClient, started: float, now: float) -> None:
        if window[0] <= started and now < window[1]:
            latencies.append(now - started)
        if running:
            client.send_next()

    for client in clients:
        client.start_load(done)
    for client in clients:
        client.send_next()
    await asyncio.sleep(WARMUP_SECONDS)
    window[0] = clock()
    window[1] = window[0] + seconds
    meter.start()
    await asyncio.sleep(seconds)
    cpu = meter.stop()
    running = False
    await wait_drained(clients, DRAIN_SECONDS)
    return {**figures(latencies, seconds, len(clients)), "warmup_s": WARMUP_SECONDS, **cpu}


async def open_loop(
    clients: list[BenchClient],
    seconds: float,
    meter: CpuMeter,
    period: float = OPEN_PERIOD,
    commands: tuple[bytes, bytes] = COMMANDS,
) -> dict[str, Any]:
    """Each client sends every ``period`` seconds, alternating ``commands`` (step 5)."""
    quiet_client_gc()
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    begin = clock() + 0.05
    start = begin + WARMUP_SECONDS
    end = start + seconds
    scheduled = 0
    send_lags: list[float] = []  # how late this process itself sent: its share of latency
    slow_at: list[float] = []  # when each answer slower than ``SLOW`` was due

    def done(client: BenchClient, due: float, now: float) -> None:
        if start <= due < end:
            latencies.append(now - due)
            if now - due > SLOW:
                slow_at.append(due)

    def fire(client: BenchClient, due: float) -> None:
        nonlocal scheduled
        assert client.transport is not None
        client.started.append(due)  # latency counts from when it was due, not when sent
        client.transport.write(commands[client.next_command])
        client.next_command ^= 1
        if start <= due < end:
            scheduled += 1
            send_lags.append(clock() - due)
        later = due + period
        if later < end:
            loop.call_later(max(0.0, later - clock()), fire, client, later)

    rng = random.Random(1)
    for client in clients:
        client.start_load(done)
        due = begin + rng.uniform(0.0, period)
        loop.call_later(max(0.0, due - clock()), fire, client, due)
    await asyncio.sleep(start - clock())
    meter.start()
    await asyncio.sleep(end - clock())
    cpu = meter.stop()
    await wait_drained(clients, DRAIN_SECONDS)
    late = sum(1 for latency in latencies if latency > period)
    result = figures(latencies, seconds, len(clients))
    result["commands_per_s"] = result["achieved_rate"] = round(len(latencies) / seconds, 1)
    return {
        **result,
        "target_rate": round(len(clients) / period, 1),
        "scheduled": scheduled,
        "late_or_missing": late + (scheduled - len(latencies)),
        "late_threshold_ms": period * 1000,
        **client_lag(send_lags),
        **slow_spread(slow_at, start),
        "warmup_s": WARMUP_SECONDS,
        **cpu,
    }


SLOW = 0.010
"""An open-loop answer slower than this (the 5000-connection goal's p99) is counted by
``slow_spread``."""
SPREAD_WINDOW = 0.1


def slow_spread(slow_at: list[float], start: float) -> dict[str, Any]:
    """Where the slow answers were due: how many 100 ms windows hold them, and the five
    that hold most. A few full windows mean stalls (something held a loop); many thin
    ones mean queueing spread over the run."""
    if not slow_at:
        return {"slow_over_10ms": 0}
    windows: dict[int, int] = {}
    for due in slow_at:
        key = int((due - start) / SPREAD_WINDOW)
        windows[key] = windows.get(key, 0) + 1
    worst = sorted(windows.items(), key=lambda item: -item[1])[:5]
    return {
        "slow_over_10ms": len(slow_at),
        "slow_windows_100ms": len(windows),
        "slowest_windows": [[round(k * SPREAD_WINDOW, 1), n] for k, n in worst],
    }


def client_lag(send_lags: list[float]) -> dict[str, float]:
    """How late the client's own loop sent the commands (p99 and max, ms): latency runs
    from the scheduled time, so this much of it is the client's, not the server's."""
    if not send_lags:
        return {}
    ordered = sorted(send_lags)
    return {
        "client_send_lag_p99_ms": round(percentile(ordered, 0.99) * 1000, 2),
        "client_send_lag_max_ms": round(ordered[-1] * 1000, 2),
    }


async def bench(args: argparse.Namespace, port: int, server_pids: list[int]) -> dict[str, Any]:
    runs = ["closed", "open"] if args.only is None else [args.only]
    sizes = {"closed": args.closed_clients, "open": args.open_clients}
    most = max(sizes[run] for run in runs)
    rooms = await dig_rooms(args.host, port, args.wizard_password, -(-most // PER_ROOM))
    clients: list[BenchClient] = []
    out: dict[str, Any] = {}
    for run in runs:
        started = time.monotonic()
        clients += await open_clients(args.host, port, len(clients), sizes[run], rooms)
        print(
            f"{run}: {sizes[run]} clients ready in {time.monotonic() - started:.1f}s",
            file=sys.stderr,
        )
        load, meter = clients[: sizes[run]], CpuMeter(server_pids)
        if run == "closed":
            out[run] = await closed_loop(load, args.seconds, meter)
        else:
            out[run] = await open_loop(load, args.seconds, meter, args.open_period)
        print(f"{run}: {json.dumps(out[run])}", file=sys.stderr)
    for client in clients:
        client.close()
    return out


# ---------------------------------------------------------------------------- main


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--closed-clients", type=int, default=100)
    parser.add_argument("--open-clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per run")
    parser.add_argument(
        "--open-period", type=float, default=OPEN_PERIOD, help="seconds between a client's commands"
    )
    parser.add_argument("--only", choices=["closed", "open"])
    parser.add_argument(
        "--front",
        choices=["off", "on", "compare"],
        default="on",
        help="on: what moo serve starts, a front and its engine; off: moo serve"
        " --single-process; compare: direct (off) and front alternating, with the ratio"
        " (writes bench/results/commands_front.json)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="with --front compare")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, help="use a running server instead of starting one")
    parser.add_argument(
        "--server-pid",
        type=int,
        action="append",
        default=[],
        help="with --port: report that process's CPU use too (repeat for a front and its engine)",
    )
    parser.add_argument(
        "--event-loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="the server's event_loop setting (when this script starts it)",
    )
    parser.add_argument(
        "--wizard-password", default=os.environ.get("MOO_WIZARD_PASSWORD") or WIZARD_PASSWORD
    )
    parser.add_argument(
        "--metrics", action="store_true", help="with the server's metrics endpoint on"
    )
    return parser.parse_args(argv)


def run_clients(coro: Any) -> tuple[Any, str]:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro), "asyncio"
    return uvloop.run(coro), "uvloop"


def raised_limits(connections: int) -> dict[str, int]:
    """The ``limits`` config of a bench server: no command budget (the token bucket would
    cap the figures; the JSON says ``limits_raised``) and room for ``connections``."""
    return {
        "commands_per_second": 1_000_000,
        "command_burst": 1_000_000,
        "max_connections": connections,
    }


def run_once(args: argparse.Namespace, clients: int, *, front: bool) -> tuple[dict[str, Any], str]:
    """Steps 2 to 5 against a server of our own (``front``: ``moo serve``, else ``moo serve
    --single-process``) or the one at ``--port``. Returns the runs' figures and the
    client loop's name."""
    server: ServerProcess | None = None
    with tempfile.TemporaryDirectory(prefix="moo-bench-") as tmp:
        if args.port is None:
            server = ServerProcess(
                Path(tmp) / "data",
                extra_config={
                    "event_loop": args.event_loop,
                    "log_level": "WARNING",
                    "limits": raised_limits(clients + 1000),
                },
                ssh=False,
                wizard_password=args.wizard_password,
                listen={"metrics": "127.0.0.1:0"} if args.metrics else {},
                flags=() if front else ("--single-process",),
            ).start()
        port = server.telnet_port if server is not None else args.port
        try:
            pids = list(args.server_pid)
            if server is not None:
                pids = server.pids
            return run_clients(bench(args, port, pids))
        finally:
            if server is not None:
                server.stop()


def compare_front(args: argparse.Namespace, clients: int) -> dict[str, Any]:
    """``--front compare``: direct and through a front, alternating, ``--rounds`` each;
    the medians of each and the front's ratio to direct (what the issue quotes)."""
    rounds: dict[str, list[dict[str, Any]]] = {"direct": [], "front": []}
    for _ in range(args.rounds):
        for mode in ("direct", "front"):
            runs, _ = run_once(args, clients, front=mode == "front")
            rounds[mode].append(runs)
            print(f"{mode}: {json.dumps(runs)}", file=sys.stderr)
    out: dict[str, Any] = {"rounds": args.rounds}
    for run in ("closed", "open"):
        if run not in rounds["direct"][0]:
            continue
        figures: dict[str, dict[str, float]] = {}
        for mode in ("direct", "front"):
            rows = [r[run] for r in rounds[mode]]
            figures[mode] = {
                key: statistics.median(row[key] for row in rows)
                for key in ("commands_per_s", "p50_ms", "p99_ms")
                if key in rows[0]
            }
        direct, front = figures["direct"], figures["front"]
        out[run] = {
            **figures,
            "front_to_direct": round(front["commands_per_s"] / direct["commands_per_s"], 3),
            "added_p50_ms": round(front["p50_ms"] - direct["p50_ms"], 3),
            "added_p99_ms": round(front["p99_ms"] - direct["p99_ms"], 3),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    fds = raise_fd_limit()
    clients = max(args.closed_clients, args.open_clients)
    if fds < clients + 100:
        print(f"warning: open-file limit {fds} is low for {clients} clients", file=sys.stderr)
    if args.front == "compare":
        publish(
            {**compare_front(args, clients), "machine": {"cpus": os.cpu_count()}}, FRONT_RESULTS
        )
        return 0
    runs, client_loop = run_once(args, clients, front=args.front == "on")
    started = args.port is None
    result = {
        **runs,
        "server": {
            "event_loop": args.event_loop if started else "unknown (--port)",
            "limits_raised": True if started else "unknown (--port)",
            "metrics": args.metrics if started else "unknown (--port)",
            "front": args.front if started else "unknown (--port)",
        },
        "client": {"event_loop": client_loop, "process": "separate from the server"},
        "machine": {"cpus": os.cpu_count(), "open_file_limit": fds},
        "goals": {"closed_commands_per_s": 10_000, "open_p99_ms": 50},
    }
    if "closed" in runs:
        result["goals"]["closed_met"] = runs["closed"]["commands_per_s"] >= 10_000
    if "open" in runs:
        result["goals"]["open_met"] = runs["open"]["p99_ms"] < 50
    publish(result, RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())

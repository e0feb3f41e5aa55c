"""Login-crowd benchmark: many existing players log in at once (as after a network blip).

``python bench/logins.py [--logins 1000] [--players 10]`` prints one JSON object and writes it
to ``bench/results/logins.json``. Goals (issue 21): the playing players' p99 stays within 2x
their baseline, the server's peak RSS grows by under 100 MB, and the time until the last
login is in is printed.

1. Start the real server with the production password cost (the config's defaults, not the
   tests' cheap one) and the command limits raised (``limits_raised`` in the JSON).
2. Create ``--logins`` players (``create``, ``SETUP_CONCURRENCY`` at a time), then disconnect
   them; log ``--players`` more in and keep them playing: each sends ``look`` every 100 ms.
3. Baseline: ``--baseline-seconds`` of the players' latencies and the server's RSS.
4. The crowd: ``--logins`` connections open, wait for the welcome screen, then all send
   ``connect <name> <password>`` in the same instant. Each login's time runs from that
   instant to its ``*** Connected as``; the players keep playing, the server's RSS (the
   front's and the engine's together: the front holds the output not yet sent) is sampled
   every 20 ms from /proc until the last login is in. The CPU seconds each process used meanwhile
   (the front's loop, the engine's loop, the engine's password-check threads, this client)
   and the 20 slowest looks with when they were sent (slow looks of several players at
   the same moment are a stall of a whole process) go in the JSON; ``--py-spy DIR``
   profiles the front and the engine during the crowd (``py-spy`` on PATH or beside this
   Python).
5. Print the JSON; write it to ``bench/results/logins.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.commands import (  # noqa: E402
    MARK,
    SETUP_CONCURRENCY,
    BenchClient,
    connect,
    log_in,
    percentile,
    raise_fd_limit,
    raised_limits,
    run_clients,
)
from bench.report import publish  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

PASSWORD = "crowd-pw"
LOOK_PERIOD = 0.1
RESULTS = REPO / "bench" / "results" / "logins.json"


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Player:
    """A playing player: ``look`` every 100 ms, each answer's latency kept while recording."""

    def __init__(self, client: BenchClient) -> None:
        self.client = client
        self.latencies: list[float] = []
        self.sent_at: list[float] = []  # when each recorded look was sent (monotonic)
        self.recording = False

    async def play(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            await self.client.command("look")
            if self.recording:
                self.latencies.append(time.monotonic() - started)
                self.sent_at.append(started)
            await asyncio.sleep(max(0.0, LOOK_PERIOD - (time.monotonic() - started)))


async def create_players(port: int, names: list[str]) -> None:
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def one(name: str) -> None:
        async with gate:
            client = await connect("127.0.0.1", port)
            await log_in(client, name, PASSWORD)
            await client.command("look")
            client.close()

    await asyncio.gather(*(one(name) for name in names))


async def sample_rss(pids: list[int], stop: asyncio.Event, samples: list[float]) -> None:
    """The server's RSS (its processes' together) every 20 ms until ``stop``."""
    while not stop.is_set():
        samples.append(sum(rss_mb(pid) for pid in pids))
        await asyncio.sleep(0.02)


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "commands": len(ordered),
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 2),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 2),
        "max_ms": round((ordered[-1] if ordered else 0.0) * 1000, 2),
    }


def cpu_seconds(pid: int) -> dict[str, float]:
    """CPU time (user + system) of ``pid``'s main thread (its event loop) and of its other
    threads (the engine's password checks), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    split = {"loop": 0.0, "threads": 0.0}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a thread that ended meanwhile
        used = (int(fields[11]) + int(fields[12])) / tick
        split["loop" if task.name == str(pid) else "threads"] += used
    return split


def cpu_used(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far: each server process (its loop and its other threads) and this
    client process, whose loop runs both the playing players and the crowd."""
    used = {}
    for role, pid in pids.items():
        for part, seconds in cpu_seconds(pid).items():
            used[f"{role}_{part}"] = seconds
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used["client"] = usage.ru_utime + usage.ru_stime
    return used


def start_profiles(directory: str, pids: dict[str, int]) -> list[subprocess.Popen[bytes]]:
    """``py-spy record`` on each server process (``--py-spy``), for the crowd only."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    Path(directory).mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--nonblocking",
                "--threads",
                "--format",
                "raw",
                "--rate",
                "250",
                "-o",
                str(Path(directory) / f"{role}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for role, pid in pids.items()
    ]


def stop_profiles(profiles: list[subprocess.Popen[bytes]]) -> None:
    for profile in profiles:
        profile.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
    for profile in profiles:
        profile.wait(timeout=60)


async def bench(args: argparse.Namespace, port: int, pids: dict[str, int]) -> dict[str, Any]:
    """Steps 2 to 4 against the server at ``port`` whose processes are ``pids``."""
    crowd = [f"crowd{i:04d}" for i in range(args.logins)]
    setup_started = time.monotonic()
    await create_players(port, crowd)
    setup_seconds = time.monotonic() - setup_started
    players = []
    for i in range(args.players):
        client = await connect("127.0.0.1", port)
        await log_in(client, f"playing{i:03d}", PASSWORD)
        players.append(Player(client))
    stop_playing = asyncio.Event()
    playing = [asyncio.create_task(p.play(stop_playing)) for p in players]

    await asyncio.sleep(1.0)  # warm-up
    baseline_rss: list[float] = []
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(list(pids.values()), stop_sampling, baseline_rss))
    for p in players:
        p.recording = True
    await asyncio.sleep(args.baseline_seconds)
    for p in players:
        p.recording = False
    baseline = [lat for p in players for lat in p.latencies]
    stop_sampling.set()
    await sampler
    for p in players:
        p.latencies, p.sent_at = [], []

    clients = await asyncio.gather(*(connect("127.0.0.1", port) for _ in crowd))
    await asyncio.gather(*(c.wait_for(rb"create <name> <password>") for c in clients))
    crowd_rss: list[float] = []
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(list(pids.values()), stop_sampling, crowd_rss))
    profiles = start_profiles(args.py_spy, pids) if args.py_spy else []
    cpu_before = cpu_used(pids)
    for p in players:
        p.recording = True
    started = time.monotonic()
    for client, name in zip(clients, crowd, strict=True):
        client.send(f"connect {name} {PASSWORD}")

    async def logged_in(client: BenchClient) -> float:
        await client.wait_for(rb"\*\*\* Connected as", timeout=args.timeout)
        return time.monotonic() - started

    times = sorted(await asyncio.gather(*(logged_in(c) for c in clients)))
    cpu_after = cpu_used(pids)
    for p in players:
        p.recording = False
    stop_sampling.set()
    await sampler
    stop_profiles(profiles)
    stop_playing.set()
    await asyncio.gather(*playing)
    during = [lat for p in players for lat in p.latencies]
    slowest = sorted(
        (
            (lat, at - started)
            for p in players
            for lat, at in zip(p.latencies, p.sent_at, strict=True)
        ),
        reverse=True,
    )[:20]
    for client in clients:
        client.close()
    for p in players:
        p.client.close()

    base, crowd_figures = summary(baseline), summary(during)
    baseline_peak = max(baseline_rss)
    return {
        "logins": args.logins,
        "playing_players": args.players,
        "setup_create_seconds": round(setup_seconds, 2),
        "login_seconds": {
            "last": round(times[-1], 3),
            "p50": round(percentile(times, 0.5), 3),
            "first": round(times[0], 3),
        },
        "playing": {
            "baseline": base,
            "during_logins": crowd_figures,
            "p99_ratio": round(crowd_figures["p99_ms"] / max(base["p99_ms"], 0.001), 2),
            # The slowest looks of the crowd: [ms, sent at (s after the crowd began)].
            "slowest": [[round(lat * 1000, 1), round(at, 2)] for lat, at in slowest],
        },
        "cpu_seconds_during_logins": {
            part: round(cpu_after[part] - cpu_before[part], 2) for part in cpu_after
        },
        "server_rss_mb": {
            "baseline": round(baseline_peak, 1),
            "peak_during_logins": round(max(crowd_rss), 1),
            "growth": round(max(crowd_rss) - baseline_peak, 1),
        },
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--logins", type=int, default=1000)
    parser.add_argument("--players", type=int, default=10)
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=300.0, help="per login, seconds")
    parser.add_argument("--max-concurrent", type=int, default=0, help="password checks at once")
    parser.add_argument(
        "--py-spy", metavar="DIR", help="profile the front and the engine during the crowd"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    fds = raise_fd_limit()
    with tempfile.TemporaryDirectory(prefix="moo-bench-") as tmp:
        server = ServerProcess(
            Path(tmp) / "data",
            extra_config={
                "log_level": "WARNING",
                # The production cost: the config's defaults, not the tests' cheap hash.
                "password_hash": {
                    "time_cost": 5,
                    "memory_cost_kib": 7168,
                    "parallelism": 1,
                    "max_concurrent": args.max_concurrent,
                },
                "limits": raised_limits(args.logins + args.players + 100),
                "login": {"max_failures": 1_000_000},
            },
            ssh=False,
        ).start()
        try:
            engine = server.pid  # the world's process: logins and their hashing run there
            assert engine is not None
            pids = {"engine": engine}
            if server.front_pid is not None:
                pids["front"] = server.front_pid
            figures, client_loop = run_clients(bench(args, server.telnet_port, pids))
        finally:
            server.stop()
    result = {
        **figures,
        "server": {"password_cost": "argon2id m=7168 KiB t=5 p=1", "limits_raised": True},
        "client": {"event_loop": client_loop, "marker": MARK},
        "machine": {"cpus": os.cpu_count(), "open_file_limit": fds},
        "goals": {
            "p99_ratio_at_most": 2.0,
            "rss_growth_mb_under": 100,
            "p99_met": figures["playing"]["p99_ratio"] <= 2.0,
            "rss_met": figures["server_rss_mb"]["growth"] < 100,
        },
    }
    publish(result, RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())

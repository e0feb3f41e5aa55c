"""Hot-upgrade benchmark: players talking in a big world while the server upgrades itself.

``python bench/upgrade.py [--sessions 1000] [--objects 100000] [--upgrades 3]
[--period-ms 1000] [--quick] [--profile DIR]`` prints one JSON object and writes it to
``bench/results/upgrade.json``. Goals (from the issue): across the upgrades, zero
disconnects, zero lost lines, and the worst command latency under 100 ms. ``--quick``
(100 sessions, 10k objects, 1 upgrade) is a smoke run of well under a minute.

The pipeline:

1. Build the world offline, in this process (``world_builder.build_world``: N things
   with 8 properties each, 100 to a room, checkpointed).
2. Start the real server on it (``tests/server_process.py``): uvloop, cheap argon2,
   command rate limits raised as commands.py does, no periodic checkpoint, and
   ``upgrade.load_timeout_seconds`` 120 (the replacement loads the world before HELLO).
3. Setup over telnet with commands.py's clients (this process, separate from the
   server's): the Wizard ``@dig``s one room per ten sessions; session i ``create``s
   ``benchNNNN``, sets ``SUFFIX`` and ``@go``es to its room.
4. Load: session i sends ``say i SEQ`` every ``--period-ms`` from a random phase, whether
   or not the last one was answered. Latency runs from the *scheduled* send time, so a
   frozen server counts in full (no coordinated omission). Each reply ``You say, "i
   SEQ"`` must come in order: one that skips ahead counts the commands it skipped as
   ``out_of_order``; a command still unanswered at the end is ``missing``; a closed
   connection is a disconnect. ``lost_lines`` is missing + out of order.
5. After a warm-up and a baseline, ``--upgrades`` times: run ``moo upgrade --data-dir
   DIR`` as a subprocess (as an operator would), time-stamping its progress lines; wait
   until run/server.pid names a new process and the old one is gone; ``--gap-seconds``
   more before the next (after the last: the tail).
6. Stop sending, wait up to 5 s for the stragglers, stop the server, read each
   upgrade's row in ``moo.sqlite`` (``freeze_ms``, ``sessions``, ``level``).

Each upgrade's latency windows, by scheduled send time:

- ``baseline``: the ``--baseline-seconds`` before the request.
- ``loading``: the request to HELLO (the replacement's log line "loaded in ... waiting
  for the running server to freeze"; the CLI's "loaded" line if missing): the
  replacement loads the world while the old server serves (on a small machine it takes
  a core). Its last few commands were still unanswered when the freeze began.
- ``handoff``: HELLO to 1 s after the CLI exits: the pre-copy of every session (while
  the old server serves), the quiet point, the freeze, what changed since the pre-copy,
  READY/GO, and the new server working off what was typed while frozen.
- ``window``: both; its ``max_ms`` is the "worst latency across the upgrade".

``no_reply`` is the longest stretch of the window in which no session got any reply
(when it began, in ms after the request): the pause as the players saw it, which also
holds what happens after GO; the worst latency adds working off what was typed meanwhile.
It is only as fine as the sends are dense: ~7 ms at 1000 commands/s, ~50 ms at 100/s.
``client_loop_max_stall_ms`` is this process's own longest loop stall in the window (a
1 ms ticker): a reply may be time-stamped up to that late, e.g. while the clients work
through the burst of notices every session gets at the thaw; ``cpu`` says how busy the
machine was (the clients share it with both servers).

``server_log`` is every server log line (both processes write to the inherited stderr)
from the request to the end of the window, at ms after the request by the log's own
timestamps: where the freeze went ("caught up N journal transaction(s)", "handed over
N session(s)"). ``--profile DIR`` also records py-spy stacks of the old server and of
the replacement during each upgrade (``DIR/upgrade-K-old.txt``, ``-new.txt``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any, cast

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.checkpoint import machine, ms, start_profile, stop_profile, worst  # noqa: E402
from bench.commands import (  # noqa: E402
    PER_ROOM,
    BenchClient,
    CpuMeter,
    dig_rooms,
    open_clients,
    percentile,
    raise_fd_limit,
    raised_limits,
    run_clients,
)
from bench.report import publish  # noqa: E402
from bench.world_builder import build_world, note  # noqa: E402
from moo.persist.lag import LagMeter  # noqa: E402
from moo.persist.records import Records, default_url  # noqa: E402
from moo.persist.upgrade_records import UpgradeLog, UpgradeRecord  # noqa: E402
from tests.server_process import WIZARD_PASSWORD, ServerProcess  # noqa: E402

RESULTS = REPO / "bench" / "results" / "upgrade.json"
REPLY = re.compile(rb'You say, "(\d+) (\d+)"')
NOTICE_BEFORE = b"*** The server is being upgraded"
NOTICE_AFTER = b"*** Upgrade done"
AFTER_SECONDS = 1.0  # the handoff window runs this long past the CLI's exit
DRAIN_SECONDS = 5.0
PID_TIMEOUT = 60.0
LOG_LINES = 60  # server log lines kept per upgrade
LATENCY_GOAL_MS = 100.0
PROFILE_RATE = 1000  # py-spy samples/s: a 100 ms freeze gets ~100
QUICK = {"sessions": 100, "objects": 10_000, "upgrades": 1, "warmup": 1.0, "baseline": 2.0}
FULL = {"sessions": 1000, "objects": 100_000, "upgrades": 3, "warmup": 2.0, "baseline": 3.0}

clock = time.monotonic


# ---------------------------------------------------------------------------- the load


class SayClient(BenchClient):
    """A session of the load: sends numbered ``say``s, checks their replies come in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.load: Load | None = None
        self.index = -1
        self.seq = 0
        self.pending: deque[tuple[int, float]] = deque()  # (seq, due) awaiting a reply
        self.partial = b""
        self.closed_at: float | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.load is not None and self.closed_at is None:
            self.closed_at = clock()
            self.load.disconnects.append((self.index, self.closed_at))

    def close(self) -> None:
        self.load = None  # closed by us at the end: not a disconnect
        super().close()

    def data_received(self, data: bytes) -> None:
        if self.collecting or self.load is None:
            super().data_received(data)
            return
        now = clock()
        data = self.partial + data
        cut = data.rfind(b"\n") + 1
        self.partial = data[cut:]
        load = self.load
        for found in REPLY.finditer(data, 0, cut):
            seq = int(found.group(2))
            if int(found.group(1)) != self.index or not self.pending:
                load.unexpected += 1
                continue
            if self.pending[0][0] != seq:
                if not any(s == seq for s, _ in self.pending):
                    load.unexpected += 1  # a duplicate, or one already counted as skipped
                    continue
                while self.pending[0][0] != seq:
                    self.pending.popleft()
                    load.out_of_order += 1
            _, due = self.pending.popleft()
            load.samples.append((due, now - due))
        if NOTICE_BEFORE in data:
            load.notices_before += data.count(NOTICE_BEFORE, 0, cut)
        if NOTICE_AFTER in data:
            load.notices_after += data.count(NOTICE_AFTER, 0, cut)


class Load:
    """Every session's ``say`` schedule and what came back (step 4 of the docstring)."""

    def __init__(self, clients: list[SayClient], period: float) -> None:
        self.clients = clients
        self.period = period
        self.loop = asyncio.get_running_loop()
        self.samples: list[tuple[float, float]] = []  # (due, latency) of each reply
        self.dues: list[float] = []  # every command sent, by its due time
        self.disconnects: list[tuple[int, float]] = []
        self.out_of_order = 0
        self.unexpected = 0
        self.notices_before = 0
        self.notices_after = 0
        self.end = float("inf")
        self.begin = 0.0

    def start(self) -> None:
        self.begin = clock() + 0.05
        rng = random.Random(1)
        for client in self.clients:
            client.load = self
            client.start_load(lambda *_: None)
            due = self.begin + rng.uniform(0.0, self.period)
            self.loop.call_later(max(0.0, due - clock()), self.fire, client, due)

    def fire(self, client: SayClient, due: float) -> None:
        transport = client.transport
        if due >= self.end or transport is None or transport.is_closing():
            return
        client.pending.append((client.seq, due))
        transport.write(b"say %d %d\r\n" % (client.index, client.seq))
        client.seq += 1
        self.dues.append(due)
        later = due + self.period
        self.loop.call_later(max(0.0, later - clock()), self.fire, client, later)

    async def stop(self) -> None:
        """Stop sending; wait up to DRAIN_SECONDS for the replies still due."""
        self.end = clock()
        deadline = clock() + DRAIN_SECONDS
        while any(c.pending for c in self.clients) and clock() < deadline:
            await asyncio.sleep(0.05)

    def stats(self, start: float, end: float) -> dict[str, Any]:
        """Figures of the commands due in [start, end)."""
        latencies = sorted(lat for due, lat in self.samples if start <= due < end)
        sent = sum(1 for due in self.dues if start <= due < end)
        return {
            "seconds": round(end - start, 3),
            "commands": sent,
            "unanswered": sent - len(latencies),
            "p50_ms": ms(percentile(latencies, 0.50)),
            "p99_ms": ms(percentile(latencies, 0.99)),
            "max_ms": ms(latencies[-1] if latencies else 0.0),
        }

    def silence(self, start: float, end: float, origin: float) -> dict[str, float]:
        """The longest stretch of [start, end) in which no session got a reply: about the
        freeze plus the new server's start-up after GO, as the players saw it."""
        arrivals = sorted(due + lat for due, lat in self.samples if start <= due + lat < end)
        edges = [start, *arrivals, end]
        gap, at = max((b - a, a) for a, b in itertools.pairwise(edges))
        return {"longest_ms": ms(gap), "from_ms": ms(at - origin)}


# ------------------------------------------------------------------------ the upgrades

STARTED = re.compile(r"Started the replacement \(pid (\d+)\)")
LOADED = re.compile(r"loaded in ([\d.]+) s; handing over at level (\d)")
HELLO = "waiting for the running server to freeze"
DONE = re.compile(r"Upgrade done: .*level (\d), (\d+) session\(s\) carried, frozen ([\d.]+) ms")


class Upgrade:
    """One ``moo upgrade`` run: its timeline on this process's monotonic clock."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.requested = 0.0
        self.requested_wall = 0.0
        self.loaded: float | None = None  # the CLI printed "loaded ... handing over"
        self.exited = 0.0
        self.taken_over = 0.0  # the new pid serves and the old one is gone
        self.exit_code: int | None = None
        self.lines: list[tuple[float, str]] = []
        self.old_pid: int | None = None
        self.new_pid: int | None = None
        self.cpu: dict[str, Any] = {}
        self.client_stall = 0.0  # this process's longest event-loop stall in the window

    @property
    def window_end(self) -> float:
        return self.exited + AFTER_SECONDS


async def run_upgrade(server: ServerProcess, number: int, profile: Path | None) -> Upgrade:
    """Step 5 for one upgrade. Raises RuntimeError if the CLI fails or no new pid serves."""
    up = Upgrade(number)
    up.old_pid = server.pid
    assert up.old_pid is not None
    spies = (
        [start_profile(up.old_pid, profile / f"upgrade-{number}-old.txt", PROFILE_RATE)]
        if profile
        else []
    )
    meter = CpuMeter([])
    meter.start()
    lag = LagMeter()
    lag.start()
    up.requested, up.requested_wall = clock(), time.time()
    cli = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "moo",
        "upgrade",
        "--data-dir",
        str(server.data_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=REPO,
    )
    assert cli.stdout is not None
    async for raw in cli.stdout:
        now, text = clock(), raw.decode(errors="replace").rstrip()
        up.lines.append((now, text))
        if LOADED.search(text):
            up.loaded = now
        started = STARTED.search(text)
        if started and profile is not None:
            spies.append(
                start_profile(
                    int(started.group(1)), profile / f"upgrade-{number}-new.txt", PROFILE_RATE
                )
            )
    up.exit_code = await cli.wait()
    up.exited = clock()
    if up.exit_code != 0:
        raise RuntimeError(f"moo upgrade exited {up.exit_code}: {[t for _, t in up.lines]}")
    up.new_pid = await asyncio.to_thread(server.wait_pid_change, up.old_pid, PID_TIMEOUT)
    up.taken_over = clock()
    await asyncio.sleep(max(0.0, up.window_end - clock()))
    up.cpu = meter.stop()
    up.client_stall = await lag.stop()
    for spy in spies:
        await asyncio.to_thread(stop_profile, spy)
    note(
        f"upgrade {number}: pid {up.old_pid} -> {up.new_pid} in {up.exited - up.requested:.2f} s; "
        f"{up.lines[-1][1] if up.lines else ''}"
    )
    return up


async def bench(args: argparse.Namespace, server: ServerProcess) -> dict[str, Any]:
    """Steps 3 to 6 (the server's records are read after it stops)."""
    port = server.telnet_port
    began = clock()
    rooms = await dig_rooms("127.0.0.1", port, WIZARD_PASSWORD, -(-args.sessions // PER_ROOM))
    clients = cast(
        list[SayClient], await open_clients("127.0.0.1", port, 0, args.sessions, rooms, SayClient)
    )
    for i, client in enumerate(clients):
        client.index = i
    note(f"{args.sessions} sessions ready in {clock() - began:.1f} s")
    gc.collect()
    gc.freeze()  # the setup's garbage stays out of the load's collections
    load = Load(clients, args.period_ms / 1000)
    load.start()
    await asyncio.sleep(args.warmup + args.baseline)
    upgrades: list[Upgrade] = []
    for number in range(1, args.upgrades + 1):
        upgrades.append(await run_upgrade(server, number, args.profile))
        await asyncio.sleep(args.gap_seconds)
    await load.stop()
    still_open = sum(1 for c in clients if c.transport is not None and not c.transport.is_closing())
    for client in clients:
        client.close()
    return {"load": load, "upgrades": upgrades, "still_open": still_open}


# ----------------------------------------------------------------------------- figures


def log_time(line: str) -> float | None:
    """The wall time of a server log line (``2024-05-01 12:00:00,123 INFO ...``)."""
    try:
        return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    except ValueError:
        return None


def server_log(lines: list[str], up: Upgrade) -> list[list[Any]]:
    """The log lines from the request to the window's end: [ms after the request, text]."""
    start = up.requested_wall - 0.01
    end = up.requested_wall + (up.window_end - up.requested)
    out: list[list[Any]] = []
    for line in lines:
        at = log_time(line)
        if at is not None and start <= at <= end:
            text = line[24:].strip()
            out.append([round((at - up.requested_wall) * 1000), text[:300]])
    return out[:LOG_LINES]


def hello_time(lines: list[str], up: Upgrade) -> float | None:
    """When the replacement said HELLO (its log line), on this process's monotonic clock."""
    for line in lines:
        at = log_time(line)
        if at is not None and at >= up.requested_wall and HELLO in line:
            return up.requested + (at - up.requested_wall)
    return None


def read_records(data_dir: Path, count: int) -> list[UpgradeRecord]:
    records = Records.open(default_url(data_dir))
    try:
        return list(reversed(UpgradeLog(records).recent_sync(count)))
    finally:
        records.close()


def upgrade_figures(
    up: Upgrade, load: Load, record: UpgradeRecord | None, baseline: float, log: list[str]
) -> dict[str, Any]:
    loaded = hello_time(log, up) or up.loaded or up.requested
    done = DONE.search(up.lines[-1][1]) if up.lines else None
    return {
        "upgrade": up.number,
        "outcome": record.outcome if record else None,
        "level": record.level if record else None,
        "freeze_ms": round(record.freeze_ms, 2) if record and record.freeze_ms else None,
        "sessions_carried": record.sessions if record else None,
        "cli_freeze_ms": float(done.group(3)) if done else None,
        "cli_seconds": round(up.exited - up.requested, 3),
        "load_seconds": round(loaded - up.requested, 3),  # request -> HELLO
        "handoff_seconds": round(up.exited - loaded, 3),  # HELLO -> CLI exit
        "takeover_seconds": round(up.taken_over - up.requested, 3),  # -> new pid, old gone
        "old_pid": up.old_pid,
        "new_pid": up.new_pid,
        "latency": {
            "baseline": load.stats(up.requested - baseline, up.requested),
            "loading": load.stats(up.requested, loaded),
            "handoff": load.stats(loaded, up.window_end),
            "window": load.stats(up.requested, up.window_end),
        },
        "no_reply": load.silence(up.requested, up.window_end, up.requested),
        "worst": worst(load.samples, up.requested, up.window_end),
        "cpu": up.cpu,  # machine_busy_cores beyond client_cpu_cores: both servers, and others
        # The clients' own loop: a reply is time-stamped up to this late (not the server's).
        "client_loop_max_stall_ms": ms(up.client_stall),
        "cli_lines": [[ms(at - up.requested), text] for at, text in up.lines],
        "server_log": server_log(log, up),
    }


def summarise(
    args: argparse.Namespace, ran: dict[str, Any], records: list[UpgradeRecord], log: list[str]
) -> dict[str, Any]:
    load: Load = ran["load"]
    upgrades: list[Upgrade] = ran["upgrades"]
    by_pid = {record.from_pid: record for record in records}
    per_upgrade = [
        upgrade_figures(up, load, by_pid.get(up.old_pid), args.baseline, log) for up in upgrades
    ]
    missing = sum(len(c.pending) for c in load.clients)
    lost = missing + load.out_of_order
    worst = max((u["latency"]["window"]["max_ms"] for u in per_upgrade), default=0.0)
    measured_from = load.begin + args.warmup
    everything = load.stats(measured_from, load.end)
    overall = {
        "sessions": args.sessions,
        "commands_sent": len(load.dues),
        "replies": len(load.samples),
        "disconnects": len(load.disconnects),
        "sessions_open_at_end": ran["still_open"],
        "lost_lines": lost,
        "missing": missing,
        "out_of_order": load.out_of_order,
        "unexpected_replies": load.unexpected,
        "worst_latency_ms": worst,  # the slowest command of any upgrade's window
        "run": everything,  # every command after the warm-up
        "notices_before": load.notices_before,
        "notices_after": load.notices_after,
        "notices_expected": args.sessions * len(upgrades),
    }
    if load.disconnects:
        first = min(at for _, at in load.disconnects)
        overall["first_disconnect_s_after_start"] = round(first - load.begin, 3)
    goals = {
        "disconnects": 0,
        "lost_lines": 0,
        "worst_latency_ms_under": LATENCY_GOAL_MS,
        "disconnects_met": not load.disconnects,
        "lost_lines_met": lost == 0,
        "latency_met": worst < LATENCY_GOAL_MS,
    }
    goals["all_met"] = goals["disconnects_met"] and goals["lost_lines_met"] and goals["latency_met"]
    return {"overall": overall, "goals": goals, "upgrades": per_upgrade}


# --------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sessions", type=int, help=f"default {FULL['sessions']}")
    parser.add_argument(
        "--objects", type=int, help=f"things in the world (default {FULL['objects']})"
    )
    parser.add_argument("--upgrades", type=int, help=f"default {FULL['upgrades']}")
    parser.add_argument("--period-ms", type=float, default=1000.0, help="each session's say period")
    parser.add_argument("--gap-seconds", type=float, default=5.0, help="after each upgrade")
    parser.add_argument("--warmup", type=float, help="seconds of load before measuring")
    parser.add_argument("--baseline", type=float, help="seconds of baseline before each upgrade")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK['sessions']} sessions, {QUICK['objects']} objects, "
        f"{QUICK['upgrades']} upgrade (explicit options still win)",
    )
    parser.add_argument("--profile", type=Path, help="write py-spy stacks of each upgrade here")
    parser.add_argument(
        "--single-process",
        action="store_true",
        help="moo serve --single-process: each upgrade hands the sockets to a new process"
        " (by default a front holds them and each upgrade replaces the engine behind it)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data dir (path on stderr)")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.quick and args.gap_seconds == parser.get_default("gap_seconds"):
        args.gap_seconds = 2.0
    return args


def load_server(data_dir: Path, sessions: int, *, single_process: bool = False) -> ServerProcess:
    """The server these loads run against (not started): uvloop, command limits raised,
    no periodic checkpoint, 120 s for a replacement to load (also bench/engine_crash.py)."""
    return ServerProcess(
        data_dir,
        extra_config={
            "event_loop": "uvloop",
            "limits": raised_limits(sessions + 1000),
            "persist": {"checkpoint_interval_seconds": 0},
            "upgrade": {"load_timeout_seconds": 120},
        },
        ssh=False,
        flags=("--single-process",) if single_process else (),
    )


def start_on_world(
    data_dir: Path, objects: int, sessions: int, *, single_process: bool = False
) -> tuple[dict[str, Any], ServerProcess, float]:
    """Build an ``objects`` world in ``data_dir`` offline, then start ``load_server`` on it
    (also bench/engine_crash.py): the world's figures, the server, its start-up seconds."""
    note(f"building {objects} objects in {data_dir}")
    world, _ = run_clients(build_world(data_dir, objects))
    gc.collect()
    note(f"built in {world['build_seconds']} s; starting the server")
    server = load_server(data_dir, sessions, single_process=single_process)
    began = clock()
    server.start(timeout=300)
    startup = clock() - began
    note(f"server up in {startup:.2f} s (pid {server.pid}); connecting {sessions}")
    return world, server, startup


def run_logged(server: ServerProcess, load: Any) -> tuple[Any, str]:
    """Run the ``load`` coroutine against ``server``; the server's last log lines if it
    fails; the server stopped either way. Returns the load's result and the client loop."""
    try:
        return run_clients(load)
    except BaseException:
        note("the server's last log lines:\n" + "".join(server.stderr_lines[-30:]))
        raise
    finally:
        server.stop(timeout=60)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    fds = raise_fd_limit()
    if fds < args.sessions + 100:
        note(f"warning: open-file limit {fds} is low for {args.sessions} sessions")
    load_before = os.getloadavg()
    root = Path(tempfile.mkdtemp(prefix="moo-upgrade-bench-"))
    data_dir = root / "data"
    try:
        world, server, startup = start_on_world(
            data_dir, args.objects, args.sessions, single_process=args.single_process
        )
        ran, client_loop = run_logged(server, bench(args, server))
        records = read_records(data_dir, args.upgrades + 5)
        result = summarise(args, ran, records, server.stderr_lines)
    finally:
        if args.keep:
            note(f"data dir kept in {data_dir}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    result["world"] = {**world, "server_startup_seconds": round(startup, 2)}
    result["settings"] = {
        "sessions": args.sessions,
        "sessions_per_room": PER_ROOM,
        "period_ms": args.period_ms,
        "target_commands_per_s": round(args.sessions / (args.period_ms / 1000), 1),
        "upgrades": args.upgrades,
        "gap_seconds": args.gap_seconds,
        "warmup_seconds": args.warmup,
        "baseline_seconds": args.baseline,
        "after_cli_seconds": AFTER_SECONDS,
        "quick": args.quick,
        "limits_raised": True,
        "front": not args.single_process,
    }
    result["client"] = {"event_loop": client_loop, "process": "separate from the server"}
    result["machine"] = {
        **machine(),
        "open_file_limit": fds,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    publish(result, RESULTS if args.single_process else RESULTS.with_name("upgrade_front.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

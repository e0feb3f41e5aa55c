"""Engine-crash benchmark: players talking behind a front while the engine is killed.

``python bench/engine_crash.py [--sessions 1000] [--objects 100000] [--kills 3]
[--gap-seconds 5] [--period-ms 1000] [--quick]`` prints one JSON object and writes it to
``bench/results/engine_crash.json``. Goals (issue 12): across the kills, zero disconnects,
zero lost or repeated commands, every change acknowledged before a kill present after,
and commands answered again within 2 s of the kill (100k objects). ``--quick`` (100
sessions, 10k objects, 1 kill) is a smoke run.

1. Build the world offline (``world_builder.build_world``) and start ``moo serve`` (a
   front and its engine, the default) on it (tests/server_process.py), with upgrade.py's
   settings.
2. Set up upgrade.py's load: one room per ten sessions, session i ``say i SEQ`` every
   ``--period-ms``; each reply must come once and in order (``SayClient``): a reply that
   skips ahead counts the skipped ones as lost (``out_of_order``), one seen again is
   ``repeated``, one never seen is ``missing``, a closed connection a disconnect.
3. Beside it the Wizard streams changes: ``@describe #counter as vK`` one after another,
   noting the last K acknowledged before each kill and any reply seen twice.
4. ``--kills`` times: SIGKILL the engine named by ``run/engine.pid``, as an operator
   would. Per kill: ``recovery_ms`` (kill -> the first reply to anyone after it),
   ``catch_up_ms`` (kill -> every command due while the engine was down answered), the
   longest stretch without a reply, the engine's own log lines (journal replayed, lines
   re-run), and whether the counter's acknowledged value survived.
5. Stop the load, wait for stragglers, read the counter once more, stop the server.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.checkpoint import machine, ms  # noqa: E402
from bench.commands import PER_ROOM, dig_rooms, open_clients, raise_fd_limit  # noqa: E402
from bench.faults import description, make_counter, wizard  # noqa: E402
from bench.report import publish  # noqa: E402
from bench.upgrade import Load, SayClient, run_logged, start_on_world  # noqa: E402
from bench.world_builder import note  # noqa: E402
from moo import paths  # noqa: E402
from moo.net.gate_process import process_alive  # noqa: E402
from moo.net.telnet_client import TelnetClient  # noqa: E402
from tests.server_process import WIZARD_PASSWORD, ServerProcess  # noqa: E402

RESULTS = REPO / "bench" / "results" / "engine_crash.json"
QUICK = {"sessions": 100, "objects": 10_000, "kills": 1}
FULL = {"sessions": 1000, "objects": 100_000, "kills": 3}
RECOVERY_GOAL_MS = 2000.0
ATTACH_TIMEOUT = 120.0
ACK = "Description of counter"

clock = time.monotonic


class Builder:
    """The Wizard's stream of changes (step 3)."""

    def __init__(self, client: TelnetClient, oid: int) -> None:
        self.client = client
        self.oid = oid
        self.acked = 0
        self.repeated = 0
        self.stopped = False

    async def run(self) -> None:
        step = 0
        while not self.stopped:
            step += 1
            reply = await self.client.command(f"@describe #{self.oid} as v{step}", timeout=60)
            acks = sum(1 for line in reply if line.startswith(ACK))
            self.repeated += max(0, acks - 1)
            if acks:
                self.acked = step


def engine_log(lines: list[str], since: float) -> list[str]:
    """The engine's and the front's log lines about recovery written after ``since``."""
    keep = ("replayed", "attached at journal position", "exited", "restarting", "spare")
    out = []
    for line in lines:
        try:
            at = time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S")) + int(line[20:23]) / 1e3
        except ValueError:
            continue
        if at >= since and any(word in line for word in keep):
            out.append(line[24:].strip()[:200])
    return out


async def kill_once(
    server: ServerProcess, load: Load, builder: Builder, number: int, gap: float
) -> dict[str, Any]:
    """Step 4 for one kill."""
    engine_file = paths.engine_pid_file(server.data_dir)
    old = paths.read_pid(engine_file)
    assert old is not None and process_alive(old), "no engine to kill"
    acked_before = builder.acked
    wall, killed = time.time(), clock()
    os.kill(old, signal.SIGKILL)
    new = None
    while clock() - killed < ATTACH_TIMEOUT:
        pid = paths.read_pid(engine_file)
        if pid is not None and pid != old and process_alive(pid):
            new = pid
            break
        await asyncio.sleep(0.02)
    attached = clock()
    await asyncio.sleep(gap)
    # Replies to commands sent after the kill (output held in the front from before it
    # can still arrive after it, and says nothing about the new engine).
    arrivals = sorted(due + lat for due, lat in load.samples if due >= killed)
    first = arrivals[0] if arrivals else None
    down = [due + lat for due, lat in load.samples if killed <= due <= (first or killed)]
    stats = load.stats(killed, killed + gap)
    note(f"kill {number}: engine {old} -> {new}; first reply {ms((first or killed) - killed)} ms")
    return {
        "kill": number,
        "old_pid": old,
        "new_pid": new,
        "recovery_ms": ms(first - killed) if first is not None else None,
        "new_engine_pid_seen_ms": ms(attached - killed),
        "catch_up_ms": ms(max(down) - killed) if down else None,
        "commands_due_while_down": len(down),
        "no_reply": load.silence(killed - 1.0, killed + gap, killed),
        "latency_after_kill": stats,
        "counter_acked_before_kill": acked_before,
        "log": engine_log(server.stderr_lines, wall - 0.5),
    }


async def bench(args: argparse.Namespace, server: ServerProcess) -> dict[str, Any]:
    """Steps 2 to 5."""
    port = server.telnet_port
    rooms = await dig_rooms("127.0.0.1", port, WIZARD_PASSWORD, -(-args.sessions // PER_ROOM))
    clients = cast(
        list[SayClient], await open_clients("127.0.0.1", port, 0, args.sessions, rooms, SayClient)
    )
    for i, client in enumerate(clients):
        client.index = i
    wiz = await wizard(server)
    builder = Builder(wiz, await make_counter(wiz))
    gc.collect()
    gc.freeze()
    load = Load(clients, args.period_ms / 1000)
    load.start()
    streaming = asyncio.ensure_future(builder.run())
    await asyncio.sleep(args.warmup)
    kills = [
        await kill_once(server, load, builder, number, args.gap_seconds)
        for number in range(1, args.kills + 1)
    ]
    builder.stopped = True
    await asyncio.wait_for(streaming, 60)
    await load.stop()
    final = await description(wiz, builder.oid)
    still_open = sum(1 for c in clients if c.transport is not None and not c.transport.is_closing())
    for client in clients:
        client.close()
    await wiz.close()
    missing = sum(len(c.pending) for c in clients)
    survived = (
        all(int(final[1:] or 0) >= kill["counter_acked_before_kill"] for kill in kills)
        if final.startswith("v")
        else False
    )
    recoveries = [k["recovery_ms"] for k in kills if k["recovery_ms"] is not None]
    overall = {
        "sessions": args.sessions,
        "commands_sent": len(load.dues),
        "replies": len(load.samples),
        "disconnects": len(load.disconnects),
        "sessions_open_at_end": still_open,
        "lost": missing + load.out_of_order,
        "missing": missing,
        "out_of_order": load.out_of_order,
        "repeated": load.unexpected + builder.repeated,
        "changes_acknowledged": builder.acked,
        "counter_at_end": final,
        "acknowledged_changes_survived": survived,
        "worst_recovery_ms": max(recoveries, default=None),
    }
    goals = {
        "disconnects_met": not load.disconnects,
        "nothing_lost_met": overall["lost"] == 0,
        "nothing_repeated_met": overall["repeated"] == 0,
        "changes_survived_met": survived,
        "recovery_under_ms": RECOVERY_GOAL_MS,
        "recovery_met": bool(recoveries) and max(recoveries) <= RECOVERY_GOAL_MS,
    }
    return {"overall": overall, "goals": goals, "kills": kills}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sessions", type=int, help=f"default {FULL['sessions']}")
    parser.add_argument("--objects", type=int, help=f"default {FULL['objects']}")
    parser.add_argument("--kills", type=int, help=f"default {FULL['kills']}")
    parser.add_argument("--gap-seconds", type=float, default=5.0, help="after each kill")
    parser.add_argument("--period-ms", type=float, default=1000.0, help="each session's period")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load first")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    for key, value in sizes.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    fds = raise_fd_limit()
    load_before = os.getloadavg()
    root = Path(tempfile.mkdtemp(prefix="moo-crash-bench-"))
    data_dir = root / "data"
    try:
        world, server, _ = start_on_world(data_dir, args.objects, args.sessions)
        result, client_loop = run_logged(server, bench(args, server))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result["world"] = world
    result["settings"] = {
        "sessions": args.sessions,
        "kills": args.kills,
        "gap_seconds": args.gap_seconds,
        "period_ms": args.period_ms,
        "quick": args.quick,
    }
    result["client"] = {"event_loop": client_loop}
    result["machine"] = {
        **machine(),
        "open_file_limit": fds,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    publish(result, RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())

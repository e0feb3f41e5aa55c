"""Checkpoint benchmark: big worlds checkpointed by the real server while a player types.

``python bench/checkpoint.py [--sizes 10000,100000,1000000] [--slice-ms 2] [--keep]
[--peer HOST:PORT --peer-pid PID [--peer-login LINE] [--peer-objects N]]``
prints one JSON object and writes it to ``bench/results/checkpoint.json`` (rewritten
after each size, so a long run leaves the sizes it finished). Goals (from the issue): the
longest event-loop stall during a checkpoint is at most 8 ms at 100k objects and 30 ms
at 1M, and memory grows by less than 10% of the world's size (the server's RSS); at 1M
the checkpoint takes at most 2.5 s and the server starts (recovers) in at most 5 s; at
100k objects a world costs no more bytes per object than LambdaMOO's (``--peer``).

Bytes per object: the server's VmRSS just after it started on the world (step 5),
minus the VmRSS of a server started on an empty data dir (the core world alone), divided
by the objects the bench added. ``--peer`` measures a running LambdaMOO the same way on
the same world shape (``bench/peer_memory.py``: start it on a fresh copy of
LambdaCore-17May04.db, e.g. ``/tmp/lmoo/src/moo core.db out.db 7777``, and pass
``--peer 127.0.0.1:7777 --peer-pid PID``; the login defaults to ``connect Wizard``).

For each size N:

1. Build the world offline, in this process, through the world's API (not telnet):
   ``Store.open`` on an empty data dir gives the core world; ``world_builder.populate``
   adds N/100 rooms and N things with 8 properties each, 10,000 things per transaction
   (one journal frame each). GC is off while building: not what is measured.
2. In-process reference, no clients: one ``SnapshotWriter`` pass under a lag meter
   (seconds, slices, bytes, longest stall), then the ``initial`` checkpoint.
3. A journal tail for recovery to replay: N/100 one-property transactions; close.
4. In-process recovery figures: ``snapshot.load`` with GC on and off, then
   ``recovery.recover`` (load + replay) under ``gc_control.loading_world`` (as the server
   loads: one collection first, GC off, the world frozen).
5. Start the real server on the data dir (``tests/server_process.py``, uvloop, command
   rate limits raised, ``keep_checkpoints: 1`` so the measured checkpoint deletes the
   previous generation, as every checkpoint does in steady state).
   ``startup_seconds`` runs from spawning the process to its ``telnet listening`` line.
6. A player sends ``say x`` every ``--period-ms`` (10) on a fixed schedule: latency
   counts from the scheduled time, so a stall cannot hide the commands it delayed. A
   sampler reads the server's VmRSS every 10 ms. After a warm-up and a baseline stretch
   longer than the checkpoint should take, the Wizard sends ``@checkpoint now`` and waits
   for ``Checkpoint done:``. Sending to that line is the checkpoint window; the same
   length just before it is the baseline window. Peak RSS is the larger of the samples
   and VmHWM, reset through ``/proc/PID/clear_refs`` just before the checkpoint.
7. Stop the server (its shutdown checkpoint is not measured), read the checkpoint's
   SQLite record (``max_stall``, ``stalled_commands``), delete the data dir unless
   ``--keep``.

Reading the figures:

- ``server_max_stall_ms`` is the server's own lag meter (a 1 ms timer), as in the reply
  and the SQLite record; it covers only the steps inside the meter's window. The client
  figures cover everything from ``@checkpoint now`` to the reply, and ``client_worst``
  says when (ms after the request) the slowest commands were sent, so a stall outside
  the meter's window shows there.
- A command takes about three loop turns (read, run, flush); each turn can wait behind a
  snapshot slice, so the client's p50 during a checkpoint is about 3 x ``slice_ms``.
- On a shared machine, ``loop_thread_runqueue_wait_ms`` and ``loop_thread_preemptions``
  (the server's loop thread runnable but off the CPU) and ``cpu_cores`` say how much
  of a stall was other load; ``--server-nice -10`` separates the two.
- The player only talks, so no object changes during the checkpoint: the copy-before-
  write path (``SnapshotWriter._before_change``) is not exercised.

``--profile DIR`` also runs ``py-spy record --nonblocking --format raw`` on the server
during each checkpoint and writes collapsed stacks to ``DIR/checkpoint-N.txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.commands import (  # noqa: E402
    BenchClient,
    CpuMeter,
    connect,
    log_in,
    log_in_wizard,
    percentile,
    run_clients,
    wait_drained,
)
from bench.peer_memory import peer_bytes_per_object  # noqa: E402
from bench.world_builder import PER_ROOM, PROPS, note, populate  # noqa: E402
from moo.config import Persist  # noqa: E402
from moo.gc_control import loading_world  # noqa: E402
from moo.persist import snapshot  # noqa: E402
from moo.persist.lag import LagMeter  # noqa: E402
from moo.persist.records import Records, default_url  # noqa: E402
from moo.persist.recovery import list_checkpoints, recover  # noqa: E402
from moo.persist.store import Store  # noqa: E402
from moo.world.loader import build_core_world  # noqa: E402
from tests.server_process import WIZARD_PASSWORD, ServerProcess  # noqa: E402

RESULTS = REPO / "bench" / "results" / "checkpoint.json"
PLAYER, PLAYER_PASSWORD = "ckptbench", "bench-pw"
WARMUP_SECONDS = 1.0
MIN_BASELINE_SECONDS = 3.0
TAIL_SECONDS = 0.5
STALL_GOALS_MS = ((100_000, 8.0), (1_000_000, 30.0))  # (up to N objects, longest stall)
BIG_WORLD = 1_000_000  # at this size and above: the duration and recovery goals
DURATION_GOAL_SECONDS = 2.5
RECOVERY_GOAL_SECONDS = 5.0
PEER_OBJECTS = 100_000
MEMORY_GOAL_PCT = 10.0
MIB = 1 << 20

clock = time.monotonic


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


# ------------------------------------------------------------------------- building


async def build(data_dir: Path, n: int, slice_ms: float) -> dict[str, Any]:
    """Build, snapshot in-process, checkpoint, add a journal tail, close. Returns figures."""
    gc.disable()
    began = clock()
    config = Persist(checkpoint_interval_seconds=0, slice_ms=slice_ms)
    store = Store.open(data_dir, config, build_core_world)
    world = store.world
    things = populate(world, n)
    build_seconds = clock() - began
    gc.freeze()  # as the server does after loading: the world stays out of full collections
    gc.enable()

    meter = LagMeter()
    meter.start()
    reference = data_dir / "bench-reference.mck"
    writer = snapshot.SnapshotWriter(
        world, reference, store.journal.position, slice_seconds=slice_ms / 1000
    )
    writer.start()
    stats = await writer.write()
    stall = await meter.stop()
    reference.unlink()
    initial = await store.checkpoint("initial", "bench")
    if not initial.ok:
        raise RuntimeError(f"initial checkpoint failed: {initial.error}")

    rng = random.Random(n)
    tail = max(1, n // 100)
    for k in range(tail):
        world.set_prop(rng.choice(things), "counter", -k)  # one transaction, one frame each
    world_objects = len(world.objects)
    await store.close(final_reason=None)
    return {
        "objects": n,
        "world_objects": world_objects,
        "build_seconds": round(build_seconds, 2),
        "in_process_snapshot": {
            "seconds": round(stats.seconds, 3),
            "slices": stats.slices,
            "bytes": stats.header.body_length,
            "max_stall_ms": ms(stall),
        },
        "in_process_initial_checkpoint": {
            "seconds": round(initial.duration, 3),
            "bytes": initial.bytes,
            "max_stall_ms": ms(initial.max_stall),
        },
        "journal_tail_transactions": tail,
    }


def recovery_figures(data_dir: Path) -> dict[str, Any]:
    """snapshot.load (GC on and off) and recover() in this process, on the built data dir."""
    checkpoints = data_dir / "checkpoints"
    path = list_checkpoints(checkpoints)[-1][1]
    gc.collect()
    began = clock()
    world, header = snapshot.load(path)
    load_gc_on = clock() - began
    del world
    gc.collect()
    gc.disable()
    began = clock()
    world, header = snapshot.load(path)
    load_gc_off = clock() - began
    gc.enable()
    del world
    began = clock()
    with loading_world():
        recovered = recover(checkpoints, data_dir / "journal", build_core_world)
    recover_seconds = clock() - began
    replayed = recovered.replayed
    del recovered
    gc.unfreeze()
    gc.collect()
    return {
        "load_seconds": round(load_gc_on, 3),
        "load_seconds_gc_off": round(load_gc_off, 3),
        "recover_seconds": round(recover_seconds, 3),
        "replayed_transactions": replayed,
        "file_bytes": path.stat().st_size,
        "file_objects": header.object_count,
    }


# --------------------------------------------------------------------- the server run


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM ... of ``pid`` in KiB (empty once the process is gone)."""
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        if line.startswith("Vm") and line.endswith(" kB"):
            key, value = line.split(":", 1)
            out[key] = int(value.split()[0])
    return out


def loop_thread_sched(pid: int) -> tuple[float, float, int]:
    """The server's main (event-loop) thread: CPU seconds, seconds spent runnable but waiting
    for a CPU (``/proc/PID/schedstat``), and involuntary context switches (preemptions)."""
    try:
        run_ns, wait_ns, _slices = Path(f"/proc/{pid}/schedstat").read_text().split()[:3]
        status = Path(f"/proc/{pid}/status").read_text()
    except (OSError, ValueError):
        return 0.0, 0.0, 0
    found = re.search(r"nonvoluntary_ctxt_switches:\s+(\d+)", status)
    return int(run_ns) / 1e9, int(wait_ns) / 1e9, int(found.group(1)) if found else 0


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (``clear_refs`` 5); False when not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


DONE = re.compile(
    rb"Checkpoint done: (\d+) objects, (\d+) bytes in ([\d.]+) s; longest stall ([\d.]+) ms"
)


async def load_run(
    port: int, pid: int, period: float, expected: float, profile: Path | None
) -> dict[str, Any]:
    """Play, checkpoint, measure (step 6 of the module docstring)."""
    loop = asyncio.get_running_loop()
    wizard = await connect("127.0.0.1", port)
    await log_in_wizard(wizard, WIZARD_PASSWORD)
    await wizard.command("look")
    player = await connect("127.0.0.1", port)
    await log_in(player, PLAYER, PLAYER_PASSWORD)
    await player.command("say ready")

    samples: list[tuple[float, float]] = []  # (send time, latency)
    scheduled: list[float] = []  # send times: the scheduled time, or later if the timer ran late
    rss: list[tuple[float, int]] = []
    stop_at = float("inf")

    def done(_client: BenchClient, due: float, now: float) -> None:
        samples.append((due, now - due))

    def fire(due: float) -> None:
        assert player.transport is not None
        if due >= stop_at or player.transport.is_closing():
            return
        sent = max(due, clock())  # uvloop's timers may fire up to 1 ms early
        player.started.append(sent)
        player.transport.write(b"say x\r\n")
        scheduled.append(sent)
        later = due + period
        if later < stop_at:
            loop.call_later(max(0.0, later - clock()), fire, later)

    async def sample_rss() -> None:
        while True:
            kib = proc_status(pid).get("VmRSS")
            if kib is not None:
                rss.append((clock(), kib))
            await asyncio.sleep(0.01)

    sampler = loop.create_task(sample_rss())
    player.start_load(done)
    begin = clock() + 0.05
    loop.call_later(0.05, fire, begin)
    baseline_len = max(MIN_BASELINE_SECONDS, 1.5 * expected + 1.0)
    await asyncio.sleep(WARMUP_SECONDS + baseline_len)

    spy = start_profile(pid, profile)
    if spy is not None:
        await asyncio.sleep(0.5)  # let py-spy attach before the checkpoint starts
    hwm_reset = reset_peak_rss(pid)
    cpu = CpuMeter([pid])
    cpu.start()
    sched0 = loop_thread_sched(pid)
    t0 = clock()
    wizard.send("@checkpoint now")
    try:
        reply = await wizard.wait_for(
            rb"Checkpoint (done|FAILED)[^\r\n]*", timeout=max(300.0, 60 * expected)
        )
    except TimeoutError:
        seen = bytes(wizard.text[-600:])
        raise RuntimeError(f"no Checkpoint done line; the Wizard saw {seen!r}") from None
    t1 = clock()
    hwm = proc_status(pid).get("VmHWM", 0)
    cpu_cores = cpu.stop()
    sched1 = loop_thread_sched(pid)
    stop_profile(spy)
    await asyncio.sleep(TAIL_SECONDS)
    stop_at = clock()
    await wait_drained([player], 5)
    sampler.cancel()
    wizard.close()
    player.close()

    found = DONE.search(reply)
    if found is None:
        raise RuntimeError(f"checkpoint failed: {reply[-300:]!r}")
    window = t1 - t0
    base_from = max(begin + WARMUP_SECONDS, t0 - window)
    during = sorted(lat for due, lat in samples if t0 <= due < t1)
    before = sorted(lat for due, lat in samples if base_from <= due < t0)
    due_during = sum(1 for due in scheduled if t0 <= due < t1)
    rss_before = [kib for t, kib in rss if t0 - 1.0 <= t < t0] or [rss[0][1]]
    rss_during = [kib for t, kib in rss if t0 <= t <= t1] or [0]
    baseline_kib = statistics.median(rss_before)
    peak_kib = max(max(rss_during), hwm if hwm_reset else 0)
    return {
        "checkpoint": {
            "seconds": float(found.group(3)),
            "window_seconds": round(window, 3),
            "objects": int(found.group(1)),
            "bytes": int(found.group(2)),
            "server_max_stall_ms": float(found.group(4)),
            "client_max_ms": ms(during[-1] if during else 0.0),
            "client_p99_ms": ms(percentile(during, 0.99)),
            "client_p50_ms": ms(percentile(during, 0.50)),
            "client_worst": worst(samples, t0, t1),
            "client_commands": len(during),
            "client_unanswered": due_during - len(during),
            "baseline_seconds": round(t0 - base_from, 3),
            "baseline_client_max_ms": ms(before[-1] if before else 0.0),
            "baseline_client_p99_ms": ms(percentile(before, 0.99)),
            "baseline_client_p50_ms": ms(percentile(before, 0.50)),
            "client_period_ms": period * 1000,
            "cpu_cores": cpu_cores,  # machine_busy_cores beyond server + client: other load
            # Time the server's loop thread was runnable but had no CPU (other processes on
            # the machine), and how often it was preempted: stalls the code did not cause.
            "loop_thread_cpu_seconds": round(sched1[0] - sched0[0], 3),
            "loop_thread_runqueue_wait_ms": ms(sched1[1] - sched0[1]),
            "loop_thread_preemptions": sched1[2] - sched0[2],
        },
        "memory": {
            "baseline_rss_mib": round(baseline_kib / 1024, 1),
            "peak_rss_mib": round(peak_kib / 1024, 1),
            "growth_mib": round((peak_kib - baseline_kib) / 1024, 1),
            "growth_pct": round(100 * (peak_kib - baseline_kib) / baseline_kib, 2),
            "peak_from": "VmHWM and 10 ms VmRSS samples" if hwm_reset else "VmRSS samples",
        },
    }


def worst(samples: list[tuple[float, float]], t0: float, t1: float) -> list[list[float]]:
    """The 5 slowest (due, latency) samples due in [t0, t1): [ms after ``t0``, ms]."""
    slowest = sorted((lat, due) for due, lat in samples if t0 <= due < t1)[-5:]
    return [[ms(due - t0), ms(lat)] for lat, due in reversed(slowest)]


def start_profile(pid: int, output: Path | None, rate: int = 250) -> subprocess.Popen[bytes] | None:
    if output is None:
        return None
    output.parent.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    args = [str(spy), "record", "--pid", str(pid), "--nonblocking", "--format", "raw"]
    args += ["--rate", str(rate), "--output", str(output)]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profile(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None:
        process.send_signal(signal.SIGINT)
        process.wait(30)


def checkpoint_record(data_dir: Path) -> dict[str, Any]:
    records = Records.open(default_url(data_dir))
    try:
        manual = [r for r in records.recent_checkpoints_sync(20) if r.reason == "manual"]
    finally:
        records.close()
    if not manual:
        return {}
    record = manual[0]
    return {
        "status": record.status,
        "duration_seconds": round(record.duration or 0.0, 3),
        "max_stall_ms": ms(record.max_stall or 0.0),
        "stalled_commands": record.stalled_commands,
    }


def run_size(args: argparse.Namespace, n: int, root: Path) -> dict[str, Any]:
    data_dir = root / f"world-{n}"
    note(f"{n} objects: building in {data_dir}")
    figures, _ = run_clients(build(data_dir, n, args.slice_ms))
    gc.collect()
    note(f"{n} objects: built in {figures['build_seconds']} s; timing recovery in-process")
    recovery = recovery_figures(data_dir)
    note(f"{n} objects: {json.dumps(recovery)}; starting the server")
    server = ServerProcess(
        data_dir,
        extra_config={
            "persist": {
                "checkpoint_interval_seconds": 0,
                "keep_checkpoints": 1,
                "slice_ms": args.slice_ms,
            },
            "limits": {"commands_per_second": 1_000_000, "command_burst": 1_000_000},
        },
        ssh=False,
    )
    began = clock()
    server.start(timeout=args.startup_timeout)
    startup = clock() - began
    pid = server.pid  # the engine: the process that holds the world and writes checkpoints
    assert pid is not None
    loaded_kib = settled_rss_kib(pid)
    if args.server_nice:
        os.setpriority(os.PRIO_PROCESS, pid, args.server_nice)  # Linux: the loop thread only
    note(f"{n} objects: server up in {startup:.2f} s (pid {pid}); measuring")
    expected = figures["in_process_initial_checkpoint"]["seconds"]
    profile = args.profile / f"checkpoint-{n}.txt" if args.profile else None
    try:
        measured, client_loop = run_clients(
            load_run(server.telnet_port, pid, args.period_ms / 1000, expected, profile)
        )
    finally:
        server.stop(timeout=900)
    measured["checkpoint"]["sqlite_record"] = checkpoint_record(data_dir)
    recovery["startup_seconds"] = round(startup, 2)
    added = figures["world_objects"] - core_objects(args, root)
    measured["memory"]["loaded_rss_mib"] = round(loaded_kib / 1024, 1)
    measured["memory"]["empty_server_rss_mib"] = round(args.empty_rss_kib / 1024, 1)
    measured["memory"]["bytes_per_object"] = round((loaded_kib - args.empty_rss_kib) * 1024 / added)
    result = {
        "objects": figures["objects"],
        "world_objects": figures["world_objects"],
        "build_seconds": figures["build_seconds"],
        **measured,
        "recovery": recovery,
        "in_process": {
            "snapshot": figures["in_process_snapshot"],
            "initial_checkpoint": figures["in_process_initial_checkpoint"],
            "journal_tail_transactions": figures["journal_tail_transactions"],
        },
        "client_event_loop": client_loop,
    }
    note(f"{n} objects: {json.dumps(result)}")
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
        (root / f"world-{n}-config.yaml").unlink(missing_ok=True)
    return result


def settled_rss_kib(pid: int) -> int:
    """VmRSS of a server that just said it listens, once it stops moving (the first
    checkpoint timer, imports run late): the smallest of 10 reads 50 ms apart."""
    reads = []
    for _ in range(10):
        reads.append(proc_status(pid).get("VmRSS", 0))
        time.sleep(0.05)
    return min(reads)


def core_objects(args: argparse.Namespace, root: Path) -> int:
    """Objects in the core world; on first call also the RSS of a server on an empty data
    dir (``args.empty_rss_kib``), the base that bytes per object are counted from."""
    if getattr(args, "core_objects", None) is None:
        empty = root / "empty"
        server = ServerProcess(
            empty, extra_config={"persist": {"checkpoint_interval_seconds": 0}}, ssh=False
        )
        server.start(timeout=args.startup_timeout)
        pid = server.pid  # the engine, as for the world measured against it
        assert pid is not None
        try:
            args.empty_rss_kib = settled_rss_kib(pid)
        finally:
            server.stop(timeout=60)
        args.core_objects = len(build_core_world().objects)
        shutil.rmtree(empty, ignore_errors=True)
        (root / "empty-config.yaml").unlink(missing_ok=True)
    return int(args.core_objects)


def peer_figures(args: argparse.Namespace) -> dict[str, Any] | None:
    """The peer's bytes per object (``bench/peer_memory.py``), or None without ``--peer``."""
    if not args.peer:
        return None
    host, _, port = args.peer.rpartition(":")
    note(f"peer {args.peer}: building {args.peer_objects} things through its Wizard")
    result, _ = run_clients(
        peer_bytes_per_object(host, int(port), args.peer_pid, args.peer_login, args.peer_objects)
    )
    note(f"peer: {json.dumps(result)}")
    return {"address": args.peer, "things": args.peer_objects, **result}


# ----------------------------------------------------------------------------- goals


def stall_goal_ms(n: int) -> float | None:
    for up_to, goal in STALL_GOALS_MS:
        if n <= up_to:
            return goal
    return None


def goals(worlds: list[dict[str, Any]], peer: dict[str, Any] | None) -> dict[str, Any]:
    rows = []
    for world in worlds:
        n = world["objects"]
        goal = stall_goal_ms(n)
        checkpoint = world["checkpoint"]
        growth = world["memory"]["growth_pct"]
        big = n >= BIG_WORLD
        seconds = checkpoint["seconds"]
        startup = world["recovery"]["startup_seconds"]
        compare = peer is not None and n == peer["things"]
        ours = world["memory"]["bytes_per_object"]
        rows.append(
            {
                "objects": n,
                "max_stall_goal_ms": goal,
                "server_max_stall_ms": checkpoint["server_max_stall_ms"],
                "stall_met": None if goal is None else checkpoint["server_max_stall_ms"] <= goal,
                "client_max_ms": checkpoint["client_max_ms"],
                "client_stall_met": None if goal is None else checkpoint["client_max_ms"] <= goal,
                "memory_growth_pct": growth,
                "memory_met": growth < MEMORY_GOAL_PCT,
                "checkpoint_seconds": seconds,
                "duration_met": seconds <= DURATION_GOAL_SECONDS if big else None,
                "startup_seconds": startup,
                "recovery_met": startup <= RECOVERY_GOAL_SECONDS if big else None,
                "bytes_per_object": ours,
                "peer_bytes_per_object": peer["bytes_per_object"] if compare and peer else None,
                "bytes_met": ours <= peer["bytes_per_object"] if compare and peer else None,
                "peer_dump_max_ms": peer["dump"]["dump_max_ms"] if compare and peer else None,
                "stall_vs_peer_met": (
                    checkpoint["client_max_ms"] <= peer["dump"]["dump_max_ms"]
                    if compare and peer
                    else None
                ),
            }
        )
    keys = (
        "stall_met",
        "memory_met",
        "duration_met",
        "recovery_met",
        "bytes_met",
        "stall_vs_peer_met",
    )
    flags = [row[k] for row in rows for k in keys if row[k] is not None]
    client_keys = ("client_stall_met", *keys[1:])
    client = [row[k] for row in rows for k in client_keys]
    return {
        "max_stall_ms": {str(n): goal for n, goal in STALL_GOALS_MS},
        "checkpoint_seconds_at_most": {str(BIG_WORLD): DURATION_GOAL_SECONDS},
        "startup_seconds_at_most": {str(BIG_WORLD): RECOVERY_GOAL_SECONDS},
        "bytes_per_object": "at most the peer's (LambdaMOO) at the size the peer was built to",
        "stall_vs_peer": "client_max_ms at most the peer's worst reply during its dump, same size",
        "memory_growth_pct_under": MEMORY_GOAL_PCT,
        "stall_figure": "server_max_stall_ms (the server's lag meter, as in the reply)",
        "per_size": rows,
        "all_met": all(flags),
        "client_all_met": all(c for c in client if c is not None),
    }


def machine() -> dict[str, Any]:
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kib / (1 << 20), 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "server_event_loop": "uvloop",
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        type=lambda text: [int(s) for s in text.split(",") if s],
        help="comma-separated world sizes (things; rooms and the core world come on top)",
    )
    parser.add_argument("--slice-ms", type=float, default=Persist().slice_ms)
    parser.add_argument("--period-ms", type=float, default=10.0, help="the player's command period")
    parser.add_argument("--keep", action="store_true", help="keep the data dirs (paths on stderr)")
    parser.add_argument("--dir", type=Path, help="where to build the worlds (default: a temp dir)")
    parser.add_argument("--startup-timeout", type=float, default=1800.0)
    parser.add_argument("--profile", type=Path, help="write py-spy stacks of each checkpoint here")
    parser.add_argument("--peer", help="HOST:PORT of a running LambdaMOO to measure as well")
    parser.add_argument("--peer-pid", type=int, help="the peer's process id (for its VmRSS)")
    parser.add_argument("--peer-login", default="connect Wizard", help="the peer Wizard's login")
    parser.add_argument("--peer-objects", type=int, default=PEER_OBJECTS, help="things to build")
    parser.add_argument(
        "--server-nice",
        type=int,
        default=0,
        help="renice the server's loop thread (e.g. -10) to tell the code's stalls from "
        "other load on a shared machine; 0: leave it",
    )
    args = parser.parse_args(argv)
    if args.peer and (args.peer_pid is None or ":" not in args.peer):
        parser.error("--peer needs HOST:PORT and --peer-pid PID (the peer must run here)")
    args.core_objects = None
    args.empty_rss_kib = 0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root = args.dir or Path(tempfile.mkdtemp(prefix="moo-ckpt-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    worlds: list[dict[str, Any]] = []
    result: dict[str, Any] = {}
    peer = peer_figures(args)
    for n in args.sizes:
        worlds.append(run_size(args, n, root))
        result = {
            "worlds": worlds,
            "peer": peer,
            "goals": goals(worlds, peer),
            "settings": {
                "slice_ms": args.slice_ms,
                "client_period_ms": args.period_ms,
                "props_per_thing": len(PROPS),
                "things_per_room": PER_ROOM,
                "keep_checkpoints": 1,
                "server_nice": args.server_nice,
            },
            "machine": machine(),
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if args.keep:
        note(f"data dirs kept in {root}")
    elif args.dir is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

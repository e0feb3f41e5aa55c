"""A fault campaign of our own: crashes, damaged files, a full disk and telnet fuzz.

Each family runs trials and counts failures (the server did something it must not: died,
refused where it must start, started where it must refuse) and anything lost (an
acknowledged change missing after a restart). The goal is 0 failures and 0 lost
everywhere. Prints JSON and writes bench/results/faults.json.

    .venv/bin/python bench/faults.py                       # every family, default trials
    .venv/bin/python bench/faults.py --families damage kill9 --kill-trials 30

Families:

kill9      A real server (``persist.fsync: always``, a padded world whose checkpoint is
           ~1 MB) streams a builder's ``@describe`` changes; SIGKILL lands at a random
           moment: among appends, a random moment after ``@checkpoint now``, or as soon as
           that checkpoint's temp file appears (``mid_checkpoint`` counts the kills that
           left one). Restarted without
           --force-recover, the counter's description must be one the builder sent, at
           least the last one acknowledged.
damage     In-process, on the server's own recovery (``Store.open``) over a world with two
           checkpoints and journal after them: one damaged copy per byte class of the newest
           checkpoint (magic, length, packed header, CRC, padding, body start/middle/end,
           truncation, garbage appended), of the journal (each field of the first, a middle
           and the last frame; truncations and zeroed sectors at the end, which are torn
           writes; the newest segment or its marker deleted or garbled) and of the records
           database (header, a middle page, truncation, -wal garbage). Each start must give
           the whole world back, or refuse (never a world with acknowledged changes missing),
           and damaged records must never stop a start. A torn write's last change was never
           acknowledged, so losing exactly it is not counted.
disk_full  A real server under RLIMIT_FSIZE (writes past it fail as on a full disk): the
           journal write fails mid-stream (the world must refuse changes and tell the wizard;
           a restart with space must hold every acknowledged change), and a checkpoint that
           does not fit (announced as failed, the previous one intact).
kill9_upgrade  A builder streams ``@describe`` changes (``fsync: always``) and asks for a hot
           upgrade; at a random moment within 1.5 s SIGKILL lands on the old server, the
           replacement or both, then on whatever still runs (a machine crash mid-upgrade).
           Restarted, the counter must hold at least the last acknowledged change.
tmpfs_full The data directory on a real 24 MB tmpfs, filled to ~200 KB free: the journal's
           own write and fsync meet ENOSPC (fsync always). The wizard must be told, and after
           the space returns a restart holds every acknowledged change and takes new ones.
           Needs root (mount); without it the family notes why and runs no trial.
fuzz       A real server fed random byte streams, IAC floods, an unterminated
           subnegotiation, a 10 MB line and a client that never reads while it floods
           commands; meanwhile a player's ``say`` round trips are timed. The server must
           stay up and answer; the player's p99 and the server's RSS are printed.

Hypothesis runs against the telnet codec in the test suite (tests/unit/test_telnet_codec_fuzz.py).
eio        A fault-injecting file layer (a sitecustomize on the server's PYTHONPATH: the server's
           code is unchanged) makes the journal's write and fsync fail with EIO while a flag
           file exists: wizards told, changes refused, and once the flag goes the server
           writes a checkpoint, takes changes again, and a kill -9 loses nothing acknowledged.
Not here yet: kill -9 during standby catch-up (there is no standby yet).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import logging
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from moo.config import Persist  # noqa: E402
from moo.errors import CheckpointError  # noqa: E402
from moo.net.telnet_client import TelnetClient  # noqa: E402
from moo.persist import journal_format as jf  # noqa: E402
from moo.persist import snapshot  # noqa: E402
from moo.persist.marker import MARKER  # noqa: E402
from moo.persist.recovery import list_checkpoints  # noqa: E402
from moo.persist.store import Store  # noqa: E402
from moo.world.loader import build_core_world  # noqa: E402
from tests.server_process import WIZARD_PASSWORD, ServerProcess  # noqa: E402

# Each fault here lands on the process that holds the world as a machine crash would (a
# SIGKILL of it, a full disk under it): the one-process server, so that nothing else
# (a front) stays up to soften it. bench/engine_crash.py measures the front's side.
SINGLE = ("--single-process",)

SEED = 20_261_206
NO_BUDGET = {"commands_per_second": 1e6, "command_burst": 1_000_000, "max_pending_lines": 100_000}


def config(**persist: object) -> dict[str, object]:
    return {
        "persist": {"checkpoint_interval_seconds": 0, "keep_checkpoints": 3, **persist},
        "limits": NO_BUDGET,
    }


def family(trials: int = 0, failures: int = 0, lost: int = 0) -> dict[str, Any]:
    return {"trials": trials, "failures": failures, "lost": lost, "notes": []}


async def wizard(server: ServerProcess) -> TelnetClient:
    client = await TelnetClient.connect("127.0.0.1", server.telnet_port)
    client.send_line(f"connect Wizard {WIZARD_PASSWORD}")
    await client.expect("Exits:", 10)
    client.send_line("PREFIX --begin--")
    client.send_line("SUFFIX --done--")
    return client


async def make_counter(client: TelnetClient) -> int:
    created = await client.command("@create $thing named counter", timeout=10)
    found = re.search(r"\(#(\d+)\)", created[0])
    assert found, created
    return int(found.group(1))


async def description(client: TelnetClient, oid: int) -> str:
    lines = await client.command(f"look #{oid}", timeout=10)
    return lines[1] if len(lines) > 1 else ""


# --------------------------------------------------------------------------- kill9


async def description_after_restart(
    data: Path, cfg: dict[str, object], oid: int, then: str | None = None
) -> tuple[str, list[str]]:
    """Start a server on ``data`` again and read ``oid``'s description (and, with ``then``,
    try one more ``@describe``: its reply). RuntimeError if the start is refused."""
    again = ServerProcess(data, extra_config=cfg, ssh=False, flags=SINGLE).start()
    try:
        client = await wizard(again)
        found = await description(client, oid)
        answer = await client.command(f"@describe #{oid} as {then}", timeout=10) if then else []
        await client.close()
    finally:
        again.stop()
    return found, answer


def leading_number(text: str) -> int:
    digits = re.match(r"\d+", text)
    return int(digits.group(0)) if digits else 0


async def describe_until_refused(client: TelnetClient, oid: int, text: str) -> tuple[int, bool]:
    """Describe ``oid`` as "<step><text>" until a change is refused (a full disk): the last
    step acknowledged, and whether that refusal told the wizard (a server alarm)."""
    acked = 0
    for step in range(1, 1000):
        reply = await client.command(f"@describe #{oid} as {step}{text}", timeout=10)
        if not (reply and reply[0].startswith("Description of counter")):
            return acked, any("Server alarm" in line for line in reply)
        acked = step
    return acked, False


async def kill9_trial(
    data: Path, oid: int, trial: int, rng: random.Random
) -> tuple[bool, int, int]:
    """(failed, lost, acknowledged) for one SIGKILL trial on ``data`` (reused from trial
    to trial)."""
    always = config(fsync="always")
    server = ServerProcess(data, extra_config=always, ssh=False, flags=SINGLE).start()
    client = await wizard(server)
    acked = sent = 0
    in_flight = 8
    mode = trial % 3  # 0: appending only; 1: a random moment after @checkpoint now;
    deadline = time.monotonic() + rng.uniform(0.05, 1.2)  # 2: once its temp file is there
    if mode:
        client.send_line("@checkpoint now")
        deadline = time.monotonic() + rng.uniform(0.0, 0.3) if mode == 1 else deadline + 2
    while time.monotonic() < deadline:
        if mode == 2 and any((data / "checkpoints").glob("*.tmp")):
            break
        while sent - acked < in_flight:
            sent += 1
            client.send_line(f"@describe #{oid} as t{trial}v{sent}")
        line = await client.read_line(5)
        if line is not None and line.startswith("Description of counter"):
            acked += 1
    assert server.process is not None
    server.process.send_signal(signal.SIGKILL)
    server.wait_exit()
    await client.close()
    if any((data / "checkpoints").glob("*.tmp")):
        MID_CHECKPOINT.append(trial)
    try:
        found, _ = await description_after_restart(data, config(fsync="always"), oid)
    except RuntimeError as error:
        print(f"kill9 trial {trial}: the restart was refused: {error}", file=sys.stderr)
        return True, acked, acked
    match = re.fullmatch(rf"t{trial}v(\d+)", found)
    value = int(match.group(1)) if match else 0
    if match is None and acked == 0:
        return False, 0, 0
    if value > sent or match is None:
        return True, acked, acked
    return False, max(0, acked - value), acked


async def run_kill9(root: Path, trials: int) -> dict[str, Any]:
    result = family()
    result["acknowledged"] = 0
    rng = random.Random(SEED)
    data = root / "kill9"
    always = config(fsync="always")
    server = ServerProcess(data, extra_config=always, ssh=False, flags=SINGLE).start()
    client = await wizard(server)
    oid = await make_counter(client)
    await pad(client, 300)
    await client.close()
    server.stop()
    for trial in range(trials):
        failed, lost, acked = await kill9_trial(data, oid, trial, rng)
        result["acknowledged"] += acked
        result["trials"] += 1
        result["failures"] += failed
        result["lost"] += lost
    result["mid_checkpoint"] = len(MID_CHECKPOINT)
    return result


# ------------------------------------------------------------------ kill9_upgrade

UPGRADE = {
    "upgrade": {
        "load_timeout_seconds": 15.0,
        "ready_timeout_seconds": 3.0,
        "busy_wait_seconds": 1.0,
    },
    "persist": {"fsync": "always", "checkpoint_interval_seconds": 0},
    "limits": NO_BUDGET,
}


def serving_pids(data: Path) -> list[int]:
    """Every ``moo serve`` process of ``data`` (the old server and its replacement)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv and str(data).encode() in argv:
            found.append(int(entry.name))
    return found


async def kill9_upgrade_trial(
    data: Path, oid: int, trial: int, rng: random.Random
) -> tuple[bool, int, int, str]:
    """(failed, lost, acknowledged, whom) for one trial: a builder streams changes, the
    wizard asks for a hot upgrade, and at a random moment of it SIGKILL lands on the old
    server, the replacement or both (a machine crash); whatever still runs is then killed
    too, and the data dir must start again with every acknowledged change."""
    server = ServerProcess(data, extra_config=UPGRADE, ssh=False, flags=SINGLE).start()
    builder = await wizard(server)  # the wizard both builds and asks for the upgrade
    acked = sent = 0
    builder_lost = False
    builder.send_line("@hot-upgrade")
    started = time.monotonic()
    when = rng.uniform(0.0, 1.5)
    whom = rng.choice(["old", "new", "both"])
    old = server.process.pid if server.process is not None else 0
    while time.monotonic() - started < when:
        while sent - acked < 8:
            sent += 1
            builder.send_line(f"@describe #{oid} as u{trial}v{sent}")
        line = await builder.read_line(2)
        if line is None and builder.closed:
            builder_lost = True
            break
        if line is not None and line.startswith("Description of counter"):
            acked += 1
    pids = serving_pids(data)
    targets = {"old": [old], "new": [p for p in pids if p != old], "both": pids}[whom]
    for pid in targets:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    await asyncio.sleep(0.3)
    for pid in serving_pids(data):  # the machine goes down: nothing survives the trial
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    await asyncio.sleep(0.2)
    await builder.close()
    if server.process is not None:
        server.process.wait(10)
    try:
        found, _ = await description_after_restart(data, UPGRADE, oid)
    except RuntimeError as error:
        print(f"kill9_upgrade trial {trial}: the restart was refused: {error}", file=sys.stderr)
        return True, acked, acked, whom
    match = re.fullmatch(rf"u{trial}v(\d+)", found)
    value = int(match.group(1)) if match else 0
    if match is None:
        return acked > 0 and not builder_lost, acked, acked, whom
    return value > sent, max(0, acked - value), acked, whom


async def run_kill9_upgrade(root: Path, trials: int) -> dict[str, Any]:
    result = family()
    result["acknowledged"] = 0
    result["killed"] = {"old": 0, "new": 0, "both": 0}
    rng = random.Random(SEED + 1)
    data = root / "kill9_upgrade"
    server = ServerProcess(data, extra_config=UPGRADE, ssh=False, flags=SINGLE).start()
    client = await wizard(server)
    oid = await make_counter(client)
    await client.close()
    server.stop()
    for trial in range(trials):
        failed, lost, acked, whom = await kill9_upgrade_trial(data, oid, trial, rng)
        result["acknowledged"] += acked
        result["killed"][whom] += 1
        result["trials"] += 1
        result["failures"] += failed
        result["lost"] += lost
    return result


MID_CHECKPOINT: list[int] = []  # kill9 trials whose kill left a checkpoint temp file
ALIASES = ",".join(f"alias{i}" + "x" * 290 for i in range(10))  # ~3 KB an object


async def pad(client: TelnetClient, count: int) -> None:
    """``count`` objects of ~3 KB each, 50 commands in flight."""
    for first in range(0, count, 50):
        batch = range(first, min(first + 50, count))
        client.send_raw(
            b"".join(f"@create $thing named pad{i},{ALIASES}\r\n".encode() for i in batch)
        )
        for _ in batch:
            await client.expect("You now have pad", 30)


# -------------------------------------------------------------------------- damage

PERSIST = Persist(fsync="no", checkpoint_interval_seconds=0, keep_checkpoints=3)


async def damage_template(path: Path) -> tuple[set[str], str]:
    """A data dir as a crash leaves it: two checkpoints, journal after the newest.
    Returns the names made (all acknowledged) and the name made last (the last frame)."""
    store = Store.open(path, PERSIST, build_core_world)
    await store.checkpoint("initial", "bench")
    names: list[str] = []
    for step in range(60):
        name = f"thing{step}"
        store.world.create(store.world.sys("thing"), 2, name)
        store.world.set_prop(store.world.next_id - 1, "description", f"made in step {step}")
        names.append(name)
        if step == 29:
            await store.checkpoint("manual", "bench")
    store.journal._close_fd()  # kill -9: no final checkpoint, no clean close
    store.records.close()
    return set(names), names[-1]


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x5A
    path.write_bytes(bytes(data))


def frames(segment: Path) -> list[tuple[int, int]]:
    data = segment.read_bytes()
    found, offset = [], 0
    while offset + jf.FRAME_HEAD <= len(data):
        size = jf.FRAME_HEAD + int.from_bytes(data[offset + 2 : offset + 6], "big")
        found.append((offset, size))
        offset += size
    return found


def damage_variants(data: Path) -> list[tuple[str, str, Callable[[], object]]]:
    """(file kind, variant, damage it) for every variant; ``torn`` variants may lose the
    last (never acknowledged) change. What a damage call returns (``write_bytes`` counts
    bytes) is ignored."""
    newest = list_checkpoints(data / "checkpoints")[-1][1]
    length = int.from_bytes(newest.read_bytes()[8:12], "big")
    body = newest.stat().st_size - snapshot.HEADER_SIZE
    variants: list[tuple[str, str, Callable[[], object]]] = []
    for name, offset in [
        ("magic", 3),
        ("length", 10),
        ("packed header", 12 + length // 2),
        ("header crc", 13 + length),
        ("padding", 1000),
        ("padding end", snapshot.HEADER_SIZE - 1),
        ("body array header", snapshot.HEADER_SIZE + 1),
        ("body start", snapshot.HEADER_SIZE + 40),
        ("body middle", snapshot.HEADER_SIZE + body // 2),
        ("body end", snapshot.HEADER_SIZE + body - 1),
    ]:
        variants.append(("checkpoint", name, functools.partial(flip, newest, offset)))

    def truncate(path: Path, size: int) -> None:
        with path.open("r+b") as f:
            f.truncate(size)

    variants += [
        ("checkpoint", "truncated header", lambda: truncate(newest, 100)),
        (
            "checkpoint",
            "truncated body",
            lambda: truncate(newest, snapshot.HEADER_SIZE + body // 3),
        ),
        ("checkpoint", "garbage appended", lambda: newest.write_bytes(newest.read_bytes() + b"x")),
        ("checkpoint", "deleted", newest.unlink),
    ]
    segment = jf.list_segments(data / "journal")[-1][1]
    laid = frames(segment)
    for which, (start, size) in (
        ("first", laid[0]),
        ("middle", laid[len(laid) // 2]),
        ("last", laid[-1]),
    ):
        for field, at in (
            ("magic", 0),
            ("length", 4),
            ("crc", 7),
            ("lsn", 15),
            ("payload", 25),
            ("end", size - 1),
        ):
            variants.append(
                ("journal", f"{which} frame {field}", functools.partial(flip, segment, start + at))
            )
    start, size = laid[-1]
    end = start + size
    variants += [
        ("journal", "torn: last frame cut short", lambda: truncate(segment, end - 3)),
        ("journal", "torn: last frame head only", lambda: truncate(segment, start + 5)),
        ("journal", "torn: zeros from a sector boundary", lambda: _zero_tail(segment, start, end)),
        ("journal", "newest segment deleted", segment.unlink),
        ("journal", "marker garbled", lambda: (data / "journal" / MARKER).write_text("{oops")),
        ("journal", "marker deleted", (data / "journal" / MARKER).unlink),
    ]
    records = data / "moo.sqlite"
    variants += [
        ("records", "header", lambda: flip(records, 3)),
        ("records", "middle page", lambda: flip(records, records.stat().st_size // 2 + 100)),
        ("records", "truncated", lambda: truncate(records, 1000)),
        ("records", "not a database", lambda: records.write_bytes(b"garbage" * 1000)),
        ("records", "-wal garbage", lambda: (data / "moo.sqlite-wal").write_bytes(b"w" * 5000)),
    ]
    return variants


def _zero_tail(segment: Path, start: int, end: int) -> None:
    boundary = max(start, (end - 1) // jf.SECTOR * jf.SECTOR)
    data = bytearray(segment.read_bytes())
    data[boundary:end] = b"\0" * (end - boundary)
    segment.write_bytes(bytes(data))


async def run_damage(root: Path) -> dict[str, Any]:
    result = family()
    result["outcomes"] = {}
    template = root / "damage-template"
    names, last = await damage_template(template)
    count = len(damage_variants(_copy(template, root / "damage-count")))
    for index in range(count):
        data = _copy(template, root / "damage-trial")
        kind, variant, apply = damage_variants(data)[index]
        apply()
        outcome, failed, lost = _open_damaged(data, names, last, kind, variant)
        result["trials"] += 1
        result["failures"] += failed
        result["lost"] += lost
        result["outcomes"][f"{kind}: {variant}"] = outcome
    return result


def _copy(source: Path, target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    return target


def _open_damaged(
    data: Path, names: set[str], last: str, kind: str, variant: str
) -> tuple[str, bool, int]:
    try:
        store = Store.open(data, PERSIST, build_core_world)
    except CheckpointError as error:
        refused = f"refused: {str(error)[:100]}"
        return refused, kind == "records", 0  # damaged records must never stop a start
    try:
        present = {obj.name for obj in store.world.objects.values()}
    finally:
        store.journal.close()
        store.records.close()
    missing = names - present
    if variant.startswith("torn:"):
        missing.discard(last)  # a write cut short was never acknowledged
    if missing:
        return f"LOST {len(missing)}", True, len(missing)
    if any(data.glob("moo.sqlite.damaged-*")):
        return "started, nothing lost; records moved aside and made anew", False, 0
    return "started, nothing lost", False, 0


# ----------------------------------------------------------------------- disk_full

LIMIT = 256 * 1024


async def run_disk_full(root: Path, trials: int) -> dict[str, Any]:
    result = family()
    for trial in range(trials):
        failed, lost, note = await _journal_full_trial(root / f"full-{trial}", trial)
        result["trials"] += 1
        result["failures"] += failed
        result["lost"] += lost
        if note:
            result["notes"].append(note)
    failed, note = await _checkpoint_full_trial(root / "full-checkpoint")
    result["trials"] += 1
    result["failures"] += failed
    if note:
        result["notes"].append(note)
    return result


async def _journal_full_trial(data: Path, trial: int) -> tuple[bool, int, str]:
    cfg = config(fsync="everysec")
    server = ServerProcess(
        data, extra_config=cfg, ssh=False, flags=SINGLE, file_size_limit=LIMIT
    ).start()
    client = await wizard(server)
    oid = await make_counter(client)
    acked, told = await describe_until_refused(client, oid, "." * (2000 + trial * 100))
    await client.close()
    server.stop()
    if not told:
        return True, 0, f"journal full trial {trial}: the wizard was not told"
    found, _ = await description_after_restart(data, cfg, oid)
    return False, max(0, acked - leading_number(found)), ""


# A fault-injecting file layer for the eio family: this sitecustomize, put on the server
# process's PYTHONPATH, makes os.write and os.fsync on the journal's files fail with EIO
# while the file named by MOO_EIO_FLAG exists (the device is failing); removing it is the
# device coming back. The server's code is unchanged: it sees what a failing disk returns.
EIO_SHIM = """
import errno, os
_flag = os.environ.get("MOO_EIO_FLAG", "")
_write, _fsync = os.write, os.fsync


def _journal(fd):
    try:
        return "/journal/" in os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return False


def _failing(fd):
    return bool(_flag) and os.path.exists(_flag) and _journal(fd)


def write(fd, data):
    if _failing(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))
    return _write(fd, data)


def fsync(fd):
    if _failing(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))
    return _fsync(fd)


os.write, os.fsync = write, fsync
"""


async def run_eio(root: Path, trials: int) -> dict[str, Any]:
    """EIO from the journal's writes and syncs (a fault-injecting file layer): wizards told,
    nothing acknowledged lost, changes taken again once the device answers again."""
    result = family()
    shim = root / "eio-shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(EIO_SHIM)
    for trial in range(trials):
        data = root / f"eio-{trial}"
        flag = root / f"eio-{trial}.failing"
        cfg = config(fsync="always" if trial % 2 else "everysec")
        cfg["persist"] = {**cfg["persist"], "resume_interval_seconds": 0.3}  # type: ignore[dict-item]
        env = {"PYTHONPATH": f"{shim}:{REPO}", "MOO_EIO_FLAG": str(flag)}
        server = ServerProcess(data, extra_config=cfg, ssh=False, flags=SINGLE, env=env).start()
        client = await wizard(server)
        oid = await make_counter(client)
        acked = 0
        for step in range(1, 20):
            reply = await client.command(f"@describe #{oid} as {step}", timeout=10)
            if reply and reply[0].startswith("Description of counter"):
                acked = step
        flag.touch()  # the device starts failing
        told = refused = False
        for step in range(20, 60):
            reply = await client.command(f"@describe #{oid} as {step}", timeout=10)
            if reply and reply[0].startswith("Description of counter"):
                acked = step
                await asyncio.sleep(0.05)  # everysec: the failure shows at the next sync
                continue
            told = told or any("Server alarm" in line for line in reply)
            refused = any("cannot be saved" in line for line in reply)
            if refused:
                break
        flag.unlink()  # the device answers again
        resumed = False
        try:
            await client.expect("the world is saved again", 15)
            reply = await client.command(f"@describe #{oid} as 1000", timeout=10)
            resumed = bool(reply) and reply[0].startswith("Description of counter")
            acked = 1000 if resumed else acked
        except AssertionError:
            pass
        await client.close()
        assert server.process is not None
        server.process.send_signal(signal.SIGKILL)
        server.wait_exit()
        found, _ = await description_after_restart(data, cfg, oid)
        value = leading_number(found)
        result["trials"] += 1
        result["failures"] += not (refused and resumed)
        result["lost"] += max(0, acked - value) and 1
        result["notes"].append(
            f"trial {trial}: told {told}, refused {refused}, resumed {resumed}, "
            f"acknowledged {acked}, found {value}"
        )
    return result


TMPFS_MB = 24


async def run_tmpfs_full(root: Path, trials: int) -> dict[str, Any]:
    """The journal's own write and fsync meet ENOSPC on a real, small tmpfs (as root:
    ``mount -t tmpfs``); the rest of the disk-full family uses RLIMIT_FSIZE instead."""
    result = family()
    for trial in range(trials):
        mount = root / f"tmpfs-{trial}"
        mount.mkdir()
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m", "tmpfs", str(mount)],
            capture_output=True,
            text=True,
        )
        if mounted.returncode != 0:
            result["notes"].append(f"no tmpfs (needs root): {mounted.stderr.strip()}")
            return result
        try:
            failed, lost, note = await _tmpfs_full_trial(mount, trial)
        finally:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)
        result["trials"] += 1
        result["failures"] += failed
        result["lost"] += lost
        if note:
            result["notes"].append(note)
    return result


async def _tmpfs_full_trial(mount: Path, trial: int) -> tuple[bool, int, str]:
    data = mount / "data"
    cfg = config(fsync="always")
    server = ServerProcess(data, extra_config=cfg, ssh=False, flags=SINGLE).start()
    client = await wizard(server)
    oid = await make_counter(client)
    filler = mount / "filler"
    free = shutil.disk_usage(mount).free
    with filler.open("wb") as f:  # leave a little room: the journal runs into the wall
        f.truncate(0)
        f.write(b"\0" * max(0, free - 200_000 - trial * 50_000))
    acked, told = await describe_until_refused(client, oid, "." * 3000)
    await client.close()
    server.stop()
    filler.unlink()  # space returns
    if not told:
        return True, 0, f"tmpfs trial {trial}: the wizard was not told (acked {acked})"
    found, answer = await description_after_restart(data, cfg, oid, then="after")
    value = leading_number(found)
    if not answer or not answer[0].startswith("Description of counter"):
        return True, max(0, acked - value), f"tmpfs trial {trial}: no changes after a restart"
    return False, max(0, acked - value), f"tmpfs trial {trial}: {acked} acknowledged, told"


async def _checkpoint_full_trial(data: Path) -> tuple[bool, str]:
    cfg = config(fsync="everysec")
    server = ServerProcess(data, extra_config=cfg, ssh=False, flags=SINGLE).start()
    client = await wizard(server)
    await pad(client, 120)
    await client.close()
    server.stop()
    kept = list_checkpoints(data / "checkpoints")[-1][1]
    before = snapshot.verify(kept)
    limited = ServerProcess(
        data, extra_config=cfg, ssh=False, flags=SINGLE, file_size_limit=LIMIT
    ).start()
    try:
        client = await wizard(limited)
        client.send_line("@checkpoint now")
        announced = await client.expect("FAILED", 20)
        await client.close()
    except AssertionError as error:
        return True, f"checkpoint full: no failure announced ({error})"
    finally:
        limited.stop()
    if snapshot.verify(kept) != before:
        return True, "checkpoint full: the previous checkpoint changed"
    return False, f"announced: {announced[:120]}"


# ---------------------------------------------------------------------------- fuzz


async def _stream(port: int, chunks: list[bytes], read: bool = True) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for chunk in chunks:
            writer.write(chunk)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(writer.drain(), 5)
            if read:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(reader.read(65536), 0.01)
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 2)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def run_fuzz(root: Path, rounds: int) -> dict[str, Any]:
    result = family()
    rng = random.Random(SEED)
    server = ServerProcess(root / "fuzz", extra_config={}, ssh=False, flags=SINGLE).start()
    assert server.process is not None
    try:
        client = await wizard(server)
        rss_before = _rss_kib(server.process.pid)
        latencies: list[float] = []
        stop = asyncio.Event()

        async def measure() -> None:
            while not stop.is_set():
                began = time.perf_counter()
                await client.command("say ping", timeout=30)
                latencies.append(time.perf_counter() - began)
                await asyncio.sleep(0.02)

        meter = asyncio.create_task(measure())
        attackers = []
        for _ in range(rounds):
            attackers += [
                _stream(server.telnet_port, [rng.randbytes(65536) for _ in range(16)]),
                _stream(server.telnet_port, [b"\xff\xfb\x01\xff\xfd\x03" * 20000]),
                _stream(server.telnet_port, [b"\xff\xfa\x18" + rng.randbytes(1 << 20)]),
                _stream(server.telnet_port, [b"x" * (10 << 20) + b"\r\n"]),
                _stream(server.telnet_port, [b"look\r\n" * 50000], read=False),
            ]
        await asyncio.gather(*attackers)
        await asyncio.sleep(0.5)
        stop.set()
        await meter
        alive = server.running and (await client.command("say still here", timeout=10)) != []
        await client.close()
        ordered = sorted(latencies)
        result["trials"] = 5 * rounds
        result["failures"] = 0 if alive else 1
        result["player_round_trips"] = len(ordered)
        result["player_p99_ms"] = round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 1)
        result["player_max_ms"] = round(ordered[-1] * 1000, 1)
        result["server_rss_kib"] = {"before": rss_before, "after": _rss_kib(server.process.pid)}
    finally:
        server.stop()
    return result


# ---------------------------------------------------------------------------- main


async def campaign(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="moo-faults-") as tmp:
        root = Path(tmp)
        runs = {
            "damage": lambda: run_damage(root),
            "kill9": lambda: run_kill9(root, args.kill_trials),
            "kill9_upgrade": lambda: run_kill9_upgrade(root, args.upgrade_trials),
            "disk_full": lambda: run_disk_full(root, args.full_trials),
            "tmpfs_full": lambda: run_tmpfs_full(root, args.full_trials),
            "eio": lambda: run_eio(root, args.full_trials + 1),
            "fuzz": lambda: run_fuzz(root, args.fuzz_rounds),
        }
        for name in args.families:
            began = time.monotonic()
            try:
                results[name] = await runs[name]()
            except Exception as error:  # a family that broke is a failure, not a crash
                results[name] = family(failures=1)
                results[name]["notes"].append(f"{type(error).__name__}: {error}")
            results[name]["seconds"] = round(time.monotonic() - began, 1)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--families",
        nargs="+",
        default=["damage", "kill9", "kill9_upgrade", "disk_full", "tmpfs_full", "eio", "fuzz"],
    )
    parser.add_argument("--upgrade-trials", type=int, default=12)
    parser.add_argument("--kill-trials", type=int, default=20)
    parser.add_argument("--full-trials", type=int, default=3)
    parser.add_argument("--fuzz-rounds", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # the in-process starts' warnings are expected
    results = asyncio.run(campaign(args))
    print(json.dumps(results, indent=2))
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "faults.json").write_text(json.dumps(results, indent=2) + "\n")
    bad = any(r["failures"] or r["lost"] for r in results.values())
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

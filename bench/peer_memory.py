"""Bytes per object of a peer MOO server (LambdaMOO 1.8), on the bench world's shape.

``checkpoint.py --peer HOST:PORT --peer-pid PID`` calls ``peer_bytes_per_object``: the
peer's Wizard (``--peer-login``, e.g. ``connect Wizard`` on LambdaCore-17May04.db) builds,
through ``;;`` evals, the same world ``world_builder.populate`` builds in ours:

1. A bench class under ``$thing`` defining the 8 properties of ``world_builder.PROPS``
   (permissions ``rc``, the same defaults).
2. N/100 rooms (children of ``$room``) and N things, children of the class, 100 to a
   room, each with its own name and the same 8 values ``world_builder.thing_values``
   gives ours (a string, ints, a float, two lists, object numbers). Things are put in
   their room with ``move()``, as LambdaCore's builders would.

VmRSS of the peer (``/proc/PID/status``) is read before step 1 and after step 2; the
difference divided by the number of objects made (rooms and things) is the figure.
Then ``dump_stall``: a player of the peer sends ``look`` every 10 ms while its Wizard
asks for a checkpoint (``dump_database()``), and the worst reply is kept, to hold our
checkpoint's stall against LambdaMOO's forked dump on the same world. The
peer must run on this machine. This module starts no peer and builds nothing: LambdaMOO
is built by hand from its public source in a temporary folder outside the checkout, e.g.
``/tmp/lmoo/src/moo copy-of-LambdaCore.db out.db 7777``. Start it on a fresh copy of
the database for each run: the objects stay in it.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

from bench.peers import Peer
from bench.world_builder import DEFAULTS, PER_ROOM, PROPS

BATCH = 500  # things per ;; eval: well under the raised tick limit
PROP_DEFAULTS = ('""', "0", "0.0", "{}", "#-1", "0", "{}", "#-1")
assert len(PROP_DEFAULTS) == len(PROPS) == len(DEFAULTS)


def vm_rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` in KiB; OSError when there is no such process here."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise OSError(f"no VmRSS for pid {pid}")


def object_number(shown: str) -> int:
    """``97`` from LambdaCore's ``=> #97  (Bench Class)``."""
    found = re.match(r"#(-?\d+)", shown)
    if found is None:
        raise RuntimeError(f"the peer answered {shown!r} where an object number was due")
    return int(found.group(1))


def batch_code(cls: int, first: int, count: int) -> str:
    """MOO code making things ``first .. first+count-1`` (and their rooms); returns 1."""
    return (
        f"room = #-1; for i in [{first}..{first + count - 1}] "
        f'if (i % {PER_ROOM} == 0) room = create($room); room.name = tostr("Bench Room ", '
        f"i / {PER_ROOM}); endif "
        f'o = create(#{cls}); o.name = tostr("bench thing ", i); move(o, room); '
        'o.label = tostr("bench thing ", i, ", one of many"); o.weight = i % 1000; '
        'o.price = tofloat(i) * 0.25; o.tags = {"bench", tostr("t", i % 50)}; '
        f'o.origin = room; o.counter = i; o.history = {{i, "made", #{cls}}}; o.maker = #2; '
        "endfor; return 1;"
    )


async def peer_bytes_per_object(host: str, port: int, pid: int, login: str, n: int) -> Any:
    """Build the bench world of ``n`` things in the peer; its RSS figures (module docstring)."""
    peer = Peer("peer", host, port, [pid], login)
    await peer.setup(0)  # logs the Wizard in and raises the peer's tick limits
    try:
        before = vm_rss_kib(pid)
        began = time.monotonic()
        cls = object_number(
            await peer.eval(
                'c = create($thing); c.name = "Bench Class"; '
                + "".join(
                    f'add_property(c, "{name}", {default}, {{player, "rc"}}); '
                    for name, default in zip(PROPS, PROP_DEFAULTS, strict=True)
                )
                + "return c;"
            )
        )
        first_object = cls + 1
        for first in range(0, n, BATCH):
            # Each batch starts at a multiple of PER_ROOM, so it makes its own first room.
            await peer.eval(batch_code(cls, first, min(BATCH, n - first)))
        last = object_number(await peer.eval("return max_object();"))
        after = vm_rss_kib(pid)
        dump = await dump_stall(peer)
    finally:
        peer.close()
    made = last - first_object + 2  # the class, the rooms and the things
    return {
        "objects_made": made,
        "build_seconds": round(time.monotonic() - began, 1),
        "rss_before_mib": round(before / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "bytes_per_object": round((after - before) * 1024 / made),
        "dump": dump,
    }


PROBE_PERIOD = 0.01  # as checkpoint.py's player: a command every 10 ms
PROBE_SECONDS = 2.0


async def dump_stall(peer: Peer) -> dict[str, Any]:
    """What a player sending ``look`` every 10 ms sees of the peer's checkpoint
    (``dump_database()``, LambdaMOO's forked dump) on the world just built: the worst reply
    in ``PROBE_SECONDS`` before it (baseline) and in the ``PROBE_SECONDS`` after it is
    asked for. checkpoint.py compares it with ours (``client_max_ms``)."""
    await peer.grow(1)
    player = peer.clients[0]
    latencies: list[tuple[float, float]] = []

    async def probe(until: float) -> None:
        while time.monotonic() < until:
            sent = time.monotonic()
            await player.command("look")
            latencies.append((sent, time.monotonic() - sent))
            await asyncio.sleep(max(0.0, sent + PROBE_PERIOD - time.monotonic()))

    began = time.monotonic()
    probing = asyncio.create_task(probe(began + 2 * PROBE_SECONDS))
    await asyncio.sleep(PROBE_SECONDS)
    asked = time.monotonic()
    await peer.eval("dump_database(); return 1;")
    await probing
    before = [lat for at, lat in latencies if at < asked]
    after = [lat for at, lat in latencies if at >= asked]
    return {
        "baseline_max_ms": round(max(before, default=0.0) * 1000, 2),
        "dump_max_ms": round(max(after, default=0.0) * 1000, 2),
        "replies": len(latencies),
    }

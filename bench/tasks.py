"""What saving queued tasks in the world costs: a fork, and a suspend with its resumption.

``python bench/tasks.py [--count 2000] [--runs 3]`` prints one JSON object and writes it to
``bench/results/tasks.json``. In one process, on a core world (no sockets: the cost is the
scheduler's and the world's), each case runs ``--count`` times in one ``;`` task:

- ``fork``: ``fork (0) x = i; endfork`` in a loop: queueing (the record is built and
  committed with the forking task) and then starting each one (its record dropped in its
  own transaction);
- ``suspend``: ``suspend(0)`` in a loop inside a verb called from another: each suspend
  saves the task's three frames (``suspended.capture``), each resumption drops the record.

Each runs with tasks saved (as the server runs) and with saving turned off (the scheduler's
two save methods replaced by no-ops, as before tasks were world data), interleaved, median
of ``--runs``. Committed records are encoded as the journal encodes them (msgpack, the
world's codec), not written: the journal's ``os.write`` is the same for any record.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.report import publish  # noqa: E402
from moo.lang.entries import run_eval  # noqa: E402
from moo.lang.scheduler import Scheduler  # noqa: E402
from moo.world.codec import encoder  # noqa: E402
from moo.world.model import MOO_IMPL, VerbDef  # noqa: E402
from moo.world.mutations import Mutation  # noqa: E402
from tests.unit.lang.test_task_helpers import WIZARD, make  # noqa: E402

RESULTS = REPO / "bench" / "results" / "tasks.json"
INNER = "for i in [1..args[1]]\n  suspend(0);\nendfor\nreturn 1;"
OUTER = "return this:inner(args[1]) + 1;"


async def one(case: str, count: int, save: bool) -> float:
    """Seconds per operation (a fork and its start, or a suspend and its resumption)."""
    tw = make()

    def encode(records: list[Mutation]) -> None:
        encoder.encode(records)  # as the journal does

    tw.world.add_observer(encode)
    for names, source in (("inner", INNER), ("outer", OUTER)):
        verb = VerbDef(names, WIZARD, "rxd", "this", "none", "this", MOO_IMPL, source)
        tw.world.add_verb(tw.box, verb)
    scheduler = tw.scheduler
    if not save:
        scheduler._save_fork = lambda *_: None  # type: ignore[method-assign]
        scheduler._save_suspended = lambda *_: None  # type: ignore[method-assign]
    if case == "fork":
        source = f"for i in [1..{count}] fork (0) x = i; endfork endfor"
    else:
        source = f"#{tw.box}:outer({count})"
    began = time.perf_counter()
    outcome = run_eval(scheduler, WIZARD, source)
    assert outcome.status in ("done", "suspended"), outcome.lines()
    await drained(scheduler)
    return (time.perf_counter() - began) / count


async def drained(scheduler: Scheduler) -> None:
    while scheduler.waiting:
        await asyncio.sleep(0)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    results: dict[str, Any] = {}
    for case in ("fork", "suspend"):
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.runs):
            for save in (False, True):
                times[save].append(await one(case, args.count, save))
        memory = statistics.median(times[False])
        saved = statistics.median(times[True])
        results[case] = {
            "memory_only_us": round(memory * 1e6, 1),
            "saved_us": round(saved * 1e6, 1),
            "cost_of_saving_us": round((saved - memory) * 1e6, 1),
        }
    publish(
        {
            "per_operation": results,
            "count": args.count,
            "runs": args.runs,
            "timing": "wall time per operation in one process, median of the runs",
        },
        RESULTS,
    )


if __name__ == "__main__":
    asyncio.run(main())

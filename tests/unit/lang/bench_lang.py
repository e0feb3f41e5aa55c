"""Compiler speed figures (not a test): ``.venv/bin/python -m tests.unit.lang.bench_lang``.

The loops run on ``MemoryTask`` (they make no verb calls). fib's verb calls run the way the
server runs them: ``;`` evaluated by a real ``Scheduler`` on a real world (``run_eval``), so
its call sites call the verb's compiled function directly. ``MemoryTask.call_verb`` is a
test double that ignores the call site's cache: fib through it measured a path the server
never takes (~1.5 s for fib(25) against ~0.11 s on the real task).
"""

from __future__ import annotations

import time

from moo.lang.compiler import compile_program
from moo.lang.entries import run_eval
from moo.lang.parser import parse
from moo.lang.task_api import Limits
from moo.world.values import ObjRef
from tests.unit.lang.memory_task import MemoryTask
from tests.unit.lang.test_task_helpers import WIZARD, make

LOOP = "x = 0; for i in [1..1000000] x = x + i; endfor return x;"
WHILE = "x = 0; i = 0; while (i < 1000000) i = i + 1; x = x + i % 7; endwhile return x;"
LIST = (
    "l = {}; for i in [1..20000] l = {@l, i}; endfor"
    " s = 0; for x in (l) s = s + x; endfor return s;"
)
INDEX = "l = {1, 2, 3, 4, 5}; s = 0; for i in [1..1000000] s = s + l[i % 5 + 1]; endfor return s;"
STRINGS = 's = ""; for i in [1..100000] if (i % 2 == 0) s = s + "a"; endif endfor return length(s);'
FIB = "{n} = args; if (n < 2) return n; endif return this:fib(n - 1) + this:fib(n - 2);"


def _time(task: MemoryTask, source: str) -> float:
    """The best of three runs, in seconds."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        task.run(source)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    task = MemoryTask(Limits(ticks=10**12, max_depth=100))
    elapsed = _time(task, LOOP)
    print(
        f"for-range loop x = x + i: {1_000_000 / elapsed / 1e6:.2f}M iterations/s ({elapsed:.3f}s)"
    )
    elapsed = _time(task, WHILE)
    print(
        f"while loop with % and +:  {1_000_000 / elapsed / 1e6:.2f}M iterations/s ({elapsed:.3f}s)"
    )
    elapsed = _time(task, INDEX)
    print(
        f"indexing loop:            {1_000_000 / elapsed / 1e6:.2f}M iterations/s ({elapsed:.3f}s)"
    )
    print(f"list append 20k + sum:    {_time(task, LIST) * 1000:.1f} ms")
    print(f"string building 100k:     {_time(task, STRINGS) * 1000:.1f} ms")
    fib()
    small_verb_compile()
    verb = "\n".join(
        f'x{i} = {{{i}, "s{i}", #{i}}}; if (x{i}[1] > 3 && length(x{i}) == 3) y = x{i}[2] + "z"; '
        f"elseif (`x{i}[4] ! E_RANGE => 0') y = 1; "
        f"else for j in [1..3] y = {{@x{i}, j}}; endfor endif"
        for i in range(1000)
    )
    start = time.perf_counter()
    parse(verb)
    print(f"parse a 1000-line verb: {(time.perf_counter() - start) * 1000:.1f} ms")


def fib(runs: int = 5) -> None:
    """fib(25) by verb calls, through ``;`` on a real scheduler and world: the best of
    ``runs``."""
    tw = make(Limits(ticks=10**9, seconds=10**6, max_depth=100))
    box = ObjRef(tw.box)
    assert (
        tw.bi(WIZARD, "add_verb", box, [ObjRef(WIZARD), "rxd", "fib"], ["this", "none", "this"])
        == 0
    )
    assert tw.bi(WIZARD, "set_verb_code", box, "fib", [FIB]) == []
    source = f"{box}:fib(25)"
    run_eval(tw.scheduler, WIZARD, source)
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        lines = run_eval(tw.scheduler, WIZARD, source).lines()
        best = min(best, time.perf_counter() - start)
    calls = 242785
    rate = calls / best / 1e3
    print(f"fib(25) {lines} via verb calls: {best * 1000:.0f} ms ({rate:.0f}k calls/s)")


def small_verb_compile(runs: int = 200) -> None:
    """Compiling a small verb (parse, generate, ``compile``), cache bypassed: the mean."""
    start = time.perf_counter()
    for i in range(runs):
        compile_program(f'{FIB}\n"{i}";')
    elapsed = (time.perf_counter() - start) / runs
    print(f"compile a small verb:     {elapsed * 1000:.2f} ms")


if __name__ == "__main__":
    main()

"""Compiler speed figures (not a test): ``.venv/bin/python -m tests.unit.lang.bench_lang``."""

from __future__ import annotations

import time

from moo.lang.parser import parse
from moo.lang.task_api import Limits
from tests.unit.lang.memory_task import MemoryTask

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
    task.add_object(1)
    task.add_verb(1, "fib", FIB)
    task.run("return #1:fib(2);")
    result = task.run("return #1:fib(25);")
    elapsed = _time(task, "return #1:fib(25);")
    calls = 242785
    rate = calls / elapsed / 1e3
    print(f"fib(25) = {result} via verb calls: {elapsed * 1000:.0f} ms ({rate:.0f}k calls/s)")
    verb = "\n".join(
        f'x{i} = {{{i}, "s{i}", #{i}}}; if (x{i}[1] > 3 && length(x{i}) == 3) y = x{i}[2] + "z"; '
        f"elseif (`x{i}[4] ! E_RANGE => 0') y = 1; "
        f"else for j in [1..3] y = {{@x{i}, j}}; endfor endif"
        for i in range(1000)
    )
    start = time.perf_counter()
    parse(verb)
    print(f"parse a 1000-line verb: {(time.perf_counter() - start) * 1000:.1f} ms")


if __name__ == "__main__":
    main()

"""How ``codegen`` writes MOO's loops: their ticks, their chunks and their named exits.

1. ``loop_stmt``: ``while``, ``for v in (list)``, ``for v in [a..b]``.
2. Ticks: a tick an iteration (``TICK``: ``task.ticks``). A loop nothing in which spends or
   reads ticks (``analysis.tick_free``) counts them in a local and writes the count back
   however it is left; ``for v in [a..b]`` over such a body pays them a chunk at a time
   (``ops.TickedRange``, ``chunked_range``). The same ticks at the same iterations each way.
3. ``break name`` / ``continue name`` of an outer loop set a flag (``_bkN`` / ``_ctN``) and
   break the inner loops, each of which tests the flag after itself (``loop_exit``).
4. A ``for`` loop a task may wait in (its body calls a verb, ``pass``, ``suspend`` or
   ``read``: ``positions.may_wait``) keeps where it is in locals named after its number
   (``positions.numbered``): ``_fl<k>`` the list and ``_fi<k>`` the index, or ``_fi<k>``
   the counter and ``_fe<k>`` the end of a range, so a suspended task can be saved
   (``moo/lang/suspended.py``). It costs ~20 ns an iteration (``enumerate``, one more
   local store), in loops that make a verb call of ~430 ns anyway.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from moo.lang import tree as t
from moo.lang.analysis import assigned_names, tick_free
from moo.lang.positions import may_wait

Line = tuple[int, str, int]  # indent, text, MOO line
TICK = ("task.ticks -= 1", "if task.ticks <= 0: task.out_of_ticks()")


@dataclass
class Scope:
    """One Python function being written: ``run``, a fork body or a closure."""

    kind: str  # "run" | "fork" | "closure"
    lines: list[Line] = field(default_factory=list)
    hoisted: list[Line] = field(default_factory=list)  # closure defs, at the top
    nonlocals: set[str] = field(default_factory=set)


@dataclass
class Loop:
    id: int
    name: str | None
    exits: set[tuple[int, str]] = field(default_factory=set)  # (loop id, "bk"/"ct")
    flag_at: int = 0  # where the loop starts in the scope's lines
    flags: set[str] = field(default_factory=set)


class Loops:
    """The loop emitters; ``codegen._Gen`` provides the rest of the generator (its
    statements in ``statements.py``, expressions in ``expressions.py``)."""

    scope: Scope
    loops: list[Loop]
    indent: int
    line: int
    counter: itertools.count[int]
    loop_ids: dict[int, int]

    # provided by ``codegen._Gen`` (``statements.py``, ``expressions.py``)
    def ex(self, e: t.Expr) -> str:
        raise NotImplementedError

    def test(self, e: t.Expr) -> str:
        raise NotImplementedError

    def tmp(self) -> str:
        raise NotImplementedError

    def emit(self, text: str, line: int | None = None) -> None:
        raise NotImplementedError

    def block(self, body: tuple[t.Stmt, ...]) -> None:
        raise NotImplementedError

    def loop_stmt(self, s: t.While | t.ForList | t.ForRange) -> None:
        if isinstance(s, t.While):
            # ``while True: if not test: break`` runs ~25% faster than ``while test:`` when
            # the test is a conditional expression, as MOO's comparisons compile to
            # (``while (i < N) i = i + 1;``: 0.150 s -> 0.112 s a million iterations)
            if s.name is None:
                guard = f"if not {self.test(s.cond)}: break"
            else:
                guard = f"if not _truth(v_{s.name.lower()} := {self.ex(s.cond)}): break"
            self.loop(s.name, "while True:", s.body, tick_free(s.cond, s.body), guard=guard)
        elif isinstance(s, t.ForList):
            if not may_wait(s.body):
                head = f"for v_{s.var.lower()} in _for_list({self.ex(s.expr)}):"
                self.loop(s.var, head, s.body, tick_free(s.body))
                return
            k = self.loop_ids[id(s)]
            self.emit(f"_fl{k} = _for_list({self.ex(s.expr)})")
            self.loop(s.var, f"for _fi{k}, v_{s.var.lower()} in _enumerate(_fl{k}):", s.body)
        else:
            start, end = self.ex(s.start), self.ex(s.end)
            if tick_free(s.body):
                self.chunked_range(s, start, end)
            elif not may_wait(s.body):
                head = f"for v_{s.var.lower()} in _for_range({start}, {end}):"
                self.loop(s.var, head, s.body)
            else:
                k = self.loop_ids[id(s)]
                self.emit(f"_fs{k} = {start}")
                self.emit(f"_fe{k} = {end}")
                head = f"for _fi{k} in _for_range(_fs{k}, _fe{k}):"
                self.loop(s.var, head, s.body, guard=f"v_{s.var.lower()} = _fi{k}")

    def chunked_range(self, s: t.ForRange, start: str, end: str) -> None:
        """``for v in [a..b]`` over a tick-free body, a chunk of iterations at a time
        (``ops.TickedRange``): a MOO ``break`` leaves the inner Python loop, and so the
        outer one (``for ... else``); what the chunk paid for and did not run is refunded
        in the ``finally``. The inner loop's variable is a temporary the MOO code cannot
        assign, so it tells how far the loop got."""
        ticked, chunk = self.tmp(), self.tmp()
        var = f"v_{s.var.lower()}"
        value = var
        ticks: tuple[str, ...] = ()
        if s.var.lower() in assigned_names(s.body):  # the body may change the variable
            value = self.tmp()
            ticks = (f"{var} = {value}",)
        self.emit(f"{ticked} = _TickedRange(task, {start}, {end})")
        heads = (f"for {chunk} in {ticked}:", f"for {value} in {chunk}:")
        after = ("else:", "    continue", "break")
        settle = f"if {ticked}.active: {ticked}.settle({value})"
        self.loop(s.var, heads, s.body, ticks=ticks, after=after, settle=settle)

    def loop(
        self,
        name: str | None,
        head: str | tuple[str, ...],
        body: tuple[t.Stmt, ...],
        tick_free: bool = False,
        *,
        ticks: tuple[str, ...] = TICK,
        after: tuple[str, ...] = (),
        settle: str = "",
        guard: str = "",
        emit_body: Callable[[], None] | None = None,
    ) -> None:
        """A loop that costs a tick an iteration. A ``tick_free`` loop (``analysis.tick_free``:
        nothing in it spends or reads ticks) counts them in a local and writes the count
        back to ``task.ticks`` before asking for more and when the loop is left, however it
        is left (``finally``): the same ticks at the same iterations, at a local's price
        instead of an attribute's (``while (i < 1000000) i = i + 1;``: 0.188 s -> 0.157 s;
        ``for i in [1..10000000] endfor`` 0.37 s -> 0.30 s, before it took chunks)."""
        loop = Loop(next(self.counter), name.lower() if name else None)
        loop.flag_at = len(self.scope.lines)
        line = self.line
        heads = (head,) if isinstance(head, str) else head
        if tick_free:
            count = f"_n{loop.id}"
            ticks = (f"{count} -= 1", f"if {count} <= 0: {count} = _more_ticks(task, {count})")
            self.emit(f"{count} = task.ticks")
            settle = f"task.ticks = {count}"
        if settle:
            self.emit("try:")
            self.indent += 1
        for text in heads:
            self.emit(text)
            self.indent += 1
        self.loops.append(loop)
        if emit_body is not None:  # a resumed loop (``resumed.py``): its own first iteration
            emit_body()
        else:
            if guard:
                self.emit(guard)
            for tick in ticks:
                self.emit(tick)
            self.block(body)
        self.loops.pop()
        self.indent -= 1
        for text in after:
            self.emit(text)
        self.indent -= len(heads) - 1
        if settle:
            self.indent -= 1
            self.emit("finally:")
            self.emit(f"    {settle}")
        self.line = line
        for flag in sorted(loop.flags):
            self.scope.lines.insert(loop.flag_at, (self.indent, f"{flag}{loop.id} = 0", line))
        if not self.loops:
            return
        parent = self.loops[-1]
        for target, kind in sorted(loop.exits):
            flag = f"_{kind}{target}"
            if target == parent.id:
                action = "break" if kind == "bk" else "continue"
                self.emit(f"if {flag}:")
                self.indent += 1
                self.emit(f"{flag} = 0")
                self.emit(action)
                self.indent -= 1
            else:
                self.emit(f"if {flag}: break")
                parent.exits.add((target, kind))

    def loop_exit(self, s: t.Break | t.Continue) -> None:
        kind = "bk" if isinstance(s, t.Break) else "ct"
        word = "break" if kind == "bk" else "continue"
        if s.name is None or self.loops[-1].name == s.name.lower():
            self.emit(word)
            return
        target = next(lp for lp in reversed(self.loops) if lp.name == s.name.lower())
        target.flags.add(f"_{kind}")
        self.loops[-1].exits.add((target.id, kind))
        self.emit(f"_{kind}{target.id} = 1")
        self.emit("break")

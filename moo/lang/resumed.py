"""The resumable compile mode: a saved frame's program, compiled to go on where it waited.

Used only to run a restored suspended task (``suspended.py``); the fast mode
(``codegen.py``) is unchanged by it. ``compile_resumed(source, spec)`` compiles the
frame's whole program again (same analysis, same loop and fork numbers), but writes its
root block (the program, or a fork's body) specialised for one position:

1. A prologue puts back the frame's variables (as constants of the compiled code).
2. Along the resume path (``positions``), each block skips the statements before the
   one the frame waited in and writes the rest as usual. An ``if`` goes straight into the
   arm it was in; a ``try`` keeps its ``except`` arms (or ``finally``) around the rest of
   its body; a loop restarts where it was, its first iteration running the rest of its
   body and the following ones the whole body, inside one Python loop so that ``break``
   and ``continue`` keep their meaning. A ``for`` loop takes back its list and index (or
   counter and end) from the saved hidden state, under the same local names as the fast
   mode uses, so a resumed frame that waits again saves the same way.
3. The statement it waited in is written with the waiting call replaced by its result
   (``spec.result``: the value ``suspend()`` or the called verb gave, or a ``raise()`` of
   the error the verb raised). This is A-normal form at the one point it is needed:
   whatever else the statement computes is computed again after the resumption (its
   variables are the same; a property read may see a later value).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from moo.lang import tree as t
from moo.lang.analysis import assigned_names, walk
from moo.lang.builtins import BUILTINS
from moo.lang.codegen import _Gen, finish
from moo.lang.compiler import Program, compile_program
from moo.lang.loops import TICK, Scope
from moo.lang.positions import HEADER, Path, children, follow, header, root_block, waits
from moo.lang.task_api import FRAME_READS


class NotResumable(Exception):
    """The saved position does not fit the program (it changed) or cannot be resumed."""


@dataclass
class ResumeSpec:
    """Where and how a frame goes on.

    ``root``: the fork number whose body is the frame's root block, -1 for the program.
    ``path``: ``positions`` path to the statement it waited in. ``variables``: its MOO
    variables by (lowercased) name. ``loops``: loop number -> saved state (``for`` over a
    list: [list, index, variable's value]; over a range: [counter, end]).
    ``result``: what replaces the waiting call.
    """

    root: int
    path: Path
    variables: dict[str, Any]
    loops: dict[int, list[Any]]
    result: t.Expr


def substitute(node: Any, target: Any, replacement: Any) -> Any:
    """``node`` with ``target`` (by identity) replaced by ``replacement``."""
    if node is target:
        return replacement
    if isinstance(node, tuple):
        items = tuple(substitute(n, target, replacement) for n in node)
        return node if all(a is b for a, b in zip(items, node, strict=True)) else items
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return node
    changes = {}
    for f in dataclasses.fields(node):
        if f.name == "line":
            continue
        value = getattr(node, f.name)
        new = substitute(value, target, replacement)
        if new is not value:
            changes[f.name] = new
    return dataclasses.replace(node, **changes) if changes else node


class _ResumeGen(_Gen):
    def __init__(self, program: t.Program, spec: ResumeSpec, debug: bool = True) -> None:
        super().__init__(program, BUILTINS, debug=debug)
        self.spec = spec
        self.keep: list[Any] = []  # nodes made here whose ids name loops: kept alive

    def source(self) -> tuple[str, list[int]]:
        spec = self.spec
        try:
            root = root_block(self.program, spec.root)
            follow(root, spec.path)
        except LookupError:
            raise NotResumable("the saved position is not in the program") from None
        first = root[0].line if root else 1
        self.line = first
        self.scope, self.loops, self.indent = Scope("run"), [], 1
        self.list_tests, self.available = {}, {}
        for name in self.frame_vars:
            self.emit(f"v_{name} = {FRAME_READS[name]}")
        for name, value in sorted(spec.variables.items()):
            if name in self.variables:
                self.emit(f"v_{name} = {self.literal(value)}")
        self.resume_block(root, spec.path)
        self.emit("return 0")
        body = self.scope.hoisted + self.scope.lines
        if self.assigned:
            names = " = ".join(f"v_{n}" for n in sorted(self.assigned))
            body = [(1, "if 0:", first), (2, f"{names} = 0", first), *body]
        out = [(0, "def run(task, frame):", first), *body]
        for d in self.defs:
            out.extend(d)
        text = "\n".join("    " * indent + line for indent, line, _ in out) + "\n"
        return text, [moo for _, _, moo in out]

    def resume_block(self, block: tuple[t.Stmt, ...], path: Path) -> None:
        index, branch = path[0]
        s = block[index]
        self.line = s.line or self.line
        if branch == -1:
            self.stmt(self.delivered(s, s))
        elif branch < 0:
            self.resume_header(s, branch)
        else:
            self.resume_stmt(s, branch, path[1:])
        for stmt in block[index + 1 :]:
            self.line = stmt.line or self.line
            if self.available:
                self.forget_indexes(assigned_names((stmt,)))
            self.stmt(stmt)
        self.emit("pass")

    def delivered(self, s: t.Stmt, node: Any, branch: int = -1) -> Any:
        """``node`` (``s`` or a part of it) with the waiting call replaced by the result."""
        calls = [n for n in walk(tuple(header(s, branch))) if waits(n)]
        if len(calls) != 1:
            raise NotResumable("the statement it waited in changed")
        result = dataclasses.replace(self.spec.result, line=s.line)
        return substitute(node, calls[0], result)

    def resume_header(self, s: t.Stmt, branch: int) -> None:
        """A statement that waited in its head: an ``if`` goes on from the arm whose
        condition waited; a loop starts with the result in its head (a ``while``'s later
        iterations test the condition as written)."""
        if isinstance(s, t.If):
            k = HEADER - branch
            if not 0 <= k < len(s.arms):
                raise NotResumable("the statement it waited in changed")
            cond, body = s.arms[k]
            arms = ((self.delivered(s, cond, branch), body), *s.arms[k + 1 :])
            self.available = {}
            self.stmt(t.If(arms, s.otherwise, s.line))
        elif isinstance(s, (t.ForList, t.ForRange)):
            started: t.ForList | t.ForRange = self.delivered(s, s, branch)
            self.loop_ids[id(started)] = self.loop_ids[id(s)]  # its hidden state's names
            self.keep.append(started)
            self.stmt(started)
        elif isinstance(s, t.While):
            with self.list_tests_hoisted(s):
                self.resume_while_head(s, self.delivered(s, s.cond, branch))
        else:
            raise NotResumable("the statement it waited in changed")

    def resume_while_head(self, s: t.While, first: t.Expr) -> None:
        k = self.loop_ids[id(s)]
        flag = f"_rs{k}"

        def guard(cond: t.Expr) -> str:
            if s.name is None:
                return f"if not {self.test(cond)}: break"
            return f"if not _truth(v_{s.name.lower()} := {self.ex(cond)}): break"

        once, every = guard(first), guard(s.cond)
        self.emit(f"{flag} = 1")

        def body() -> None:
            self.emit(f"if {flag}:")
            self.emit(f"    {flag} = 0")
            self.emit(f"    {once}")
            self.emit("else:")
            self.emit(f"    {every}")
            for tick in TICK:  # the waiting iteration's tick was not paid yet
                self.emit(tick)
            self.block(s.body)

        self.loop(s.name, "while True:", s.body, emit_body=body)

    def resume_stmt(self, s: t.Stmt, branch: int, rest: Path) -> None:
        blocks = children(s)
        if isinstance(s, t.If):
            self.available = {}
            self.resume_block(blocks[branch], rest)
        elif isinstance(s, t.TryExcept):
            if branch == 0:
                self.try_except(s, lambda: self.resume_block(s.body, rest))
            else:
                self.resume_block(blocks[branch], rest)
        elif isinstance(s, t.TryFinally):
            if branch != 0:
                raise NotResumable("it waited in a finally block")
            self.try_finally(s, lambda: self.resume_block(s.body, rest))
        elif isinstance(s, (t.While, t.ForList, t.ForRange)):
            with self.list_tests_hoisted(s):
                self.resume_loop(s, rest)
        else:
            raise NotResumable("the saved position is not in the program")

    def resume_loop(self, s: t.While | t.ForList | t.ForRange, rest: Path) -> None:
        k = self.loop_ids[id(s)]
        flag = f"_rs{k}"
        state = self.spec.loops.get(k)
        guard = ""
        first: list[str] = []
        if isinstance(s, t.While):
            if s.name is None:
                guard = f"if not {self.test(s.cond)}: break"
            else:
                guard = f"if not _truth(v_{s.name.lower()} := {self.ex(s.cond)}): break"
            head = "while True:"
            name = s.name
        elif state is None or len(state) < 2:
            raise NotResumable("a loop's saved state is missing")
        elif isinstance(s, t.ForList):
            items, index = state[0], state[1]
            if items.__class__ is not list or index.__class__ is not int:
                raise NotResumable("a loop's saved state is damaged")
            var = s.var.lower()
            self.emit(f"_fl{k} = {self.literal(items)}")
            head = f"for _fi{k}, v_{var} in _enumerate(_fl{k}[{index}:], {index}):"
            if len(state) > 2:
                first.append(f"v_{var} = {self.literal(state[2])}")
            name = s.var
        else:
            counter, end = state[0], state[1]
            self.emit(f"_fe{k} = {self.literal(end)}")
            head = f"for _fi{k} in _for_range({self.literal(counter)}, _fe{k}):"
            guard = f"v_{s.var.lower()} = _fi{k}"
            name = s.var
        self.emit(f"{flag} = 1")

        def body() -> None:
            self.emit(f"if {flag}:")
            self.indent += 1
            self.emit(f"{flag} = 0")
            for text in first:
                self.emit(text)
            self.resume_block(s.body, rest)
            self.indent -= 1
            self.line = s.line  # the head's line, as the fast code has it
            self.emit("else:")
            self.indent += 1
            if guard:
                self.emit(guard)
            for tick in TICK:
                self.emit(tick)
            self.block(s.body)
            self.indent -= 1

        self.loop(name, head, s.body, emit_body=body)


def compile_resumed(source: str, spec: ResumeSpec, debug: bool = True) -> Program:
    """The program ``source`` resumed at ``spec`` (``debug``: its verb's d bit). Raises
    ``NotResumable`` (and ``MooSyntaxError`` when the source no longer compiles)."""
    original = compile_program(source, debug=debug)
    gen = _ResumeGen(original.tree, spec, debug)
    filename = f"{original.filename[:-1]} resumed>"
    run = finish(gen, filename, source, root=spec.root)
    return Program(original.tree, run, filename, debug)

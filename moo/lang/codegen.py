"""AST -> a Python function ``run(task, frame)``: MOO compiled to Python bytecode.

1. ``_Gen`` walks the AST and writes Python source text, one MOO statement at a time,
   remembering for every Python line the MOO line it came from.
2. The text is parsed with ``ast.parse`` into an ``ast.Module`` and every node's line is
   replaced by its MOO line, so a traceback's ``tb_lineno`` in compiled code is a MOO line.
3. ``compile`` makes a code object; it runs in a globals dict that holds only the helpers
   passed in here (``ops``, the builtin functions, constants) and ``"__builtins__": {}``.

Safety: no Python name or attribute is ever taken from MOO text. MOO variables become
``v_<lowercased name>`` (identifiers are ASCII ``[A-Za-z_][A-Za-z0-9_]*``); property and verb
names, strings and numbers enter the text only through ``repr`` of a str/int/float; other
constants (objects, errors, code lists) are globals ``_kN``; builtin functions are ``_bfN``.

Semantics (LambdaMOO 1.8, execute.c):

- A variable read before any assignment is Python's UnboundLocalError, turned into E_VARNF
  where MOO code catches it (``except``, catch expressions: ``ops.CATCHABLE``) and at the
  program's boundary (``compiler``). Zero cost when nothing goes wrong, which is why it beat
  an explicit check (an ``is UNSET`` test on each read cost ~25% on a loop reading one
  variable per iteration).
  A variable the program never assigns compiles to ``_varnf()``.
- Every loop iteration costs a tick: ``task.ticks -= 1``, ``task.out_of_ticks()`` at 0. A
  loop with nothing in it that spends or reads ticks (``analysis.tick_free``) counts them in
  a local instead, and ``for v in [a..b]`` over such a body pays them a chunk at a time
  (``ops.TickedRange``) and runs a plain Python ``for`` over a ``range`` in each chunk:
  the same ticks at the same iterations either way (``loops.Loops``, a base class of
  ``_Gen``, writes every loop).
- What is known before writing (``analysis``): which variables only ever hold ints
  (``IntTyping``: their type checks are left out), which loops are tick-free.
- The fast paths (``fast_statements.FastStatements`` over ``fastpaths.FastPaths``, base
  classes of ``_Gen``): int arithmetic and comparisons with the 32-bit wrap check,
  indexing and ranges, ``length``/``tostr``/``index``/``rindex`` inlined, builtins of
  literals folded, ``l = {@l, x}``, ``l[i] = x`` and ``s = s + t`` done in place when
  nothing else holds the value, an ``if`` reusing the ``v[i]`` its condition read, a
  loop's "is it a list" tests made once before it. Each falls back to ``ops`` (or the
  builtin) whenever its result would not be certain; other builtins are called directly.
- Catch expressions and scattering assignments used as values become nested functions
  (closures with ``nonlocal``), since Python has no expression-level ``try``.
- ``break name`` / ``continue name`` of an outer loop set a flag and break inner loops.
- ``fork`` bodies are separate functions taking a copy of the variables (``bind_fork``).
- A MOO ``finally`` does not run when the task is aborted (TaskAbort), as in LambdaMOO.

Speed: ``bench/lang.py --peer 127.0.0.1:7791 --runs 5`` (Python 3.11, 2 shared cores; our
server against LambdaMOO 1.8.1 on LambdaCore, same machine, ``;;`` over telnet, median
seconds; before = the compiler before ``analysis``/``fastpaths``, the two runs back to back):

  program                                before  LambdaMOO  ratio   after   LambdaMOO  ratio
  ``empty_loop_10M`` (for over a range)   0.1643  0.0661    0.40   0.1699  0.0680    0.40
  ``sum_loop_1M`` (x = x + i)             0.0864  0.0179    0.21   0.0436  0.0178    0.41
  ``while_loop_1M`` (i = i + 1)           0.0908  0.0262    0.29   0.0492  0.0260    0.53
  ``fib_25_verb_calls`` (242,785 calls)   0.1779  0.0497    0.28   0.1398  0.0465    0.33
  ``sort_1000`` (merge sort, verb calls)  0.0126  0.0053    0.42   0.0051  0.0051    1.00
  ``string_build_20k`` (s = s + "x")      0.0082  0.0073    0.89   0.0025  0.0068    2.72
  ``list_index_assign_10k`` (l[i] = v)    0.0173  0.0155    0.90   0.0022  0.0150    6.82
  ``string_ops_10k`` (tostr/length/index) 0.0048  0.0029    0.60   0.0022  0.0028    1.27

Ratio = LambdaMOO's time over ours: above 1 we are faster. Both sides' times vary by
~10-40% between runs on this shared machine (sort_1000's ratio was 0.87-1.11 over five).

CPython does not reach LambdaMOO's C interpreter on tight loops: a bare ``for i in
range(n): pass`` is ~15 ns an iteration here against LambdaMOO's ~6.5 for the whole MOO
loop, ``x = x + i`` on Python ints ~34 ns against ~18, and MOO's 32-bit wrap check costs two
comparisons more. A verb call is ~0.36 us (the ``Frame`` ~80 ns; one Python call: a call
site calls the verb's ``run``, ``_CALL_ENTRY``), LambdaMOO's whole fib(25) step ~0.2 us, ours
~0.44 us (fib(25) 133 -> 106 ms in-process, ``Task.call_verb`` has the steps). Building
lists and strings is where we are ahead: in place, where LambdaMOO 1.8.1 copies
(``fast_statements``).
"""

from __future__ import annotations

import ast
import itertools
import math
import re
import sys
from collections.abc import Callable
from typing import Any

from moo.lang import ops
from moo.lang import tree as t
from moo.lang.analysis import IntTyping, assigned_names, used_names, walk
from moo.lang.builtins.registry import Builtin
from moo.lang.errors import MooRaise, TaskAbort
from moo.lang.fast_statements import FastStatements
from moo.lang.fastpaths import COMPARE, IndexKey, simple
from moo.lang.loops import Line, Loop, Loops, Scope
from moo.lang.positions import numbered
from moo.lang.task_api import FRAME_READS, FRAME_VARIABLES, Frame
from moo.lang.values import TYPE_CONSTANTS, fold, tostr
from moo.world.values import Err

_TYPE_CONSTANTS = {k.lower(): v for k, v in TYPE_CONSTANTS.items()}

_HELPERS: dict[str, Any] = {
    "_type": type,
    "_int": int,
    "_str": str,
    "_list": list,
    "_len": len,
    "_Frame": Frame,
    "_MooRaise": MooRaise,
    "_E_MAXREC": Err.E_MAXREC,
    "_LEFT": (MooRaise, TaskAbort, *ops.CONVERTED),
    "_fold": fold,
    "_wrap": ops.wrap,
    "_add": ops.add,
    "_sub": ops.sub,
    "_mul": ops.mul,
    "_div": ops.div,
    "_mod": ops.mod,
    "_pow": ops.power,
    "_neg": ops.neg,
    "_eq": ops.eq,
    "_ne": ops.ne,
    "_lt": ops.lt,
    "_le": ops.le,
    "_gt": ops.gt,
    "_ge": ops.ge,
    "_in": ops.member,
    "_truth": ops.truth,
    "_length": ops.length,
    "_index": ops.index,
    "_index_set": ops.index_for_set,
    "_range": ops.range_,
    "_set_index": ops.set_index,
    "_set_range": ops.set_range,
    "_splice": ops.splice,
    "_checked": ops.checked_list,
    "_for_list": ops.for_list,
    "_for_range": ops.for_range,
    "_enumerate": enumerate,
    "_scatter": ops.scatter,
    "_UNSET": ops.UNSET,
    "_callbf": ops.call_builtin,
    "_bad_args": ops.bad_args,
    "_tostr": tostr,
    "_quota": ops.quota,
    "_more_ticks": ops.more_ticks,
    "_TickedRange": ops.TickedRange,
    "_varnf": ops.varnf,
    "_fork_delay": ops.fork_delay,
    "_bind_fork": ops.bind_fork,
    "_CATCHABLE": ops.CATCHABLE,
    "_to_moo": ops.to_moo,
    "_matches": ops.matches,
    "_error_value": ops.error_value,
    "_catch": ops.catch,
    "_TaskAbort": TaskAbort,
    "_NameError": NameError,
    "_rc": sys.getrefcount,
}

# The generator recurses ~6 Python frames per level of a MOO expression; parser.MAX_TREE_DEPTH
# bounds the levels. Python's tokenizer allows 200 nested parentheses: every HOIST_EVERY
# levels an expression is moved into a nested function (_Gen.hoist) to stay far below that.
_RECURSION_HEADROOM = 4000
HOIST_EVERY = 12
_ASSIGNED_IN_TEXT = re.compile(r"\bv_(\w+) :=")
_TEMP = re.compile(r"\b(_t\d+)\b")
_TEMP_STORE = re.compile(r"\b(_t\d+) :?=")


def _free_temps(texts: list[str]) -> list[str]:
    """Temporaries the texts read but do not assign: passed to a nested function as
    arguments, since the scope that assigns them may itself become a nested function."""
    read: set[str] = set()
    stored: set[str] = set()
    for text in texts:
        read.update(_TEMP.findall(text))
        stored.update(_TEMP_STORE.findall(text))
    return sorted(read - stored, key=lambda name: int(name[2:]))


def generate(
    program: t.Program, builtins: dict[str, Builtin], filename: str, text: str = ""
) -> Callable[..., Any]:
    """The compiled ``run(task, frame)`` of ``program``. Its globals also hold what a
    queued or suspended task needs to be saved and made again (``saved_tasks.py``,
    ``suspended.py``): ``_SOURCE`` (the program's text), ``_VARIABLES`` (the names of a
    fork's copy, in order), ``_FORKS`` (each ``fork`` statement's function by its number in
    source order) and ``_ROOT`` (-1; a resumed program's fork number, ``resumed.py``)."""
    return finish(_Gen(program, builtins), filename, text)


def finish(gen: _Gen, filename: str, text: str, root: int = -1) -> Callable[..., Any]:
    """Write ``gen``'s program, compile it (MOO lines as Python lines) and return ``run``."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + _RECURSION_HEADROOM)
    try:
        source, lines = gen.source()
    finally:
        sys.setrecursionlimit(limit)
    module = ast.parse(source, filename, "exec")
    stack: list[ast.AST] = [module]
    top = module.body[0]  # ``def run``: with ``_CALL_ENTRY``, an ``if`` and then a ``try``
    if gen.call_entry and isinstance(top, ast.FunctionDef) and isinstance(top.body[1], ast.Try):
        # the entry and exit keep their Python lines: no MOO line is ever read there, and a
        # small verb compiled 2.8x slower than before them (1.9x with this)
        stack = [*top.args.args, *top.args.defaults, *top.body[1].body, *module.body[1:]]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.stmt, ast.expr, ast.excepthandler, ast.arg, ast.keyword)):
            line = lines[node.lineno - 1]
            node.lineno = line
            node.end_lineno = line
        stack.extend(ast.iter_child_nodes(node))
    code = compile(module, filename, "exec")
    namespace: dict[str, Any] = dict(_HELPERS)
    namespace.update(gen.globals)
    namespace["__builtins__"] = {}
    namespace["_SOURCE"] = text
    namespace["_VARIABLES"] = tuple(gen.variables)
    namespace["_FORKS"] = gen.forks
    namespace["_ROOT"] = root
    namespace["_CALLABLE"] = gen.call_entry  # its ``run`` takes direct calls (``_CALL_ENTRY``)
    exec(code, namespace)
    run: Callable[..., Any] = namespace["run"]
    return run


_CALL_ENTRY = (
    "if _site is not None:",  # called from a call site: ``frame`` is the receiver
    "    _filename, _owner, _entry = _site[4]",
    "    task.ticks -= 1",
    "    if task.ticks <= 0:",
    "        task.out_of_ticks()",
    "    _frames = task.frames",
    "    if _len(_frames) >= task.max_depth:",
    "        raise _MooRaise(_E_MAXREC)",
    "    _caller = task.frame",
    "    _fr = _Frame()",
    "    _fr.this = frame",
    "    _fr.caller = _caller.this",
    "    _fr.args = _args",
    "    _fr.programmer = _owner",
    "    _fr.entry = _entry",
    "    _fr.context = _caller.context",
    "    _fr.line = 0",
    "    frame = _fr",
    "    _frames.append(frame)",
    "    task.frame = frame",
)
"""What ``Task.call_verb`` does before it calls a verb, done by the verb's own ``run`` when
a call site of compiled code calls it directly (``_Gen.verb_call``): one Python frame per
MOO call instead of two. ``run(task, frame)`` (``Task.run_frame``, ``call_verb``) skips it."""

_CALL_EXIT = (
    "except _LEFT as _exc:",
    "    if _site is None:",
    "        raise",
    "    _converted = task.left(frame, _exc, _filename)",
    "    if _converted is None:",
    "        raise",
    "    raise _converted from None",
    "finally:",
    "    if _site is not None:",
    "        _frames.pop()",
    "        task.frame = _caller",
)
"""What ``Task.call_verb`` does as a verb it called returns or raises, for a direct call."""


def python_source(program: t.Program, builtins: dict[str, Builtin]) -> str:
    """The Python text ``generate`` compiles (for debugging and tests)."""
    return _Gen(program, builtins).source()[0]


# ---------------------------------------------------------------- generation


class _Gen(FastStatements, Loops):
    def __init__(self, program: t.Program, builtins: dict[str, Builtin]) -> None:
        self.program = program
        self.builtins = builtins
        self.globals: dict[str, Any] = {}
        self.counter = itertools.count(1)
        self.assigned = assigned_names(program)
        self.typing = IntTyping(program)
        used = used_names(program) | self.assigned
        frame_vars = [n for n in FRAME_VARIABLES if n in used]
        const_vars = [n for n in _TYPE_CONSTANTS if n in self.assigned]
        self.frame_vars = frame_vars
        self.const_vars = const_vars
        self.variables = sorted(self.assigned | set(frame_vars) | set(const_vars))
        self.defs: list[list[Line]] = []  # top-level functions (fork bodies)
        self.forks: dict[int, str] = {}  # fork statement number (source order) -> function
        self.fork_ids, self.loop_ids = numbered(program)  # by id(node), in source order
        self.scope = Scope("run")
        self.loops: list[Loop] = []
        self.dollar: list[str] = []
        self.indent = 1
        self.line = 0
        self.depth = 0
        self.const_ids: dict[tuple[type, Any], str] = {}
        self.list_tests: dict[str, str] = {}  # variable -> its hoisted "is a list" flag
        self.available: dict[IndexKey, str] = {}  # ``v[i]`` -> the temporary holding it
        self.index_watch: dict[int, IndexKey] = {}  # id(node) -> key, while a test is written
        self.index_found: dict[IndexKey, str] = {}

    # ------------------------------------------------------------ output

    def source(self) -> tuple[str, list[int]]:
        first = self.program[0].line if self.program else 1
        self.line = first
        body = self.function_body(self.program, "run")
        head: list[Line] = []
        for name in self.frame_vars:
            head.append((1, f"v_{name} = {FRAME_READS[name]}", first))
        for name in self.const_vars:
            head.append((1, f"v_{name} = {_TYPE_CONSTANTS[name]}", first))
        self.call_entry = True
        wrapped = [(indent + 1, text, line) for indent, text, line in (*head, *body)]
        out = [
            (0, "def run(task, frame, _args=None, _site=None):", first),
            *[(1, text, first) for text in _CALL_ENTRY],
            (1, "try:", first),
            *wrapped,
            *[(1, text, first) for text in _CALL_EXIT],
        ]
        for d in self.defs:
            out.extend(d)
        text = "\n".join("    " * indent + line for indent, line, _ in out) + "\n"
        return text, [moo for _, _, moo in out]

    call_entry = False  # ``run`` takes a call from a call site (``_CALL_ENTRY``)

    def function_body(self, body: t.Program, kind: str) -> list[Line]:
        """The lines of a function's body (indent 1): dummy bindings, closures, statements."""
        saved = (self.scope, self.loops, self.indent, self.list_tests, self.available)
        self.scope = Scope(kind)
        self.loops = []
        self.indent = 1
        self.list_tests, self.available = {}, {}  # a fork body is a function of its own
        self.block(body)
        self.emit("return 0")
        scope = self.scope
        self.scope, self.loops, self.indent, self.list_tests, self.available = saved
        out: list[Line] = []
        if self.assigned:
            out.append((1, "if 0:", self.line))
            out.append((2, " = ".join(f"v_{n}" for n in sorted(self.assigned)) + " = 0", self.line))
        return out + scope.hoisted + scope.lines

    def emit(self, text: str, line: int | None = None) -> None:
        self.scope.lines.append((self.indent, text, self.line if line is None else line))

    def tmp(self) -> str:
        return f"_t{next(self.counter)}"

    def const(self, value: Any) -> str:
        key = (value.__class__, repr(value))
        name = self.const_ids.get(key)
        if name is None:
            name = f"_k{next(self.counter)}"
            self.const_ids[key] = name
            self.globals[name] = value
        return name

    # ------------------------------------------------------------ statements

    def block(self, body: tuple[t.Stmt, ...]) -> None:
        start = len(self.scope.lines)
        for stmt in body:
            self.line = stmt.line or self.line
            if self.available:
                self.forget_indexes(assigned_names((stmt,)))
            self.stmt(stmt)
        if len(self.scope.lines) == start:
            self.emit("pass")

    def nested(self, body: tuple[t.Stmt, ...]) -> None:
        self.indent += 1
        self.block(body)
        self.indent -= 1

    def nested_or(self, body: tuple[t.Stmt, ...], write: Callable[[], None] | None) -> None:
        """``body`` one level in, or what ``write`` writes there instead."""
        if write is None:
            self.nested(body)
            return
        self.indent += 1
        write()
        self.indent -= 1

    def stmt(self, s: t.Stmt) -> None:
        if isinstance(s, t.ExprStmt):
            e = s.expr
            if isinstance(e, t.Literal):
                return
            if isinstance(e, t.Assign):
                if not self.in_place(e):
                    self.assign_stmt(e)
            else:
                self.emit(self.ex(e))
        elif isinstance(s, t.If):
            self.if_stmt(s)
        elif isinstance(s, (t.While, t.ForList, t.ForRange)):
            with self.list_tests_hoisted(s):
                self.loop_stmt(s)
        elif isinstance(s, (t.Break, t.Continue)):
            self.loop_exit(s)
        elif isinstance(s, t.Return):
            self.emit("return 0" if s.expr is None else f"return {self.ex(s.expr)}")
        elif isinstance(s, t.TryExcept):
            self.try_except(s)
        elif isinstance(s, t.TryFinally):
            self.try_finally(s)
        elif isinstance(s, t.Fork):
            self.fork(s)
        else:  # pragma: no cover
            raise TypeError(f"not a statement: {s!r}")

    def codes_value(self, codes: tuple[t.Expr, ...] | None) -> str:
        if codes is None:
            return "None"
        if all(isinstance(c, t.Literal) for c in codes):
            return self.const([c.value for c in codes])  # type: ignore[union-attr]
        name = self.tmp()
        self.emit(f"{name} = {self.list_text(codes)}")
        return name

    def try_except(self, s: t.TryExcept, body: Callable[[], None] | None = None) -> None:
        """``body``: writes the ``try`` block instead of ``s.body`` (a resumed frame's)."""
        line = self.line
        codes = [self.codes_value(arm.codes) for arm in s.arms]
        self.emit("try:")
        self.nested_or(s.body, body)
        exc, moo = self.tmp(), self.tmp()
        self.line = line
        self.emit(f"except _CATCHABLE as {exc}:")
        self.indent += 1
        self.emit(f"{moo} = _to_moo({exc})")
        for i, arm in enumerate(s.arms):
            self.line = arm.line or line
            self.emit(f"{'if' if i == 0 else 'elif'} _matches({moo}, {codes[i]}):")
            self.indent += 1
            if arm.var is not None:
                self.emit(f"v_{arm.var.lower()} = _error_value({moo})")
            self.block(arm.body)
            self.indent -= 1
        self.emit("else:")
        self.emit(f"    raise {moo} from None")
        self.indent -= 1

    def try_finally(self, s: t.TryFinally, body: Callable[[], None] | None = None) -> None:
        flag = self.tmp()
        self.emit(f"{flag} = 0")
        self.emit("try:")
        self.nested_or(s.body, body)
        self.emit("except _TaskAbort:")
        self.emit(f"    {flag} = 1")
        self.emit("    raise")
        self.emit("finally:")
        self.indent += 1
        self.emit(f"if not {flag}:")
        self.nested(s.handler)
        self.indent -= 1

    def fork(self, s: t.Fork) -> None:
        number = self.fork_ids[id(s)]
        fname = f"_fork{next(self.counter)}"
        self.forks[number] = fname
        delay, snap = self.tmp(), self.tmp()
        self.emit(f"{delay} = _fork_delay({self.ex(s.delay)})")
        self.emit(f"{snap} = []")
        for name in self.variables:
            self.emit("try:")
            self.emit(f"    {snap}.append(v_{name})")
            self.emit("except _NameError:")
            self.emit(f"    {snap}.append(_UNSET)")
        line = self.line
        body = self.function_body(s.body, "fork")
        head: list[Line] = []
        for i, name in enumerate(self.variables):
            head.append((1, f"if _snap[{i}] is not _UNSET: v_{name} = _snap[{i}]", line))
        self.defs.append([(0, f"def {fname}(task, _snap):", line), *head, *body])
        self.line = line
        named = -1 if s.name is None else self.variables.index(s.name.lower())
        call = f"task.fork({delay}, _bind_fork({fname}, {snap}, {number}, {named}))"
        if s.name is None:
            self.emit(call)
        else:
            var = s.name.lower()
            self.emit(f"v_{var} = {call}")
            self.emit(f"{snap}[{self.variables.index(var)}] = v_{var}")

    # ------------------------------------------------------------ assignment

    def assign_stmt(self, e: t.Assign) -> None:
        target = e.target
        if isinstance(target, t.Var):
            self.emit(f"{self.store(target.name)} = {self.ex(e.value)}")
        elif isinstance(target, t.Scatter):
            self.scatter_stmts(target, self.ex(e.value))
        else:
            self.emit(self.assign_expr(target, e.value, None))

    def store(self, name: str) -> str:
        var = f"v_{name.lower()}"
        if self.scope.kind == "closure":
            self.scope.nonlocals.add(var)
        return var

    def scatter_stmts(self, target: t.Scatter, value: str) -> None:
        kinds = tuple(item.kind for item in target.items)
        vals = self.tmp()
        if all(kind == "required" for kind in kinds):  # the common {a, b} = args
            names = "".join(f"{self.store(item.name)}, " for item in target.items)
            test = f"_type({vals}) is _list and _len({vals}) == {len(kinds)}"
            if value == "v_args" and "args" not in self.assigned:
                vals, test = value, f"_len({value}) == {len(kinds)}"  # a frame's args: a list
            else:
                self.emit(f"{vals} = {value}")
            self.emit(f"if {test}:")
            self.emit(f"    {names.rstrip()} = {vals}")
            self.emit("else:")
            self.emit(f"    _scatter({vals}, {kinds!r})")
            return
        self.emit(f"{vals} = _scatter({value}, {kinds!r})")
        for i, item in enumerate(target.items):
            var = self.store(item.name)
            if item.kind == "optional":
                self.emit(f"if {vals}[{i}] is not _UNSET: {var} = {vals}[{i}]")
            else:
                self.emit(f"{var} = {vals}[{i}]")
        for i, item in enumerate(target.items):
            if item.kind == "optional" and item.default is not None:
                self.emit(f"if {vals}[{i}] is _UNSET:")
                self.indent += 1
                self.emit(f"{self.store(item.name)} = {self.ex(item.default)}")
                self.indent -= 1

    def assign_expr(self, target: t.Expr, value: t.Expr, result: str | None) -> str:
        """The text of an indexed or property assignment; ``result`` names a temp that
        receives the assigned value (for assignments used as values)."""
        chain: list[t.Index | t.Range] = []
        root = target
        while isinstance(root, (t.Index, t.Range)):
            chain.append(root)
            root = root.base
        chain.reverse()
        value_text = self.ex(value)
        if result is not None:
            value_text = f"({result} := {value_text})"
        if isinstance(root, t.Var):
            base = self.ex(root)
            prop = None
        else:
            assert isinstance(root, t.Prop)
            obj, name = self.tmp(), self.tmp()
            prop = (f"({obj} := {self.ex(root.obj)})", f"({name} := {self.ex(root.name)})")
            base = f"task.get_prop({obj}, {name})"
        if not chain:
            assert prop is not None
            return f"task.set_prop({prop[0]}, {prop[1]}, {value_text})"
        inner = self.update(base, chain, value_text)
        if prop is not None:
            return f"task.set_prop({prop[0]}, {prop[1]}, {inner})"
        assert isinstance(root, t.Var)
        return f"{self.store(root.name)} = {inner}"

    def update(self, base: str, chain: list[t.Index | t.Range], value: str) -> str:
        """``base`` with ``chain[0]`` replaced (recursively) by ``value``."""
        step = chain[0]
        btmp = self.tmp()
        first = f"({btmp} := {base})"
        self.dollar.append(btmp)
        if isinstance(step, t.Range):
            start, end = self.ex(step.start), self.ex(step.end)
            self.dollar.pop()
            return f"_set_range(task, {first}, {start}, {end}, {value})"
        itmp = self.tmp()
        index = f"({itmp} := {self.ex(step.index)})"
        self.dollar.pop()
        if len(chain) == 1:
            return f"_set_index({first}, {index}, {value})"
        inner = self.update(f"_index_set({btmp}, {itmp})", chain[1:], value)
        return f"_set_index({first}, {index}, {inner})"

    # ------------------------------------------------------------ expressions

    def var(self, name: str) -> str:
        low = name.lower()
        if low in self.assigned or low in self.frame_vars:
            return f"v_{low}"
        if low in _TYPE_CONSTANTS:
            return str(_TYPE_CONSTANTS[low])
        return "_varnf()"

    def literal(self, value: Any) -> str:
        cls = value.__class__
        if cls is int:
            return f"({value})" if value < 0 else str(value)
        if cls is str:
            return repr(value)
        if cls is float and math.isfinite(value):
            return f"({value!r})" if value < 0 else repr(value)
        return self.const(value)  # objects, errors, and 1e999 (repr "inf" is no Python literal)

    def args_text(self, args: tuple[t.Expr, ...]) -> str:
        parts = [self.splice(a.expr) if isinstance(a, t.Splice) else self.ex(a) for a in args]
        return "[" + ", ".join(parts) + "]"

    def list_text(self, items: tuple[t.Expr, ...]) -> str:
        text = self.args_text(items)
        if any(isinstance(a, t.Splice) for a in items):  # ``ops.checked_list``, inlined
            built = self.tmp()
            limit = "task.limits.max_list_length"
            return f"({built} if _len({built} := {text}) <= {limit} else _quota())"
        return text

    def operand(self, e: t.Expr, volatile: bool = False) -> tuple[str, str]:
        """(text evaluating ``e`` the first time, text for later references); ``volatile``:
        what is evaluated in between may assign variables, so even a variable is copied."""
        text = self.ex(e)
        if simple(text) and not (volatile and text.isidentifier()):
            return text, text
        name = self.tmp()
        key = self.index_watch.get(id(e))
        if key is not None:
            self.index_found[key] = name
        return f"({name} := {text})", name

    def ex(self, e: t.Expr) -> str:
        self.depth += 1
        try:
            text = self.ex_node(e)
        finally:
            self.depth -= 1
        if self.depth % HOIST_EVERY == HOIST_EVERY - 1 and not simple(text):
            return self.hoist(text)
        return text

    def hoist(self, text: str) -> str:
        """``text`` moved into a nested function, called where it stood."""
        name = f"_c{next(self.counter)}"
        names = {f"v_{n}" for n in _ASSIGNED_IN_TEXT.findall(text) if n in self.assigned}
        free = ", ".join(_free_temps([text]))
        lines: list[Line] = [(1, f"def {name}({free}):", self.line)]
        if names:
            lines.append((2, "nonlocal " + ", ".join(sorted(names)), self.line))
        lines.append((2, f"return {text}", self.line))
        self.scope.hoisted.extend(lines)
        if self.scope.kind == "closure":
            self.scope.nonlocals |= names
        return f"{name}({free})"

    def ex_node(self, e: t.Expr) -> str:
        if isinstance(e, t.Literal):
            return self.literal(e.value)
        if isinstance(e, t.Var):
            return self.var(e.name)
        if isinstance(e, t.Binary):
            return self.binary(e)
        if isinstance(e, t.Unary):
            if e.op == "!":
                return f"(0 if {self.test(e.operand)} else 1)"
            return f"_neg({self.ex(e.operand)})"
        if isinstance(e, t.Prop):
            return f"task.get_prop({self.ex(e.obj)}, {self.ex(e.name)})"
        if isinstance(e, t.VerbCall):
            if isinstance(e.verb, t.Literal) and type(e.verb.value) is str:
                return self.verb_call(e)
            return f"task.call_verb({self.ex(e.obj)}, {self.ex(e.verb)}, {self.list_text(e.args)})"
        if isinstance(e, t.Call):
            return self.call(e)
        if isinstance(e, t.Index):
            return self.index(e)
        if isinstance(e, t.Range):
            return self.slice(e)
        if isinstance(e, t.Length):
            return f"_length({self.dollar[-1]})"
        if isinstance(e, t.Cond):
            return f"({self.ex(e.then)} if {self.test(e.test)} else {self.ex(e.otherwise)})"
        if isinstance(e, t.ListExpr):
            return self.list_text(e.items)
        if isinstance(e, t.Catch):
            return self.catch(e)
        if isinstance(e, t.Assign):
            return self.assign_value(e)
        raise TypeError(f"not an expression: {e!r}")  # pragma: no cover

    def verb_call(self, e: t.VerbCall) -> str:
        """``obj:name(...)`` with a literal name: its site (``Task.call_verb`` keeps there
        the receiver, the epoch and world it found the verb in, and the verb's ``run``)
        calls ``run`` directly while they are the same (``_CALL_ENTRY``), else
        ``call_verb``. Measured: fib(25) ~114 -> ~106 ms in-process. A receiver that is a
        variable is read as it is, with no temporary, when the arguments can change
        nothing (no call, no assignment): ~4 ms of that."""
        site = f"_site{next(self.counter)}"
        self.globals[site] = [None, None, None, None, None]
        target = self.ex(e.obj)
        pure = not any(isinstance(n, (t.Call, t.VerbCall, t.Assign)) for n in walk(e.args))
        obj = target if pure and target.startswith("v_") and target.isidentifier() else self.tmp()
        check = f"{obj} is {site}[0] and {site}[1] is task.world.verbs_epoch"
        check += f" and {site}[2] is task.scheduler.site_token"
        if obj == target:  # a variable that arguments calling and assigning nothing leave be
            args, found = self.list_text(e.args), check
        elif pure:  # arguments that call nothing cannot change verbs: evaluated in either branch
            args, found = self.list_text(e.args), f"({obj} := {target}) is not None and {check}"
        else:  # evaluated once, before the check (the text of each branch: no nested copies)
            args = self.tmp()
            found = (
                f"({obj} := {target}) is not None"
                f" and ({args} := {self.list_text(e.args)}) is not None and {check}"
            )
        slow = f"task.call_verb({obj}, {self.ex(e.verb)}, {args}, {site})"
        return f"({site}[3](task, {obj}, {args}, {site}) if {found} else {slow})"

    def call(self, e: t.Call) -> str:
        if e.name == "pass":
            return f"task.pass_verb({self.list_text(e.args)})"
        info = self.builtins[e.name]
        key = f"_bf_{e.name}" if e.name.isidentifier() else self.tmp()
        self.globals[key] = info.function
        if any(isinstance(a, t.Splice) for a in e.args):
            self.globals[key + "_info"] = info
            return f"_callbf(task, {key}_info, {self.list_text(e.args)})"
        args = [self.ex(a) for a in e.args]
        if not info.accepts(len(args)):
            return f"_bad_args({', '.join(args)})"
        inline = self.inline_builtin(e, key, args)
        if inline is not None:
            return inline
        return f"{key}({', '.join(['task', *args])})"

    def binary(self, e: t.Binary) -> str:
        op = e.op
        if op in ("&&", "||"):
            first, ref = self.operand(e.left)
            right = self.ex(e.right)
            int_result = self.typing.is_int(e.left)  # an int's Python truth is its MOO truth
            truth = first if int_result else f"_truth({first})"
            if op == "&&":
                return f"({right} if {truth} else {ref})"
            return f"({ref} if {truth} else {right})"
        if op == "in":
            return f"_in({self.ex(e.left)}, {self.ex(e.right)})"
        if op in COMPARE:
            return f"(1 if {self.compare_test(e)} else 0)"
        return self.arith(e)

    def test(self, e: t.Expr) -> str:
        """Python text whose truth is MOO truth of ``e``."""
        if isinstance(e, t.Binary):
            if e.op in COMPARE:
                return self.compare_test(e)
            if e.op == "in":
                return self.ex(e)
            if e.op == "&&":
                return f"({self.test(e.left)} and {self.test(e.right)})"
            if e.op == "||":
                return f"({self.test(e.left)} or {self.test(e.right)})"
        if isinstance(e, t.Unary) and e.op == "!":
            return f"(not {self.test(e.operand)})"
        if isinstance(e, t.Literal) and type(e.value) is int:
            return str(e.value)
        return f"_truth({self.ex(e)})"

    # ------------------------------------------------------------ closures

    def closure(self, params: str, build: Callable[[], str]) -> tuple[str, str]:
        """A nested function (hoisted to the top of the enclosing function) returning build():
        its name and the free temporaries to pass after ``params`` (text, may be empty)."""
        name = f"_c{next(self.counter)}"
        saved = (self.scope, self.indent, self.loops)
        self.scope = Scope("closure")
        self.indent = 1
        self.loops = []
        result = build()
        self.emit(f"return {result}")
        scope = self.scope
        self.scope, self.indent, self.loops = saved
        free = _free_temps([text for _, text, _ in scope.hoisted + scope.lines])
        if params:
            free = [name for name in free if name != params]
        all_params = ", ".join(([params] if params else []) + free)
        lines: list[Line] = [(0, f"def {name}({all_params}):", self.line)]
        if scope.nonlocals:
            lines.append((1, "nonlocal " + ", ".join(sorted(scope.nonlocals)), self.line))
        lines.extend(scope.hoisted)
        lines.extend(scope.lines)
        self.scope.hoisted.extend((indent + 1, text, line) for indent, text, line in lines)
        # variables a nested closure assigns must be declared nonlocal here too
        if self.scope.kind == "closure":
            self.scope.nonlocals |= scope.nonlocals
        return name, ", ".join(free)

    def catch(self, e: t.Catch) -> str:
        codes = "None" if e.codes is None else self.list_text(e.codes)
        body, free = self.closure("", lambda: self.ex(e.expr))
        body = f"lambda: {body}({free})" if free else body
        default = "None"
        if e.default is not None:
            default_expr = e.default
            name, free = self.closure("", lambda: self.ex(default_expr))
            default = f"lambda: {name}({free})" if free else name
        return f"_catch({codes}, {body}, {default})"

    def assign_value(self, e: t.Assign) -> str:
        target = e.target
        if isinstance(target, t.Var):
            return f"({self.store(target.name)} := {self.ex(e.value)})"
        if isinstance(target, t.Scatter):
            value = self.ex(e.value)

            def build() -> str:
                self.scatter_stmts(target, "_v")
                return "_v"

            name, free = self.closure("_v", build)
            return f"{name}({', '.join([value] + ([free] if free else []))})"
        result = self.tmp()
        text = self.assign_expr(target, e.value, result)
        if isinstance(self.root(target), t.Var):
            var, _, rhs = text.partition(" = ")
            return f"(({var} := {rhs}), {result})[1]"
        return f"({text}, {result})[1]"

    @staticmethod
    def root(target: t.Expr) -> t.Expr:
        while isinstance(target, (t.Index, t.Range)):
            target = target.base
        return target

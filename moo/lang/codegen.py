"""AST -> a Python function ``run(task, frame)``: MOO compiled to Python bytecode.

1. ``_Gen`` walks the AST and writes Python source text, one MOO statement at a time,
   remembering for every Python line the MOO line it came from. It is assembled from one
   class per part of the language, each in its own module:

   - ``statements.Statements``: function bodies, statements, ``try``, ``fork``, assignment;
   - ``loops.Loops``: ``while`` and ``for``, their ticks and named exits;
   - ``fast_statements.FastStatements``: ``if``, in-place updates, loop-invariant tests;
   - ``expressions.Expressions``: expressions, conditions, closures, the output primitives;
   - ``fastpaths.FastPaths``: the expressions' int, index and builtin fast paths;
   - ``verb_calls.VerbCalls``: call sites that call a verb's ``run`` directly, and the
     entry and exit (``call_entry``, ``CALL_EXIT``) that ``source`` wraps ``run`` in.

   Here: the state they share (``_Gen.__init__``), ``run`` wrapped around the program
   (``_Gen.source``), and ``generate``/``finish``/``python_source``.
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
comparisons more. A verb call is one Python call (a call site calls the verb's ``run``,
``verb_calls.call_entry``) that pushes a tuple, no ``Frame`` (``activations.py``):
LambdaMOO's whole fib(25) step ~0.2 us, ours ~0.32 us (fib(25) 133 -> 106 -> ~77 ms
in-process, ~4,100 instructions a call against plain Python's ~990; ``Task.call_verb`` has
the steps). Building
lists and strings is where we are ahead: in place, where LambdaMOO 1.8.1 copies
(``fast_statements``).
"""

from __future__ import annotations

import ast
import itertools
import sys
from collections.abc import Callable
from typing import Any

from moo.lang import ops
from moo.lang import tree as t
from moo.lang.analysis import IntTyping, LiteralTyping, assigned_names, used_names
from moo.lang.builtins.registry import Builtin
from moo.lang.errors import MooRaise, MooSyntaxError, TaskAbort
from moo.lang.expressions import TYPE_CONSTANTS_BY_NAME as _TYPE_CONSTANTS
from moo.lang.fastpaths import IndexKey
from moo.lang.loops import Line, Loop, Scope
from moo.lang.positions import numbered
from moo.lang.quiet import quiet, statement_failed
from moo.lang.statements import Statements
from moo.lang.task_api import FRAME_VARIABLES, Frame
from moo.lang.values import fold, tostr
from moo.lang.verb_calls import CALL_EXIT as _CALL_EXIT
from moo.lang.verb_calls import VerbCalls, call_entry
from moo.world.values import Err

NESTED_TOO_DEEP = "Program too large: its statements nest too deeply to compile"
"""Python compiles at most 20 nested blocks (a verb without ``d`` spends one more on each
statement that can fail): a program past that is refused as a compile error."""

_HELPERS: dict[str, Any] = {
    "_type": type,
    "_int": int,
    "_str": str,
    "_list": list,
    "_len": len,
    "_Frame": Frame,
    "_MooRaise": MooRaise,
    "_quiet": quiet,
    "_statement_failed": statement_failed,
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
    "_ValueError": ValueError,
    "_rc": sys.getrefcount,
}


# The generator recurses ~6 Python frames per level of a MOO expression; parser.MAX_TREE_DEPTH
# bounds the levels (``expressions.HOIST_EVERY`` keeps Python's parser below its own limit).
_RECURSION_HEADROOM = 4000


def generate(
    program: t.Program,
    builtins: dict[str, Builtin],
    filename: str,
    text: str = "",
    *,
    debug: bool = True,
) -> Callable[..., Any]:
    """The compiled ``run(task, frame)`` of ``program``. Its globals also hold what a
    queued or suspended task needs to be saved and made again (``saved_tasks.py``,
    ``suspended.py``): ``_SOURCE`` (the program's text), ``_VARIABLES`` (the names of a
    fork's copy, in order), ``_FORKS`` (each ``fork`` statement's function by its number in
    source order) and ``_ROOT`` (-1; a resumed program's fork number, ``resumed.py``)."""
    return finish(_Gen(program, builtins, debug=debug), filename, text)


def finish(gen: _Gen, filename: str, text: str, root: int = -1) -> Callable[..., Any]:
    """Write ``gen``'s program, compile it (MOO lines as Python lines) and return ``run``."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + _RECURSION_HEADROOM)
    try:
        source, lines = gen.source()
    finally:
        sys.setrecursionlimit(limit)
    try:  # "too many statically nested blocks", from the parser or the compiler
        module = ast.parse(source, filename, "exec")
        code = compile(_moo_lines(module, lines, gen.call_entry), filename, "exec")
    except (SyntaxError, RecursionError, MemoryError):
        raise MooSyntaxError([NESTED_TOO_DEEP]) from None
    namespace: dict[str, Any] = dict(_HELPERS)

    namespace.update(gen.globals)
    namespace["__builtins__"] = {}
    namespace["_SOURCE"] = text
    namespace["_VARIABLES"] = tuple(gen.variables)
    namespace["_FORKS"] = gen.forks
    namespace["_ROOT"] = root
    namespace["_CALLABLE"] = gen.call_entry  # its ``run`` takes direct calls (``call_entry``)
    exec(code, namespace)
    run: Callable[..., Any] = namespace["run"]
    return run


def _moo_lines(module: ast.Module, lines: list[int], call_entry: bool) -> ast.Module:
    """``module`` with each node's Python line replaced by its MOO line."""
    stack: list[ast.AST] = [module]
    top = module.body[0]  # ``def run``: with ``call_entry``, an ``if`` and then a ``try``
    if call_entry and isinstance(top, ast.FunctionDef) and isinstance(top.body[1], ast.Try):
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
    return module


def python_source(program: t.Program, builtins: dict[str, Builtin], *, debug: bool = True) -> str:
    """The Python text ``generate`` compiles (for debugging and tests)."""
    return _Gen(program, builtins, debug=debug).source()[0]


# ---------------------------------------------------------------- generation


class _Gen(Statements, VerbCalls):
    """The whole generator: the emitters of its base classes over the state made here."""

    def __init__(
        self, program: t.Program, builtins: dict[str, Builtin], *, debug: bool = True
    ) -> None:
        self.program = program
        self.builtins = builtins
        self.debug = debug  # False: a verb without ``d``, whose errors are values (quiet.py)
        self.globals: dict[str, Any] = {}
        self.counter = itertools.count(1)
        self.assigned = assigned_names(program)
        self.typing = IntTyping(program) if debug else LiteralTyping()
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

    def source(self) -> tuple[str, list[int]]:
        """The program's Python text and, for each of its lines, the MOO line."""
        first = self.program[0].line if self.program else 1
        self.line = first
        body = self.function_body(self.program, "run")
        head: list[Line] = []
        for name in self.const_vars:
            head.append((1, f"v_{name} = {_TYPE_CONSTANTS[name]}", first))
        self.call_entry = True
        wrapped = [(indent + 1, text, line) for indent, text, line in (*head, *body)]
        out = [
            (0, "def run(task, frame, _args=None, _site=None):", first),
            *[(1, text, first) for text in call_entry(self.frame_vars)],
            (1, "try:", first),
            *wrapped,
            *[(1, text, first) for text in _CALL_EXIT],
        ]
        for d in self.defs:
            out.extend(d)
        text = "\n".join("    " * indent + line for indent, line, _ in out) + "\n"
        return text, [moo for _, _, moo in out]

    call_entry = False  # ``run`` takes a call from a call site (``verb_calls.call_entry``)

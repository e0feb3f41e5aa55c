"""How ``codegen`` writes a MOO expression: Python text that computes its value.

1. ``ex``: one expression, by its node (``ex_node``): literals (``literal``; other constants
   are globals ``_kN``, ``const``), variables (``var``: ``v_<name>``, a type constant, or
   ``_varnf()`` for a variable never assigned), operators (``binary``; the int fast paths
   are ``fastpaths``), builtin calls (``call``: ``_bf_<name>``, inlined or folded where
   ``fastpaths`` can), verb calls (``verb_calls``), assignments used as values
   (``statements.assign_value``).
2. ``test``: an expression in a condition, written as Python text whose truth is MOO's.
3. Nesting: every ``HOIST_EVERY`` levels an expression is moved into a nested function
   (``hoist``), since Python's tokenizer allows 200 nested parentheses.
4. Closures (``closure``): catch expressions and scattering assignments used as values
   become nested functions (with ``nonlocal``), since Python has no expression-level
   ``try``; they are hoisted to the top of the function being written.

The output primitives (``emit``, ``tmp``, ``const``) are here too: every other emitter
(``statements``, ``loops``, ``fast_statements``) writes through them.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from typing import Any

from moo.lang import tree as t
from moo.lang.fastpaths import COMPARE, FastPaths, simple
from moo.lang.loops import Line, Loop, Scope
from moo.lang.values import TYPE_CONSTANTS

TYPE_CONSTANTS_BY_NAME = {k.lower(): v for k, v in TYPE_CONSTANTS.items()}
"""``num``, ``obj``, ... : the values a MOO variable of that name reads unless assigned."""

# The generator recurses ~6 Python frames per level of a MOO expression; parser.MAX_TREE_DEPTH
# bounds the levels. Python's tokenizer allows 200 nested parentheses: every HOIST_EVERY
# levels an expression is moved into a nested function (Expressions.hoist) to stay far below.
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


class Expressions(FastPaths):
    """The expression emitters; ``codegen._Gen`` provides the rest of the generator."""

    globals: dict[str, Any]
    counter: itertools.count[int]
    const_ids: dict[tuple[type, Any], str]
    depth: int
    scope: Scope
    loops: list[Loop]
    debug: bool  # False: a verb without ``d`` (quiet.py)
    assigned: set[str]
    frame_vars: list[str]

    # provided by ``statements.Statements`` and ``verb_calls.VerbCalls``
    def assign_value(self, e: t.Assign) -> str:
        raise NotImplementedError

    def verb_call(self, e: t.VerbCall) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------ output

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

    # ------------------------------------------------------------ expressions

    def var(self, name: str) -> str:
        low = name.lower()
        if low in self.assigned or low in self.frame_vars:
            return f"v_{low}"
        if low in TYPE_CONSTANTS_BY_NAME:
            return str(TYPE_CONSTANTS_BY_NAME[low])
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
        if not self.debug and self.may_fail(e):
            return self.quiet(e)
        return self.ex_plain(e)

    def may_fail(self, e: t.Expr) -> bool:
        """Whether ``e`` itself can raise (not counting its operands, written on their own)."""
        if isinstance(e, (t.Literal, t.Catch, t.Cond)):
            return False
        if isinstance(e, t.Binary) and e.op in ("&&", "||"):
            return False
        if isinstance(e, t.Var):  # a frame variable or an unassigned type constant is set
            low = e.name.lower()
            return low not in self.frame_vars and (
                low in self.assigned or low not in TYPE_CONSTANTS_BY_NAME
            )
        if isinstance(e, t.ListExpr):
            return any(isinstance(item, t.Splice) for item in e.items)
        return True

    def quiet(self, e: t.Expr) -> str:
        """``e`` in a verb without ``d``: its error is its value (``quiet.quiet``)."""
        return f"_quiet({self.thunk(lambda: self.ex_plain(e))})"

    def thunk(self, build: Callable[[], str]) -> str:
        """A callable taking no arguments that returns ``build()``'s text: a ``closure``,
        given its free temporaries through a lambda when it has any."""
        name, free = self.closure("", build)
        return f"lambda: {name}({free})" if free else name

    def ex_plain(self, e: t.Expr) -> str:
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
        if not self.debug:  # no fast path: each part's error must be a value (an error is false)
            return f"_truth({self.ex(e)})"
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
        body = self.thunk(lambda: self.ex(e.expr))
        default = "None"
        if e.default is not None:
            default_expr = e.default
            default = self.thunk(lambda: self.ex(default_expr))
        return f"_catch({codes}, {body}, {default})"

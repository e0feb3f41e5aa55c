"""What the code generator knows about a program before it writes a line of Python.

1. ``assigned_names`` / ``used_names``: the variables a program stores and reads (each
   becomes a Python local ``v_<name>``).
2. ``tick_free``: whether a loop's body can neither spend nor read ticks (then ``codegen``
   counts them in a local, or pays them a chunk at a time).
3. ``IntTyping``: the variables that only ever hold ints. A variable is one when every
   assignment to it stores an int given that the others in the set hold ints (the largest
   such set, found by dropping variables until none has a non-int assignment): an int
   literal, an int variable, ``+ - * / % ^`` and unary ``-`` of ints (which are ints or
   raise), any comparison, ``in`` or ``!`` (1 or 0), ``&&``/``||``/``? |`` over ints, a
   builtin whose result is always an int (``INT_BUILTINS``), and ``for v in [a..b]`` with
   an int ``a`` (an int range, or E_TYPE). Scatters, ``for v in (list)``, ``except v``,
   ``fork v``, indexed assignments and the frame's variables are never counted. A read of
   such a variable is an int or raises E_VARNF (it was never assigned), so ``codegen``
   leaves out its ``type(x) is int`` checks (``sum_loop``: ``x = x + i`` 75 -> 52 ns).
   ``lists`` likewise: the variables every store to which is a ``{...}`` list expression;
   ``nonneg``: the int variables never negative (``for i in [1..n]``'s ``i``). A sum with
   one such operand cannot fall below -2^31 (no int below it exists: every source of ints
   wraps or range-checks), so its wrap check needs only the upper bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moo.lang import tree as t
from moo.lang.task_api import FRAME_VARIABLES


def walk(node: Any) -> Any:
    """Every AST node under ``node`` (statements, expressions, arms, scatter items)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, tuple):
            stack.extend(n)
            continue
        if n is None or not hasattr(n, "__dataclass_fields__"):
            continue
        yield n
        for name in n.__dataclass_fields__:
            if name != "line":
                stack.append(getattr(n, name))


def assigned_names(program: t.Program) -> set[str]:
    names: set[str] = set()
    for n in walk(program):
        if isinstance(n, t.Assign) and isinstance(n.target, (t.Var, t.Index, t.Range)):
            base: t.Expr = n.target
            while isinstance(base, (t.Index, t.Range)):
                base = base.base
            if isinstance(base, t.Var):
                names.add(base.name.lower())
        elif isinstance(n, t.ScatterItem):
            names.add(n.name.lower())
        elif isinstance(n, (t.ForList, t.ForRange)):
            names.add(n.var.lower())
        elif isinstance(n, (t.While, t.Fork)) and n.name is not None:
            names.add(n.name.lower())
        elif isinstance(n, t.ExceptArm) and n.var is not None:
            names.add(n.var.lower())
    return names


def assigns(e: t.Expr) -> bool:
    """Whether evaluating ``e`` may assign a variable."""
    return any(isinstance(n, (t.Assign, t.Scatter)) for n in walk(e))


TICK_FREE_BUILTINS = frozenset(
    {
        "abs",
        "acos",
        "asin",
        "atan",
        "ceil",
        "cos",
        "cosh",
        "exp",
        "floatstr",
        "floor",
        "log",
        "log10",
        "max",
        "min",
        "random",
        "sin",
        "sinh",
        "sqrt",
        "tan",
        "tanh",
        "trunc",
        "binary_hash",
        "crypt",
        "decode_binary",
        "encode_binary",
        "index",
        "match",
        "rindex",
        "rmatch",
        "strcmp",
        "string_hash",
        "strsub",
        "substitute",
        "is_member",
        "length",
        "listappend",
        "listdelete",
        "listinsert",
        "listset",
        "setadd",
        "setremove",
        "equal",
        "tofloat",
        "toint",
        "toliteral",
        "tonum",
        "toobj",
        "tostr",
        "typeof",
        "value_bytes",
        "value_hash",
        "ctime",
        "time",
        "raise",
        "valid",
        "parent",
        "children",
        "max_object",
        "is_player",
        "task_id",
        "caller_perms",
    }
)
"""Builtins that neither spend nor read ticks: no verb calls (``move`` calls ``accept``),
no ``suspend``/``read``/``eval``/``call_function``, no ``ticks_left``."""


def tick_free(*parts: Any) -> bool:
    """Whether nothing in ``parts`` (a loop's condition and body) spends or reads ticks:
    no loop, verb call, ``pass``, ``fork``, or builtin outside ``TICK_FREE_BUILTINS``."""
    for n in walk(parts):
        if isinstance(n, (t.While, t.ForList, t.ForRange, t.VerbCall, t.Fork)):
            return False
        if isinstance(n, t.Call) and n.name not in TICK_FREE_BUILTINS:
            return False
    return True


def used_names(program: t.Program) -> set[str]:
    return {n.name.lower() for n in walk(program) if isinstance(n, t.Var)}


INT_BUILTINS = frozenset(
    {
        "length",
        "index",
        "rindex",
        "strcmp",
        "toint",
        "tonum",
        "typeof",
        "is_member",
        "random",
        "time",
        "valid",
        "is_player",
        "task_id",
    }
)
"""Builtins that return an int whenever they return (each checked in its module)."""
NONNEG_BUILTINS = INT_BUILTINS - {"strcmp", "toint", "tonum"}
"""Of those, the ones whose int is never negative (lengths, positions, type codes, 0/1,
``random``'s 1..n, ``time``, task ids)."""
_INT_OPS = frozenset({"+", "-", "*", "/", "%", "^"})
_ONE_OR_ZERO = frozenset({"==", "!=", "<", "<=", ">", ">=", "in"})


class IntTyping:
    """Which expressions of a program are certain to be ints (or to raise), and which
    variables only ever hold lists (``lists``: every store a ``{...}`` list expression)."""

    def __init__(self, program: t.Program) -> None:
        self.ints: frozenset[str] = frozenset()
        self.lists: frozenset[str] = frozenset()
        self.nonneg: frozenset[str] = frozenset()
        stores = _stores(program)
        self.ints = _largest(stores, self, "ints", self.is_int)
        self.lists = _largest(stores, self, "lists", self.is_list)
        self.nonneg = _largest(stores, self, "nonneg", self.is_nonneg)

    def is_nonneg(self, e: t.Expr) -> bool:
        """Whether ``e`` is an int that is never negative (or raises)."""
        if isinstance(e, t.Literal):
            return e.value.__class__ is int and e.value >= 0
        if isinstance(e, t.Var):
            return e.name.lower() in self.nonneg
        if isinstance(e, t.Binary):
            if e.op in _ONE_OR_ZERO:
                return True
            if e.op in ("%", "/"):  # of a non-negative int by a positive one
                right = e.right
                if not (isinstance(right, t.Literal) and right.value.__class__ is int):
                    return False
                return bool(right.value > 0) and self.is_nonneg(e.left)
            if e.op in ("&&", "||"):
                return self.is_nonneg(e.left) and self.is_nonneg(e.right)
            return False
        if isinstance(e, t.Unary):
            return e.op == "!"
        if isinstance(e, t.Cond):
            return self.is_nonneg(e.then) and self.is_nonneg(e.otherwise)
        if isinstance(e, t.Length):
            return True
        if isinstance(e, t.Call):
            return e.name in NONNEG_BUILTINS and not any(isinstance(a, t.Splice) for a in e.args)
        if isinstance(e, t.Assign):
            return isinstance(e.target, t.Var) and self.is_nonneg(e.value)
        return False

    def is_list(self, e: t.Expr) -> bool:
        if isinstance(e, t.ListExpr):
            return True
        if isinstance(e, t.Var):
            return e.name.lower() in self.lists
        if isinstance(e, t.Binary) and e.op in ("&&", "||"):
            return self.is_list(e.left) and self.is_list(e.right)
        if isinstance(e, t.Cond):
            return self.is_list(e.then) and self.is_list(e.otherwise)
        if isinstance(e, t.Assign):
            return isinstance(e.target, t.Var) and self.is_list(e.value)
        return False

    def is_int(self, e: t.Expr) -> bool:
        if isinstance(e, t.Literal):
            return e.value.__class__ is int
        if isinstance(e, t.Var):
            return e.name.lower() in self.ints
        if isinstance(e, t.Binary):
            if e.op in _ONE_OR_ZERO:
                return True
            if e.op in _INT_OPS or e.op in ("&&", "||"):
                return self.is_int(e.left) and self.is_int(e.right)
            return False
        if isinstance(e, t.Unary):
            return e.op == "!" or self.is_int(e.operand)
        if isinstance(e, t.Cond):
            return self.is_int(e.then) and self.is_int(e.otherwise)
        if isinstance(e, t.Length):  # ``$``
            return True
        if isinstance(e, t.Call):
            return e.name in INT_BUILTINS and not any(isinstance(a, t.Splice) for a in e.args)
        if isinstance(e, t.Assign):
            return isinstance(e.target, t.Var) and self.is_int(e.value)
        return False


def _stores(program: t.Program) -> dict[str, list[t.Expr | None]]:
    """Every variable a program assigns, with what each assignment stores: an expression,
    or None for a value of unknown type."""
    stores: dict[str, list[t.Expr | None]] = {}
    for n in walk(program):
        if isinstance(n, t.Assign):
            if isinstance(n.target, t.Var):
                stores.setdefault(n.target.name.lower(), []).append(n.value)
            elif isinstance(n.target, (t.Index, t.Range)):
                base: t.Expr = n.target
                while isinstance(base, (t.Index, t.Range)):
                    base = base.base
                if isinstance(base, t.Var):
                    stores.setdefault(base.name.lower(), []).append(None)
        elif isinstance(n, t.ScatterItem):
            stores.setdefault(n.name.lower(), []).append(None)
        elif isinstance(n, t.ForList):
            stores.setdefault(n.var.lower(), []).append(None)
        elif isinstance(n, t.ForRange):
            stores.setdefault(n.var.lower(), []).append(n.start)
        elif isinstance(n, t.While) and n.name is not None:
            stores.setdefault(n.name.lower(), []).append(n.cond)
        elif isinstance(n, t.Fork) and n.name is not None:
            stores.setdefault(n.name.lower(), []).append(None)
        elif isinstance(n, t.ExceptArm) and n.var is not None:
            stores.setdefault(n.var.lower(), []).append(None)
    return stores


def _largest(
    stores: dict[str, list[t.Expr | None]],
    typing: IntTyping,
    kind: str,
    judge: Callable[[t.Expr], bool],
) -> frozenset[str]:
    """The largest set of variables (``typing.<kind>`` while it is found) each of whose
    stores ``judge`` accepts, given the set; never a frame variable."""
    frame = set(FRAME_VARIABLES)
    found = {name for name, values in stores.items() if name not in frame and None not in values}
    changed = True
    while changed:
        changed = False
        setattr(typing, kind, frozenset(found))
        for name in sorted(found):
            if not all(value is not None and judge(value) for value in stores[name]):
                found.discard(name)
                changed = True
                setattr(typing, kind, frozenset(found))
    return frozenset(found)


class LiteralTyping(IntTyping):
    """What a verb without LambdaMOO's ``d`` bit may assume (quiet.py): any operation may
    give an error value instead of raising, so only a literal is known to be an int."""

    def __init__(self) -> None:
        self.ints = self.lists = self.nonneg = frozenset()

    def is_int(self, e: t.Expr) -> bool:
        return isinstance(e, t.Literal) and e.value.__class__ is int

    def is_nonneg(self, e: t.Expr) -> bool:
        return self.is_int(e) and isinstance(e, t.Literal) and e.value >= 0

    def is_list(self, e: t.Expr) -> bool:
        return False

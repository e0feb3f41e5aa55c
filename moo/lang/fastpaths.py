"""The fast paths ``codegen`` writes for the common cases of MOO's expressions.

Each emitter writes Python text that computes the result inline when it is certain to be the
one ``ops`` would give, and calls the ``ops`` helper (or the builtin) otherwise:

1. Ints (``int_guard``, ``arith``, ``compare_test``): ``+ - * / %`` and comparisons of two
   ints, with the 32-bit wrap check. An operand ``analysis.IntTyping`` knows to be an int
   needs no ``type(x) is int`` check; when neither needs one the fast path is all there is;
   a sum with a never-negative operand checks only the upper bound (``upward``).
2. Indexing (``index``, ``slice``, ``splice``): ``l[i]``, ``l[a..b]``, ``@l`` of a list (or
   string) by ints in range. Whether a variable holds a list is known at compile time for
   a variable only ever assigned ``{...}``, or tested once before a loop (``is_list``).
3. Builtins (``inline_builtin``): ``length``, ``tostr``, ``index``, ``rindex`` for the
   argument types whose result is certain; ``FOLDED`` ones of literals are computed once,
   while compiling.

The statements' fast paths (updates in place, values reused, tests hoisted out of loops)
are ``fast_statements``.
"""

from __future__ import annotations

from moo.lang import tree as t
from moo.lang.analysis import IntTyping, assigns
from moo.lang.builtins.registry import Builtin
from moo.lang.errors import MooRaise
from moo.lang.values import fold

ARITH = {"+": "_add", "-": "_sub", "*": "_mul", "/": "_div", "%": "_mod", "^": "_pow"}
COMPARE = {"<": "_lt", "<=": "_le", ">": "_gt", ">=": "_ge", "==": "_eq", "!=": "_ne"}
WRAPPED = ("+", "-", "*")
IndexKey = tuple[str, str]
"""``v[i]`` as ``if_stmt`` reuses it: the variable's name and the index's (or its digits)."""
FOLDED = frozenset({"length", "index", "rindex", "strcmp", "typeof"})
"""Builtins that use neither the task nor the world: called while compiling when every
argument is a literal and the result is an int (``index("hello world", "w")`` is 7)."""


def simple(text: str) -> bool:
    """Whether ``text`` is a name or a number: reading it twice costs nothing."""
    return (
        text.isidentifier()
        or text.lstrip("-").replace(".", "", 1).isdigit()
        or (text.startswith("(-") and text[2:-1].isdigit())
    )


SMALL = 2**30 - 1
"""The largest int CPython 3.11 compares fast (one 30-bit digit): the wrap checks compare
with it before the 32-bit bounds (``FastPaths.arith``)."""
INT_MAX = 2**31 - 1
INT_MIN = -(2**31)


class FastPaths:
    """The expression emitters; ``codegen._Gen`` provides the rest of the generator (the
    general cases in ``expressions.py``)."""

    builtins: dict[str, Builtin]
    dollar: list[str]
    typing: IntTyping
    indent: int
    assigned: set[str]
    frame_vars: list[str]
    list_tests: dict[str, str]
    available: dict[IndexKey, str]
    index_watch: dict[int, IndexKey]
    index_found: dict[IndexKey, str]
    line: int

    # provided by ``codegen._Gen`` (``expressions.py``, ``statements.py``)
    def ex(self, e: t.Expr) -> str:
        raise NotImplementedError

    def operand(self, e: t.Expr, volatile: bool = False) -> tuple[str, str]:
        raise NotImplementedError

    def tmp(self) -> str:
        raise NotImplementedError

    def literal(self, value: object) -> str:
        raise NotImplementedError

    def emit(self, text: str, line: int | None = None) -> None:
        raise NotImplementedError

    def store(self, name: str) -> str:
        raise NotImplementedError

    def list_text(self, items: tuple[t.Expr, ...]) -> str:
        raise NotImplementedError

    def test(self, e: t.Expr) -> str:
        raise NotImplementedError

    def block(self, body: tuple[t.Stmt, ...]) -> None:
        raise NotImplementedError

    def is_list(self, text: str) -> str:
        """A test that ``text`` (a name, or an expression to evaluate) is a list: ``True``
        for a variable that only ever holds lists (read later: E_VARNF if unbound), the
        loop's flag for a variable that has one."""
        if text.startswith("v_"):
            if text[2:] in self.typing.lists:
                return "True"
            flag = self.list_tests.get(text[2:])
            if flag is not None:
                return flag
        return f"_type({text}) is _list"

    # ------------------------------------------------------------ ints

    def int_guard(self, e: t.Binary) -> tuple[str, str, str] | None:
        """(guard, left, right) for an int fast path, or None when there is none. The guard
        evaluates both operands, in order, unless it is empty: then ``left`` and ``right``
        are the texts that evaluate them (else the references to read afterwards)."""
        left, right = e.left, e.right
        left_lit = isinstance(left, t.Literal)
        right_lit = isinstance(right, t.Literal)
        if (left_lit and type(left.value) is not int) or (  # type: ignore[union-attr]
            right_lit and type(right.value) is not int  # type: ignore[union-attr]
        ):
            return None
        if left_lit and right_lit:
            return None
        known_left, known_right = self.typing.is_int(left), self.typing.is_int(right)
        if known_left and known_right:
            return "", self.ex(left), self.ex(right)
        lf, lr = self.operand(left, assigns(right))
        rf, rr = self.operand(right)
        if known_right and rf == rr:  # a literal or a name: read after the left's check
            return f"_type({lf}) is _int", lr, rr
        if known_left and left_lit:
            return f"_type({rf}) is _int", lr, rr
        if known_left or known_right:  # one is an int: the other is one when they match
            return f"_type({lf}) is _type({rf})", lr, rr
        return f"_type({lf}) is _type({rf}) is _int", lr, rr

    def arith(self, e: t.Binary) -> str:
        op = e.op
        slow = ARITH[op]
        task_arg = "task, " if op == "+" else ""
        if op in ("%", "/"):
            return self.divide(e)
        guard = self.int_guard(e) if op in WRAPPED else None
        if guard is None:
            return f"{slow}({task_arg}{self.ex(e.left)}, {self.ex(e.right)})"
        cond, a, b = guard
        r = self.tmp()
        # Compared first with +-(2^30 - 1), then with 32-bit's bounds: CPython 3.11 compares
        # two ints of one 30-bit digit with a specialized instruction, a larger one (2^31 - 1)
        # through ``PyObject_RichCompare``. Callgrind instructions: a fib(25) call 4,519 ->
        # 4,318, an iteration of ``y = x - i; x = x + (i * 7) % 13`` 2,068 -> 1,683, of
        # ``x = x + i`` past 2^30 604 -> 617 (only the 32-bit check: ``_wrap`` there, 770).
        if not cond and self.upward(e):
            return f"({r} if ({r} := {a} {op} {b}) <= {SMALL} or {r} <= {INT_MAX} else _wrap({r}))"
        # two comparisons joined by ``and``: ~10 ns faster than the chained ``a <= r <= b``
        fast = (
            f"({r} if ({r} := {a} {op} {b}) <= {SMALL} and {r} >= -{SMALL}"
            f" or {INT_MIN} <= {r} <= {INT_MAX} else _wrap({r}))"
        )
        if not cond:
            return fast
        return f"({fast} if {cond} else {slow}({task_arg}{a}, {b}))"

    def upward(self, e: t.Binary) -> bool:
        """Whether ``e`` (of two ints) is a sum with a non-negative operand: it cannot fall
        below -2^31, so only the upper bound needs checking (``analysis``)."""
        return e.op == "+" and (self.typing.is_nonneg(e.left) or self.typing.is_nonneg(e.right))

    def divide(self, e: t.Binary) -> str:
        """``a % b``, ``a / b``: Python's ``%`` and ``//`` when ``a >= 0`` and ``b > 0`` (then
        they truncate as C does), ``ops`` otherwise."""
        slow = ARITH[e.op]
        pyop = "%" if e.op == "%" else "//"
        positive = (
            isinstance(e.right, t.Literal) and type(e.right.value) is int and e.right.value > 0
        )
        if self.typing.is_int(e.left) and self.typing.is_int(e.right):
            lf, a = self.operand(e.left, assigns(e.right))
            rf, b = self.operand(e.right)
            if positive:
                cond = f"{lf} >= 0"
            elif rf == b:  # a name: read after the left is judged, as MOO would
                cond = f"{lf} >= 0 and {b} > 0"
            else:
                cond = f"_type({lf}) is _type({rf}) and {a} >= 0 and {b} > 0"
            return f"({a} {pyop} {b} if {cond} else {slow}({a}, {b}))"
        guard = self.int_guard(e)
        if guard is None:
            return f"{slow}({self.ex(e.left)}, {self.ex(e.right)})"
        cond, a, b = guard
        if not cond:  # pragma: no cover (both ints are handled above)
            raise AssertionError(cond)
        signs = f"{a} >= 0" if positive else f"{a} >= 0 and {b} > 0"
        return f"({a} {pyop} {b} if {cond} and {signs} else {slow}({a}, {b}))"

    def compare_test(self, e: t.Binary) -> str:
        """A Python truth value for comparison ``e``."""
        op = e.op
        slow = COMPARE[op]
        if op in ("==", "!=") and isinstance(e.right, t.Literal):
            value = e.right.value
            if type(value) is int:
                first, ref = self.operand(e.left)
                if self.typing.is_int(e.left):
                    return f"({first} {op} {self.literal(value)})"
                test = f"(_type({first}) is _int and {ref} == {self.literal(value)})"
                return test if op == "==" else f"(not {test})"
            if type(value) is str:  # strings are equal without regard to case
                first, ref = self.operand(e.left)
                test = f"(_type({first}) is _str and _fold({ref}) == {fold(value)!r})"
                return test if op == "==" else f"(not {test})"
        guard = self.int_guard(e)
        if guard is None:
            return f"{slow}({self.ex(e.left)}, {self.ex(e.right)})"
        cond, a, b = guard
        if not cond:
            return f"({a} {op} {b})"
        return f"(({a} {op} {b}) if {cond} else {slow}({a}, {b}))"

    # ------------------------------------------------------------ indexing

    def index(self, e: t.Index) -> str:
        key = index_key(e)
        if key is not None and key in self.available:
            return self.available[key]
        first, ref = self.operand(e.base, assigns(e.index))
        if not ref.isidentifier():  # a literal base: give $ something to measure
            name = self.tmp()
            first, ref = f"({name} := {first})", name
        self.dollar.append(ref)
        index = self.ex(e.index)
        self.dollar.pop()
        if isinstance(e.index, t.Literal) and type(e.index.value) is int and e.index.value > 0:
            k = e.index.value
            return (
                f"({ref}[{k - 1}] if {self.is_list(first)} and _len({ref}) >= {k}"
                f" else _index({ref}, {k}))"
            )
        if index.isidentifier():
            int_check = "" if self.typing.is_int(e.index) else f" and _type({index}) is _int"
            return (
                f"({ref}[{index} - 1] if {self.is_list(first)}{int_check}"
                f" and 0 < {index} <= _len({ref}) else _index({ref}, {index}))"
            )
        itmp = self.tmp()
        return (
            f"({ref}[{itmp} - 1] if _type({first}) is not _type({itmp} := {index}) is _int"
            f" and {self.is_list(ref)} and 0 < {itmp} <= _len({ref}) else _index({ref}, {itmp}))"
        )

    def slice(self, e: t.Range) -> str:
        """``base[start..end]``: Python's slice of a list or string when both ends are ints
        known at compile time (``IntTyping``) and in range; ``ops.range_`` otherwise. The
        base is evaluated first, then the ends (``x | 1`` is true for every int); an end of
        ``$`` is the base's length, read once the base is known to be a list or a string."""
        first, ref = self.operand(e.base, assigns(e.start) or assigns(e.end))
        if ref == first and not ref.isidentifier():
            name = self.tmp()
            first, ref = f"({name} := {first})", name
        self.dollar.append(ref)
        start, end = self.ex(e.start), self.ex(e.end)
        self.dollar.pop()
        if not (self.typing.is_int(e.start) and self.typing.is_int(e.end)):
            return f"_range({first}, {start}, {end})"
        to_end = isinstance(e.end, t.Length)
        # a MOO value is never None: ``x is not None`` only evaluates ``x``
        binds = [f"{first} is not None"]
        if not simple(start):
            binds.append(f"({(s := self.tmp())} := {start}) | 1")
            start = s
        if not (simple(end) or to_end):
            binds.append(f"({(n := self.tmp())} := {end}) | 1")
            end = n
        low = f"{start} <= " if start.isdigit() and int(start) > 0 else f"0 < {start} <= "
        bounds = f"{low}_len({ref})" if to_end else f"{low}{end} <= _len({ref})"
        sequence = f"({self.is_list(ref)} or _type({ref}) is _str)"
        if len(binds) == 1 and first == ref:  # the ends read nothing before the base
            binds = []
        checks = " and ".join([*binds, sequence, bounds])
        fast = f"{ref}[{start} - 1:]" if to_end else f"{ref}[{start} - 1:{end}]"
        if to_end:
            end = f"_length({ref})"
        return f"({fast} if {checks} else _range({ref}, {start}, {end}))"

    def splice(self, e: t.Expr) -> str:
        """``@e`` in a list or argument list: ``e`` must be a list."""
        first, ref = self.operand(e)
        return f"*({ref} if {self.is_list(first)} else _splice({ref}))"

    # ------------------------------------------------------------ builtins

    def inline_builtin(self, e: t.Call, key: str, args: list[str]) -> str | None:
        """The few builtins hot loops call, inlined for the argument types where the result
        is certain to be the builtin's (anything else calls it). A builtin call from
        compiled code costs ~0.1-0.4 us (``tostr``'s ``*args`` loop, ``index``'s flag and
        fold); ``string_ops_10k`` (``length(tostr(i, "abc")) + index("hello world", "w")``
        per iteration) went from ~1.5 us to ~0.5 us an iteration."""
        name = e.name
        if name in FOLDED and all(isinstance(a, t.Literal) for a in e.args):
            try:
                value = self.builtins[name].function(None, *(a.value for a in e.args))  # type: ignore[union-attr]
            except MooRaise:
                value = None
            if value.__class__ is int:  # an error is left to happen when the call runs
                return self.literal(value)
        if name == "length" and len(args) == 1:
            if stringy(e.args[0]):  # a string literal or ``tostr``: a string or an error
                return f"_len({args[0]})"
            first, ref = self.operand(e.args[0])
            if not ref.isidentifier():
                ref = self.tmp()
                first = f"({ref} := {first})"
            return (
                f"(_len({ref}) if {self.is_list(first)} or _type({ref}) is _str"
                f" else {key}(task, {ref}))"
            )
        if name == "tostr" and args:
            parts = []
            for arg, text in zip(e.args, args, strict=True):
                if isinstance(arg, t.Literal) and type(arg.value) is str:
                    parts.append(text)
                elif self.typing.is_int(arg):
                    parts.append(f"_str({text})")
                else:
                    parts.append(f"_tostr({text})")
            joined = self.tmp()
            return (
                f"({joined} if _len({joined} := {' + '.join(parts)})"
                f" <= task.limits.max_string_length else _quota())"
            )
        if name in ("index", "rindex") and len(args) == 2:
            find = "find" if name == "index" else "rfind"
            texts = []
            guards = []
            refs = []
            for i, arg in enumerate(e.args):
                if isinstance(arg, t.Literal) and type(arg.value) is str:
                    texts.append(repr(fold(arg.value)))
                    refs.append(args[i])
                    continue
                first, ref = self.operand(arg, i == 0 and assigns(e.args[1]))
                if not ref.isidentifier():
                    ref = self.tmp()
                    first = f"({ref} := {first})"
                guards.append(f"(_type({first}) is _str)")
                texts.append(f"_fold({ref})")
                refs.append(ref)
            found = f"{texts[0]}.{find}({texts[1]}) + 1"
            if not guards:
                return f"({found})"
            # ``&``, not ``and``: both arguments are evaluated before either is judged
            guard = " & ".join(guards)
            return f"({found} if {guard} else {key}(task, {', '.join(refs)}))"
        return None


def stringy(e: t.Expr) -> bool:
    """Whether ``e`` is likely a string (worth trying the in-place concatenation first)."""
    if isinstance(e, t.Literal):
        return type(e.value) is str
    return isinstance(e, t.Call) and e.name == "tostr"


def index_key(e: t.Index) -> IndexKey | None:
    """``e``'s key when it is ``v[i]`` of a variable by a variable or a positive int."""
    if not isinstance(e.base, t.Var):
        return None
    if isinstance(e.index, t.Var):
        return (e.base.name.lower(), e.index.name.lower())
    if isinstance(e.index, t.Literal) and type(e.index.value) is int and e.index.value > 0:
        return (e.base.name.lower(), str(e.index.value))
    return None

"""The fast paths ``codegen`` writes for the common cases of MOO's operators.

Each emitter writes Python text that computes the result inline when it is certain to be the
one ``ops`` would give, and calls the ``ops`` helper (or the builtin) otherwise:

1. Ints (``int_guard``, ``arith``, ``compare_test``): ``+ - * / %`` and comparisons of two
   ints, with the 32-bit wrap check. An operand ``analysis.IntTyping`` knows to be an int
   needs no ``type(x) is int`` check; when neither needs one the fast path is all there is.
2. Indexing (``index``): ``l[i]`` of a list by an int in range.
3. Builtins (``inline_builtin``): ``length``, ``tostr``, ``index``, ``rindex`` for the
   argument types whose result is certain; ``FOLDED`` ones of literals are computed once,
   while compiling.
4. Statements (``in_place``): ``x = a + b`` of ints wraps ``x`` itself afterwards (no
   temporary); ``l = {@l, x}``, ``l[i] = x`` and ``s = s + "x"`` change the variable's value
   in place when the variable holds its only reference (``sys.getrefcount`` gives ``SOLE``,
   measured at import: 2 on CPython 3.11, the variable's and the argument's), so nothing
   else can see the change and MOO's values stay immutable to every observer. A value
   anything else holds (another variable, a property, a list, a fork's copy, a ``for``
   loop walking it, an argument list) is copied as before. CPython does the same for
   ``s = s + t`` (``unicode_concatenate``); LambdaMOO 1.8.1 has the same test
   (``doinsert``, ``OP_INDEXSET``: refcount 1) but there the variable and the stack both
   hold the list, so these statements copy it: building a list of n elements is O(n^2)
   there and O(n) here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from moo.lang import tree as t
from moo.lang.analysis import IntTyping, assigned_names, assigns, walk
from moo.lang.builtins.registry import Builtin
from moo.lang.errors import MooRaise
from moo.lang.values import fold

ARITH = {"+": "_add", "-": "_sub", "*": "_mul", "/": "_div", "%": "_mod", "^": "_pow"}
COMPARE = {"<": "_lt", "<=": "_le", ">": "_gt", ">=": "_ge", "==": "_eq", "!=": "_ne"}
_WRAPPED = ("+", "-", "*")


def _sole_reference_count() -> int:
    """What ``sys.getrefcount(x)`` says of a list only the local variable ``x`` holds. An
    interpreter that counts differently (borrowed references on the stack) gives a lower
    figure, which this follows; any other holder only adds to it."""

    def probe() -> int:
        count = sys.getrefcount  # called as compiled code calls ``_rc``
        held: list[int] = []
        return count(held)

    return probe()


SOLE = _sole_reference_count()
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


class FastPaths:
    """The fast-path emitters; ``codegen._Gen`` provides the rest of the generator."""

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

    # provided by ``codegen._Gen``
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

    # ------------------------------------------------------------ loop invariants

    @contextmanager
    def list_tests_hoisted(self, loop: t.While | t.ForList | t.ForRange) -> Iterator[None]:
        """While ``loop`` is written: a variable it indexes, slices or measures but never
        assigns (nor does its head) is tested for a list once, before the loop, into a flag
        that the index, range and ``length`` fast paths read instead (a variable not yet
        assigned gives False: the general path then raises E_VARNF where MOO would). The
        merge loop of ``bench/lang.py``'s sort tests two lists five times an iteration."""
        saved = self.list_tests
        variables = self.assigned | set(self.frame_vars)
        names = (_list_bases(loop) & variables) - assigned_names((loop,))
        tests = dict(saved)
        for name in sorted(names):
            flag = self.tmp()
            self.emit("try:")
            self.emit(f"    {flag} = _type(v_{name}) is _list")
            self.emit("except _NameError:")
            self.emit(f"    {flag} = False")
            tests[name] = flag
        self.list_tests = tests
        try:
            yield
        finally:
            self.list_tests = saved

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

    # ------------------------------------------------------------ indexes reused

    def if_stmt(self, s: t.If) -> None:
        """``if``/``elseif``/``else``. An arm's body (and every later arm's) reuses the value
        of ``v[i]`` (``v`` a variable, ``i`` a variable or a positive int) that a condition
        before it computed on every path (not under ``&&``, ``||``, ``? |`` or a catch)
        into a temporary, until a statement assigns ``v`` or ``i``: the merge sort's
        ``if (a[i] <= b[j]) out = {@out, a[i]}; ...`` reads ``a[i]`` once (ints, lists and
        strings are values: the same element, read again, is the same value)."""
        outer = self.available
        known = dict(outer)
        for i, (cond, body) in enumerate(s.arms):
            self.line = cond.line or self.line
            changed = assigned_names((t.ExprStmt(cond),))
            known = {k: v for k, v in known.items() if k[0] not in changed and k[1] not in changed}
            watch = {
                node: key
                for node, key in _evaluated_indexes(cond).items()
                if key[0] not in changed and key[1] not in changed
            }
            self.available, self.index_watch, self.index_found = known, watch, {}
            text = self.test(cond)
            self.emit(f"{'if' if i == 0 else 'elif'} {text}:")
            for key, temp in self.index_found.items():
                if f"({temp} := " in text:
                    known[key] = temp
            self.index_watch, self.index_found = {}, {}
            self.available = dict(known)
            self.indent += 1
            self.block(body)
            self.indent -= 1
        if s.otherwise is not None:
            self.available = dict(known)
            self.emit("else:")
            self.indent += 1
            self.block(s.otherwise)
            self.indent -= 1
        self.available = outer

    def forget_indexes(self, changed: set[str]) -> None:
        """Stop reusing what depends on the variables ``changed``."""
        self.available = {
            k: v for k, v in self.available.items() if k[0] not in changed and k[1] not in changed
        }

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
        guard = self.int_guard(e) if op in _WRAPPED else None
        if guard is None:
            return f"{slow}({task_arg}{self.ex(e.left)}, {self.ex(e.right)})"
        cond, a, b = guard
        r = self.tmp()
        if not cond and self.upward(e):
            return f"({r} if ({r} := {a} {op} {b}) <= 2147483647 else _wrap({r}))"
        # two comparisons joined by ``and``: ~10 ns faster than the chained ``a <= r <= b``
        fast = (
            f"({r} if ({r} := {a} {op} {b}) <= 2147483647 and {r} >= -2147483648 else _wrap({r}))"
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
            if _stringy(e.args[0]):  # a string literal or ``tostr``: a string or an error
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

    # ------------------------------------------------------------ updates in place

    def in_place(self, e: t.Assign) -> bool:
        """Emit ``e`` (a statement) as an update in place when it has that shape; False
        when it has not (the caller emits the general form)."""
        target, value = e.target, e.value
        if isinstance(target, t.Var):
            name = target.name.lower()
            if (
                isinstance(value, t.Binary)
                and value.op in _WRAPPED
                and self.typing.is_int(value.left)
                and self.typing.is_int(value.right)
            ):
                # ints: the wrap check on the variable itself saves a temporary (~5%)
                var = self.store(name)
                self.emit(f"{var} = {self.ex(value.left)} {value.op} {self.ex(value.right)}")
                low = "" if self.upward(value) else f" or {var} < -2147483648"
                self.emit(f"if {var} > 2147483647{low}: {var} = _wrap({var})")
                return True
            if isinstance(value, t.ListExpr) and value.items:
                head = value.items[0]
                rest = value.items[1:]
                if (
                    isinstance(head, t.Splice)
                    and isinstance(head.expr, t.Var)
                    and head.expr.name.lower() == name
                    and not any(assigns(item) for item in rest)
                ):
                    self.append(name, rest)
                    return True
            if (
                isinstance(value, t.Binary)
                and value.op == "+"
                and isinstance(value.left, t.Var)
                and value.left.name.lower() == name
                and _stringy(value.right)
                and not assigns(value.right)
            ):
                self.concat(name, value)
                return True
            return False
        if (
            isinstance(target, t.Index)
            and isinstance(target.base, t.Var)
            and not assigns(target.index)
            and not assigns(value)
        ):
            self.set_item(target.base.name.lower(), target.index, value)
            return True
        return False

    def append(self, name: str, rest: tuple[t.Expr, ...]) -> None:
        """``l = {@l, a, @b, ...}``: appended to ``l`` in place when it holds its list alone."""
        var = self.store(name)
        items = self.tmp()
        one = len(rest) == 1 and not isinstance(rest[0], t.Splice)
        known = name in self.typing.lists  # then this reads it first (E_VARNF)
        self.emit(f"if {var} is not None:" if known else f"if _type({var}) is _list:")
        self.indent += 1
        if one:
            text = self.ex(rest[0])
            if isinstance(rest[0], t.Literal):
                items = text
            else:
                self.emit(f"{items} = {text}")
            count, grow, copy = "1", f"{var}.append({items})", f"[*{var}, {items}]"
        else:
            self.emit(f"{items} = {self.list_text(rest) if rest else '[]'}")
            count, grow, copy = f"_len({items})", f"{var} += {items}", f"{var} + {items}"
        self.emit(
            f"if _rc({var}) == {SOLE} and _len({var}) + {count} <= task.limits.max_list_length:"
        )
        self.emit(f"    {grow}")
        self.emit("else:")
        self.emit(f"    {var} = _checked(task, {copy})")
        self.indent -= 1
        self.emit("else:")
        self.emit(f"    _splice({var})")

    def concat(self, name: str, value: t.Binary) -> None:
        """``s = s + x`` for a string ``x``: CPython's in-place string concatenation when
        ``s`` holds its string alone (``+=`` on a local is where CPython does it)."""
        var = self.store(name)
        right = value.right
        if isinstance(right, t.Literal):  # a string (``_stringy``)
            text = self.ex(right)
            self.emit(
                f"if _type({var}) is _str and _len({var}) + {len(right.value)}"
                " <= task.limits.max_string_length:"
            )
            self.emit(f"    {var} += {text}")
            self.emit("else:")
            self.emit(f"    {var} = _add(task, {var}, {text})")
            return
        tmp = self.tmp()
        self.emit(f"if _type({var}) is _str:")
        self.indent += 1
        self.emit(f"{tmp} = {self.ex(right)}")
        self.emit(
            f"if _type({tmp}) is _str and _len({var}) + _len({tmp})"
            " <= task.limits.max_string_length:"
        )
        self.emit(f"    {var} += {tmp}")
        self.emit("else:")
        self.emit(f"    {var} = _add(task, {var}, {tmp})")
        self.indent -= 1
        self.emit("else:")
        self.emit(f"    {var} = {self.arith(value)}")

    def set_item(self, name: str, index: t.Expr, value: t.Expr) -> None:
        """``l[i] = x``: stored in place when ``l`` holds its list alone."""
        var = self.store(name)
        self.dollar.append(var)
        index_text = self.ex(index)
        self.dollar.pop()
        value_text = self.ex(value)
        i, v = index_text, value_text
        itself = isinstance(value, t.Var) and value.name.lower() == name  # ``l[i] = l``
        if itself or not (simple(index_text) and simple(value_text)):
            self.emit(var)  # MOO reads the variable first: E_VARNF before anything else
            i, v = self.tmp(), self.tmp()
            self.emit(f"{i} = {index_text}")
            self.emit(f"{v} = {value_text}")
        int_check = "" if self.typing.is_int(index) else f" and _type({i}) is _int"
        self.emit(
            f"if _type({var}) is _list{int_check} and 0 < {i} <= _len({var})"
            f" and _rc({var}) == {SOLE}:"
        )
        self.emit(f"    {var}[{i} - 1] = {v}")
        self.emit("else:")
        self.emit(f"    {var} = _set_index({var}, {i}, {v})")


def _stringy(e: t.Expr) -> bool:
    """Whether ``e`` is likely a string (worth trying the in-place concatenation first)."""
    if isinstance(e, t.Literal):
        return type(e.value) is str
    return isinstance(e, t.Call) and e.name == "tostr"


def _list_bases(loop: t.Stmt) -> set[str]:
    """The variables ``loop`` indexes, slices or takes the ``length`` of."""
    names: set[str] = set()
    for n in walk(loop):
        base = None
        if isinstance(n, (t.Index, t.Range)):
            base = n.base
        elif isinstance(n, t.Call) and n.name == "length" and len(n.args) == 1:
            base = n.args[0]
        if isinstance(base, t.Var):
            names.add(base.name.lower())
    return names


def index_key(e: t.Index) -> IndexKey | None:
    """``e``'s key when it is ``v[i]`` of a variable by a variable or a positive int."""
    if not isinstance(e.base, t.Var):
        return None
    if isinstance(e.index, t.Var):
        return (e.base.name.lower(), e.index.name.lower())
    if isinstance(e.index, t.Literal) and type(e.index.value) is int and e.index.value > 0:
        return (e.base.name.lower(), str(e.index.value))
    return None


def _evaluated_indexes(e: t.Expr) -> dict[int, IndexKey]:
    """The ``v[i]`` nodes evaluated whenever ``e``'s evaluation completes (by id)."""
    found: dict[int, IndexKey] = {}
    stack: list[object] = [e]
    while stack:
        n = stack.pop()
        if isinstance(n, tuple):
            stack.extend(n)
            continue
        if n is None or not hasattr(n, "__dataclass_fields__"):
            continue
        if isinstance(n, t.Catch) or (isinstance(n, t.Assign) and isinstance(n.target, t.Scatter)):
            continue  # a closure: what it computes stays inside it
        if isinstance(n, t.Index):
            key = index_key(n)
            if key is not None:
                found[id(n)] = key
        if isinstance(n, t.Binary) and n.op in ("&&", "||"):
            stack.append(n.left)
        elif isinstance(n, t.Cond):
            stack.append(n.test)
        else:
            stack.extend(getattr(n, name) for name in n.__dataclass_fields__ if name != "line")
    return found

"""The fast paths ``codegen`` writes for MOO statements (the expressions' are ``fastpaths``).

1. Updates in place (``in_place``): ``x = a + b`` of ints wraps ``x`` itself afterwards (no
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
2. Values reused (``if_stmt``): an ``if``'s bodies reuse the ``v[i]`` its conditions
   computed.
3. Tests hoisted (``list_tests_hoisted``): whether a variable a loop indexes but never
   assigns holds a list is tested once, before the loop.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from moo.lang import tree as t
from moo.lang.analysis import assigned_names, assigns, walk
from moo.lang.fastpaths import (
    INT_MAX,
    INT_MIN,
    SMALL,
    WRAPPED,
    FastPaths,
    IndexKey,
    index_key,
    simple,
    stringy,
)


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


class FastStatements(FastPaths):
    """The statement emitters, over the expression ones; ``codegen._Gen`` provides the rest."""

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

    # ------------------------------------------------------------ updates in place

    def in_place(self, e: t.Assign) -> bool:
        """Emit ``e`` (a statement) as an update in place when it has that shape; False
        when it has not (the caller emits the general form)."""
        target, value = e.target, e.value
        if isinstance(target, t.Var):
            name = target.name.lower()
            if (
                isinstance(value, t.Binary)
                and value.op in WRAPPED
                and self.typing.is_int(value.left)
                and self.typing.is_int(value.right)
            ):
                # ints: the wrap check on the variable itself saves a temporary (~5%)
                var = self.store(name)
                self.emit(f"{var} = {self.ex(value.left)} {value.op} {self.ex(value.right)}")
                if self.upward(value):  # see ``arith``
                    test = f"{var} > {SMALL} and {var} > {INT_MAX}"
                else:
                    small = f"{var} > {SMALL} or {var} < -{SMALL}"
                    test = f"({small}) and not {INT_MIN} <= {var} <= {INT_MAX}"
                self.emit(f"if {test}: {var} = _wrap({var})")
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
                and stringy(value.right)
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

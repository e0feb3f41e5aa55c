"""How ``codegen`` writes MOO's statements, one Python function body at a time.

1. ``function_body``: ``run``'s body or a fork's (a function of its own): dummy bindings
   for every assigned variable (so each is a local), the hoisted closures, the statements.
2. ``block`` / ``stmt``: each statement in turn, with its MOO line remembered for every
   Python line written (``emit``). Loops are ``loops``; ``if`` and the in-place updates
   are ``fast_statements``; the rest is here.
3. ``try``/``except`` catches ``ops.CATCHABLE`` and matches MOO's codes (``_matches``); a
   MOO ``finally`` does not run when the task is aborted (TaskAbort), as in LambdaMOO.
4. ``fork``: its body becomes a top-level function taking a copy of the variables
   (``bind_fork``); the fork is numbered in source order so a queued task can be saved.
5. Assignments (``assign_stmt``, ``assign_value``): a variable, a scatter (``{a, b} =
   args`` checked inline, else ``ops.scatter``), an index/range/property chain rebuilt
   from the inside out (``update``).
"""

from __future__ import annotations

from collections.abc import Callable

from moo.lang import tree as t
from moo.lang.analysis import assigned_names
from moo.lang.expressions import Expressions
from moo.lang.fast_statements import FastStatements
from moo.lang.loops import Line, Loops, Scope

_MAY_FAIL = (t.ExprStmt, t.While, t.ForList, t.ForRange, t.Fork)
"""Statements whose own step can fail (a store, a scatter, a loop's list or bounds, a
fork's delay): in a verb without ``d`` each is written in a ``try`` (quiet.py)."""


class Statements(FastStatements, Expressions, Loops):
    """The statement emitters; ``codegen._Gen`` provides the rest of the generator."""

    variables: list[str]
    defs: list[list[Line]]
    forks: dict[int, str]
    fork_ids: dict[int, int]

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
        if not self.debug and isinstance(s, _MAY_FAIL):
            if isinstance(s, t.ExprStmt) and isinstance(s.expr, t.Literal):
                return
            # A verb without ``d``: a statement that fails does nothing (quiet.py).
            self.emit("try:")
            self.indent += 1
            self.stmt_plain(s)
            self.indent -= 1
            self.emit("except _MooRaise as _q:")
            self.indent += 1
            self.emit("_statement_failed(_q)")
            self.indent -= 1
            return
        self.stmt_plain(s)

    def stmt_plain(self, s: t.Stmt) -> None:
        if isinstance(s, t.ExprStmt):
            e = s.expr
            if isinstance(e, t.Literal):
                return
            if isinstance(e, t.Assign):
                # in place only with d: without it, a failed update is stored (quiet.py)
                if not (self.debug and self.in_place(e)):
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
                self.emit(f"v_{arm.var.lower()} = _error_value({moo}, task)")
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
            if value == "v_args" and "args" not in self.assigned:
                # a frame's args, a list: unpacked as it is, ``_scatter`` raising E_ARGS when
                # the length is wrong (a ``try``, free in 3.11, where a length check cost
                # ~200 instructions of a ~4,300 fib call)
                self.emit("try:")
                self.emit(f"    {names.rstrip()} = {value}")
                self.emit("except _ValueError:")
                self.emit(f"    _scatter({value}, {kinds!r})")
                return
            test = f"_type({vals}) is _list and _len({vals}) == {len(kinds)}"
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
        if not self.debug:  # as LambdaMOO's INDEXSET then PUT: a failed update is stored
            update = inner
            inner = f"_quiet({self.thunk(lambda: update)})"
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

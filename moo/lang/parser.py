"""Tokens -> the AST of ``tree``: LambdaMOO 1.8's grammar (parser.y), hand-written.

1. ``lexer.tokenize`` turns the whole text into a token list.
2. ``_Parser.statements`` (here) reads statements by recursive descent (``if``, ``for``, ``while``,
   ``fork``, ``try``, ``break``, ``continue``, ``return``, ``;``, expression statements),
   keeping LambdaMOO's loop-name stack for ``break name`` / ``continue name`` (a ``fork``
   body is a barrier).
3. ``ExpressionParser.expr`` (``parser_expressions.py``, the base class that also holds the
   token cursor) reads expressions by precedence climbing with parser.y's table, lowest
   first: ``=`` (right), ``? |`` (non-associative), ``|| &&`` (one level, left), comparisons
   and ``in`` (left), ``+ -``, ``* / %``, ``^`` (right), unary ``! -``, then the postfix
   ``.name .(e) :verb(args) :(e)(args) [i] [a..b]``.
4. Semantic checks parser.y makes in its actions: assignment targets, scatter targets, ``$``
   only inside an index, unknown builtin function names (in the expressions), unreachable
   ``except`` arms and loop names (here).

Errors raise ``MooSyntaxError`` with LambdaMOO's texts (``Line 3:  syntax error``).
Nesting deeper than ``MAX_DEPTH`` (``parser_expressions.py``) or an AST deeper than
``MAX_TREE_DEPTH`` is a syntax error, never a Python ``RecursionError``.

Why by hand and not with lark: control of the error messages and line numbers LambdaMOO
gives, the semantic checks woven into the grammar, and speed. Measured (Python 3.11, this
machine, ``tests/unit/lang/bench_lang.py``): a 1,000-line verb of dense statements (72,000
tokens, 175 KB) lexes and parses in ~160 ms, ~440,000 tokens/s; a typical 30-line verb in
about 1 ms.
"""

from __future__ import annotations

from collections.abc import Callable

from moo.lang import tree as t
from moo.lang.errors import MooSyntaxError
from moo.lang.lexer import LexError, Token, tokenize
from moo.lang.parser_expressions import ExpressionParser, ParseError

MAX_TREE_DEPTH = 400  # the AST's depth, long left-associative chains (``1 + 1 + ...``) included


def parse(source: str | list[str], known_builtin: Callable[[str], bool] | None = None) -> t.Program:
    """The AST of ``source`` (text, or a list of lines as a verb's code is stored).

    ``known_builtin(name)`` says whether ``name(...)`` names a builtin function; by default
    the ``BUILTINS`` registry. Raises ``MooSyntaxError``.
    """
    text = source if isinstance(source, str) else "\n".join(source)
    if known_builtin is None:
        from moo.lang.builtins import BUILTINS

        def known_builtin(name: str) -> bool:
            return name in BUILTINS

    try:
        tokens = tokenize(text)
    except LexError as exc:
        raise MooSyntaxError([f"Line {exc.line}:  {exc.message}"]) from None
    return _Parser(tokens, known_builtin).program()


def _check_tree_depth(program: t.Program) -> None:
    """Raise ``ParseError`` when the AST is deeper than ``MAX_TREE_DEPTH`` (iteratively)."""
    stack: list[tuple[object, int]] = [(program, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, tuple):
            stack.extend((item, depth) for item in node)
            continue
        fields = getattr(node, "__dataclass_fields__", None)
        if fields is None:
            continue
        if depth > MAX_TREE_DEPTH:
            raise ParseError("Too many levels of nesting", getattr(node, "line", 0))
        stack.extend((getattr(node, name), depth + 1) for name in fields if name != "line")


class _Parser(ExpressionParser):
    """Statements (step 2) on top of the expression parser; ``program`` is the whole text."""

    def __init__(self, tokens: list[Token], known_builtin: Callable[[str], bool]) -> None:
        super().__init__(tokens, known_builtin)
        self.loops: list[str | bool | None] = []  # names; False is a fork barrier

    def program(self) -> t.Program:
        try:
            body = self.statements(())
            kind, _, line = self.tokens[self.pos]
            if kind != "eof":
                raise ParseError("syntax error", line)
            if len(self.tokens) > MAX_TREE_DEPTH:
                _check_tree_depth(body)
            return body
        except ParseError as exc:
            raise MooSyntaxError([f"Line {exc.line}:  {exc.message}"]) from None

    # ------------------------------------------------------------ statements

    def statements(self, enders: tuple[str, ...]) -> tuple[t.Stmt, ...]:
        self.enter()
        body: list[t.Stmt] = []
        while True:
            kind = self.peek()
            if kind in enders or kind == "eof":
                break
            stmt = self.statement()
            if stmt is not None:
                body.append(stmt)
        self.depth -= 1
        return tuple(body)

    def statement(self) -> t.Stmt | None:
        kind, _, line = self.tokens[self.pos]
        if kind == "if":
            return self.if_statement()
        if kind == "for":
            return self.for_statement()
        if kind == "while":
            return self.while_statement()
        if kind == "fork":
            return self.fork_statement()
        if kind == "try":
            return self.try_statement()
        if kind in ("break", "continue"):
            self.next()
            name = None
            if self.peek() == "id":
                name = self.name(self.next()[1])
            self.expect(";")
            self.check_loop_name(name, kind, line)
            return t.Break(name, line) if kind == "break" else t.Continue(name, line)
        if kind == "return":
            self.next()
            if self.peek() == ";":
                self.next()
                return t.Return(None, line)
            value = self.expr()
            self.expect(";")
            return t.Return(value, line)
        if kind == ";":
            self.next()
            return None
        value = self.expr()
        self.expect(";")
        return t.ExprStmt(value, line)

    def if_statement(self) -> t.If:
        line = self.next()[2]
        arms = [(self.paren_expr(), self.statements(("elseif", "else", "endif")))]
        otherwise = None
        while self.peek() == "elseif":
            self.next()
            arms.append((self.paren_expr(), self.statements(("elseif", "else", "endif"))))
        if self.peek() == "else":
            self.next()
            otherwise = self.statements(("endif",))
        self.expect("endif")
        return t.If(tuple(arms), otherwise, line)

    def for_statement(self) -> t.Stmt:
        line = self.next()[2]
        var = self.name(self.expect("id")[1])
        self.expect("in")
        if self.peek() == "(":
            value = self.paren_expr()
            body = self.loop_body(var, "endfor")
            return t.ForList(var, value, body, line)
        self.expect("[")
        start = self.expr()
        self.expect("..")
        end = self.expr()
        self.expect("]")
        body = self.loop_body(var, "endfor")
        return t.ForRange(var, start, end, body, line)

    def loop_body(self, name: str | None, ender: str) -> tuple[t.Stmt, ...]:
        self.loops.append(name)
        body = self.statements((ender,))
        self.expect(ender)
        self.loops.pop()
        return body

    def while_statement(self) -> t.While:
        line = self.next()[2]
        name = self.name(self.next()[1]) if self.peek() == "id" else None
        cond = self.paren_expr()
        return t.While(name, cond, self.loop_body(name, "endwhile"), line)

    def fork_statement(self) -> t.Fork:
        line = self.next()[2]
        name = self.name(self.next()[1]) if self.peek() == "id" else None
        delay = self.paren_expr()
        self.loops.append(False)
        body = self.statements(("endfork",))
        self.expect("endfork")
        self.loops.pop()
        return t.Fork(name, delay, body, line)

    def try_statement(self) -> t.Stmt:
        line = self.next()[2]
        body = self.statements(("except", "finally", "endtry"))
        if self.peek() == "finally":
            self.next()
            handler = self.statements(("endtry",))
            self.expect("endtry")
            return t.TryFinally(body, handler, line)
        arms: list[t.ExceptArm] = []
        self.expect("except")
        while True:
            arm_line = self.line()
            var = self.name(self.next()[1]) if self.peek() == "id" else None
            self.expect("(")
            codes = self.codes(")")
            self.expect(")")
            arms.append(t.ExceptArm(var, codes, self.statements(("except", "endtry")), arm_line))
            if self.peek() != "except":
                break
            if arms[-1].codes is None:
                raise ParseError("Unreachable EXCEPT clause", self.line())
            if len(arms) >= 255:
                raise ParseError("Too many EXCEPT clauses (max. 255)", self.line())
            self.next()
        self.expect("endtry")
        return t.TryExcept(body, tuple(arms), line)

    def check_loop_name(self, name: str | None, kind: str, line: int) -> None:
        if name is None:
            if not self.loops or self.loops[-1] is False:
                raise ParseError(f"No enclosing loop for `{kind}' statement", line)
            return
        for entry in reversed(self.loops):
            if entry is False:
                break
            if isinstance(entry, str) and entry.lower() == name.lower():
                return
        raise ParseError(f"Invalid loop name in `{kind}' statement: {name}", line)

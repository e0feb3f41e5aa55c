"""Tokens -> the AST of ``tree``: LambdaMOO 1.8's grammar (parser.y), hand-written.

1. ``lexer.tokenize`` turns the whole text into a token list.
2. ``_Parser.statements`` reads statements by recursive descent (``if``, ``for``, ``while``,
   ``fork``, ``try``, ``break``, ``continue``, ``return``, ``;``, expression statements),
   keeping LambdaMOO's loop-name stack for ``break name`` / ``continue name`` (a ``fork``
   body is a barrier).
3. ``_Parser.expr`` reads expressions by precedence climbing with parser.y's table, lowest
   first: ``=`` (right), ``? |`` (non-associative), ``|| &&`` (one level, left), comparisons
   and ``in`` (left), ``+ -``, ``* / %``, ``^`` (right), unary ``! -``, then the postfix
   ``.name .(e) :verb(args) :(e)(args) [i] [a..b]``.
4. Semantic checks parser.y makes in its actions: assignment targets, scatter targets, ``$``
   only inside an index, unknown builtin function names, unreachable ``except`` arms.

Errors raise ``MooSyntaxError`` with LambdaMOO's texts (``Line 3:  syntax error``).
Nesting deeper than ``MAX_DEPTH`` is a syntax error, never a Python ``RecursionError``.

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
from moo.lang.task_api import FRAME_VARIABLES
from moo.lang.values import TYPE_CONSTANTS
from moo.world.values import ObjRef

MAX_DEPTH = 100  # nested parentheses, prefix operators, statement blocks (parse recursion)
MAX_TREE_DEPTH = 400  # the AST's depth, long left-associative chains (``1 + 1 + ...``) included

# Variables every program has (LambdaMOO's builtin name slots), in their canonical spelling.
BUILTIN_VARIABLES = (*TYPE_CONSTANTS, *FRAME_VARIABLES)

# Builtins the compiler handles itself (they need the frame, not just values).
COMPILER_BUILTINS = frozenset({"pass"})

# Binary operator -> (precedence, right associative)
_BINARY: dict[str, tuple[int, bool]] = {
    "||": (3, False),
    "&&": (3, False),
    "==": (4, False),
    "!=": (4, False),
    "<": (4, False),
    "<=": (4, False),
    ">": (4, False),
    ">=": (4, False),
    "in": (4, False),
    "+": (5, False),
    "-": (5, False),
    "*": (6, False),
    "/": (6, False),
    "%": (6, False),
    "^": (7, True),
}
_ASSIGN = 1
_COND = 2
_UNARY = 8
_POSTFIX = 9
_POSTFIX_TOKENS = frozenset({".", ":", "["})


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
    """Raise ``_Error`` when the AST is deeper than ``MAX_TREE_DEPTH`` (iteratively)."""
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
            raise _Error("Too many levels of nesting", getattr(node, "line", 0))
        stack.extend((getattr(node, name), depth + 1) for name in fields if name != "line")


class _Error(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _Parser:
    def __init__(self, tokens: list[Token], known_builtin: Callable[[str], bool]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.known_builtin = known_builtin
        self.depth = 0
        self.dollars_ok = 0
        self.loops: list[str | bool | None] = []  # names; False is a fork barrier
        self.names: dict[str, str] = {n.lower(): n for n in BUILTIN_VARIABLES}

    # ------------------------------------------------------------ helpers

    def program(self) -> t.Program:
        try:
            body = self.statements(())
            kind, _, line = self.tokens[self.pos]
            if kind != "eof":
                raise _Error("syntax error", line)
            if len(self.tokens) > MAX_TREE_DEPTH:
                _check_tree_depth(body)
            return body
        except _Error as exc:
            raise MooSyntaxError([f"Line {exc.line}:  {exc.message}"]) from None

    def peek(self) -> str:
        return self.tokens[self.pos][0]

    def line(self) -> int:
        return self.tokens[self.pos][2]

    def next(self) -> Token:
        token = self.tokens[self.pos]
        if token[0] != "eof":
            self.pos += 1
        return token

    def expect(self, kind: str) -> Token:
        token = self.tokens[self.pos]
        if token[0] != kind:
            raise _Error("syntax error", token[2])
        self.pos += 1
        return token

    def name(self, word: str) -> str:
        """The canonical spelling of variable ``word`` (its first use)."""
        return self.names.setdefault(word.lower(), word)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Error("Too many levels of nesting", self.line())

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

    def paren_expr(self) -> t.Expr:
        self.expect("(")
        value = self.expr()
        self.expect(")")
        return value

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
                raise _Error("Unreachable EXCEPT clause", self.line())
            if len(arms) >= 255:
                raise _Error("Too many EXCEPT clauses (max. 255)", self.line())
            self.next()
        self.expect("endtry")
        return t.TryExcept(body, tuple(arms), line)

    def codes(self, closer: str) -> tuple[t.Expr, ...] | None:
        if self.peek() == "any":
            self.next()
            return None
        codes = self.arglist(closer)
        if not codes:
            raise _Error("syntax error", self.line())
        return codes

    def check_loop_name(self, name: str | None, kind: str, line: int) -> None:
        if name is None:
            if not self.loops or self.loops[-1] is False:
                raise _Error(f"No enclosing loop for `{kind}' statement", line)
            return
        for entry in reversed(self.loops):
            if entry is False:
                break
            if isinstance(entry, str) and entry.lower() == name.lower():
                return
        raise _Error(f"Invalid loop name in `{kind}' statement: {name}", line)

    # ------------------------------------------------------------ expressions

    def expr(self, min_prec: int = _ASSIGN) -> t.Expr:
        self.enter()
        left = self.prefix()
        tokens = self.tokens
        while True:
            kind, _, line = tokens[self.pos]
            if kind in _POSTFIX_TOKENS:
                left = self.postfix(left)
                continue
            info = _BINARY.get(kind)
            if info is not None:
                prec, right_assoc = info
                if prec < min_prec:
                    break
                self.pos += 1
                right = self.expr(prec if right_assoc else prec + 1)
                left = t.Binary(kind, left, right, line)
                continue
            if kind == "?" and min_prec <= _COND:
                self.pos += 1
                then = self.expr()
                self.expect("|")
                otherwise = self.expr(_COND + 1)
                left = t.Cond(left, then, otherwise, line)
                if self.peek() == "?":  # ? | is non-associative in parser.y
                    raise _Error("syntax error", self.line())
                continue
            if kind == "=" and min_prec <= _ASSIGN:
                self.pos += 1
                target = self.assign_target(left, line)
                left = t.Assign(target, self.expr(_ASSIGN), line)
                continue
            break
        self.depth -= 1
        return left

    def assign_target(self, left: t.Expr, line: int) -> t.Expr:
        if isinstance(left, t.ListExpr):
            if not left.items:
                raise _Error("Empty list in scattering assignment.", line)
            return self.scatter_from_list(left.items, line)
        if isinstance(left, t.Scatter):
            return left
        base = left.base if isinstance(left, t.Range) else left
        while isinstance(base, t.Index):
            base = base.base
        if not isinstance(base, (t.Var, t.Prop)):
            raise _Error("Illegal expression on left side of assignment.", line)
        return left

    def scatter_from_list(self, items: tuple[t.Expr, ...], line: int) -> t.Scatter:
        out: list[t.ScatterItem] = []
        for item in items:
            if isinstance(item, t.Var):
                out.append(t.ScatterItem("required", item.name, None, item.line))
            elif isinstance(item, t.Splice) and isinstance(item.expr, t.Var):
                out.append(t.ScatterItem("rest", item.expr.name, None, item.line))
            elif isinstance(item, t.ScatterItem):
                out.append(item)
            else:
                raise _Error("Scattering assignment targets must be simple variables.", line)
        if sum(1 for i in out if i.kind == "rest") > 1:
            raise _Error("More than one `@' target in scattering assignment.", line)
        if len(out) > 255:
            raise _Error("Too many targets in scattering assignment.", line)
        return t.Scatter(tuple(out), line)

    def prefix(self) -> t.Expr:
        kind, value, line = self.next()
        if kind in ("int", "float", "str", "obj", "err"):
            return t.Literal(value, line)
        if kind == "id":
            if self.peek() == "(":
                name = value.lower()
                if name not in COMPILER_BUILTINS and not self.known_builtin(name):
                    raise _Error(f"Unknown built-in function: {value}", line)
                self.next()
                args = self.arglist(")")
                self.expect(")")
                return t.Call(name, args, line)
            return t.Var(self.name(value), line)
        if kind == "$":
            if self.peek() == "id":
                name = self.next()[1]
                system = t.Literal(ObjRef(0), line)
                if self.peek() == "(":
                    self.next()
                    args = self.arglist(")")
                    self.expect(")")
                    return t.VerbCall(system, t.Literal(name, line), args, line)
                return t.Prop(system, t.Literal(name, line), line)
            if not self.dollars_ok:
                raise _Error("Illegal context for `$' expression.", line)
            return t.Length(line)
        if kind == "-":
            operand = self.expr(_UNARY)
            if isinstance(operand, t.Literal) and type(operand.value) in (int, float):
                value = -operand.value
                if type(value) is int and value == 2**31:
                    value = -(2**31)
                return t.Literal(value, line)
            return t.Unary("-", operand, line)
        if kind == "!":
            return t.Unary("!", self.expr(_UNARY), line)
        if kind == "(":
            inner = self.expr()
            self.expect(")")
            return inner
        if kind == "{":
            return self.list_or_scatter(line)
        if kind == "`":
            inner = self.expr()
            self.expect("!")
            codes = self.codes("=>")
            default = None
            if self.peek() == "=>":
                self.next()
                default = self.expr()
            self.expect("'")
            return t.Catch(inner, codes, default, line)
        raise _Error("syntax error", line)

    def postfix(self, left: t.Expr) -> t.Expr:
        kind, _, line = self.next()
        if kind == ".":
            if self.peek() == "(":
                return t.Prop(left, self.paren_expr(), line)
            name = self.expect("id")[1]
            return t.Prop(left, t.Literal(name, line), line)
        if kind == ":":
            if self.peek() == "(":
                verb = self.paren_expr()
            else:
                verb = t.Literal(self.expect("id")[1], line)
            self.expect("(")
            args = self.arglist(")")
            self.expect(")")
            return t.VerbCall(left, verb, args, line)
        # "["
        self.dollars_ok += 1
        index = self.expr()
        if self.peek() == "..":
            self.next()
            end = self.expr()
            self.expect("]")
            self.dollars_ok -= 1
            return t.Range(left, index, end, line)
        self.expect("]")
        self.dollars_ok -= 1
        return t.Index(left, index, line)

    def arglist(self, closer: str) -> tuple[t.Expr, ...]:
        args: list[t.Expr] = []
        if self.peek() == closer:
            return ()
        while True:
            if self.peek() == "@":
                line = self.next()[2]
                args.append(t.Splice(self.expr(), line))
            else:
                args.append(self.expr())
            if self.peek() != ",":
                return tuple(args)
            self.next()

    def list_or_scatter(self, line: int) -> t.Expr:
        items: list[t.Expr | t.ScatterItem] = []
        scatter = False
        if self.peek() != "}":
            while True:
                kind, _, item_line = self.tokens[self.pos]
                if kind == "?":
                    self.next()
                    name = self.name(self.expect("id")[1])
                    default = None
                    if self.peek() == "=":
                        self.next()
                        default = self.expr()
                    items.append(t.ScatterItem("optional", name, default, item_line))
                    scatter = True
                elif kind == "@":
                    self.next()
                    items.append(t.Splice(self.expr(), item_line))
                else:
                    items.append(self.expr())
                if self.peek() != ",":
                    break
                self.next()
        self.expect("}")
        if scatter:
            if self.peek() != "=":
                raise _Error("syntax error", self.line())
            return self.scatter_from_list(tuple(items), line)  # type: ignore[arg-type]
        return t.ListExpr(tuple(items), line)  # type: ignore[arg-type]

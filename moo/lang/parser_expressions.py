"""Step 3 of the MOO parser (``parser.py``): expressions, by precedence climbing.

``ExpressionParser`` is the base class of the statement parser in ``parser.py``. It holds
the token cursor both share (``peek``, ``next``, ``expect``, the nesting guard ``enter``,
canonical variable names) and reads an expression:

1. ``prefix``: literals, variables, builtin calls (an unknown builtin name is a syntax
   error), ``$name`` / ``$verb(...)``, ``$`` (only inside an index), unary ``! -``
   (``-`` folded into a numeric literal), ``( )``, list or scatter ``{ }``, the catch
   expression (backquote, ``! codes => default``, quote);
2. ``expr``: then, by parser.y's table, lowest first: ``=`` (right), ``? |``
   (non-associative), ``|| &&`` (one level, left), comparisons and ``in`` (left), ``+ -``,
   ``* / %``, ``^`` (right), with the postfix ``.name .(e) :verb(args) :(e)(args) [i]
   [a..b]`` (``postfix``) binding tightest;
3. the checks parser.y makes in its actions: an assignment's target (``assign_target``) and
   a scattering assignment's targets (``scatter_from_list``).

Errors raise ``ParseError`` with LambdaMOO's text and line; nesting deeper than
``MAX_DEPTH`` is one, never a Python ``RecursionError``.
"""

from __future__ import annotations

from collections.abc import Callable

from moo.lang import tree as t
from moo.lang.lexer import Token
from moo.lang.task_api import FRAME_VARIABLES
from moo.lang.values import TYPE_CONSTANTS
from moo.world.values import ObjRef

MAX_DEPTH = 100  # nested parentheses, prefix operators, statement blocks (parse recursion)

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


class ParseError(Exception):
    """A syntax error at ``line``; ``parse`` turns it into ``MooSyntaxError``."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class ExpressionParser:
    """The token cursor and the expression grammar; ``parser._Parser`` adds statements."""

    def __init__(self, tokens: list[Token], known_builtin: Callable[[str], bool]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.known_builtin = known_builtin
        self.depth = 0
        self.dollars_ok = 0
        self.names: dict[str, str] = {n.lower(): n for n in BUILTIN_VARIABLES}

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
            raise ParseError("syntax error", token[2])
        self.pos += 1
        return token

    def name(self, word: str) -> str:
        """The canonical spelling of variable ``word`` (its first use)."""
        return self.names.setdefault(word.lower(), word)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError("Too many levels of nesting", self.line())

    def paren_expr(self) -> t.Expr:
        self.expect("(")
        value = self.expr()
        self.expect(")")
        return value

    def codes(self, closer: str) -> tuple[t.Expr, ...] | None:
        if self.peek() == "any":
            self.next()
            return None
        codes = self.arglist(closer)
        if not codes:
            raise ParseError("syntax error", self.line())
        return codes

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
                    raise ParseError("syntax error", self.line())
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
                raise ParseError("Empty list in scattering assignment.", line)
            return self.scatter_from_list(left.items, line)
        if isinstance(left, t.Scatter):
            return left
        base = left.base if isinstance(left, t.Range) else left
        while isinstance(base, t.Index):
            base = base.base
        if not isinstance(base, (t.Var, t.Prop)):
            raise ParseError("Illegal expression on left side of assignment.", line)
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
                raise ParseError("Scattering assignment targets must be simple variables.", line)
        if sum(1 for i in out if i.kind == "rest") > 1:
            raise ParseError("More than one `@' target in scattering assignment.", line)
        if len(out) > 255:
            raise ParseError("Too many targets in scattering assignment.", line)
        return t.Scatter(tuple(out), line)

    def prefix(self) -> t.Expr:
        kind, value, line = self.next()
        if kind in ("int", "float", "str", "obj", "err"):
            return t.Literal(value, line)
        if kind == "id":
            if self.peek() == "(":
                name = value.lower()
                if name not in COMPILER_BUILTINS and not self.known_builtin(name):
                    raise ParseError(f"Unknown built-in function: {value}", line)
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
                raise ParseError("Illegal context for `$' expression.", line)
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
        raise ParseError("syntax error", line)

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
                raise ParseError("syntax error", self.line())
            return self.scatter_from_list(tuple(items), line)  # type: ignore[arg-type]
        return t.ListExpr(tuple(items), line)  # type: ignore[arg-type]

"""AST -> source lines in LambdaMOO's canonical layout (unparse.c): what ``@list`` shows.

1. Statements one per line, bodies indented by 2 spaces, ``endif``/``endfor``/... closing;
   empty statements vanish and comments are the string statements they always were.
2. Expressions with the fewest parentheses the precedence table allows (unparse.c's
   ``bracket_lt``/``bracket_le``): ``a + (b + c)`` keeps its parentheses, ``(a + b) + c``
   loses them; ``#0.name`` prints as ``$name``; ``obj.("not an identifier")`` keeps its form.
3. Literals as ``toliteral`` writes them.

One difference from unparse.c, to keep ``parse(unparse(tree)) == tree``: a negative number
that is the base of ``.``, ``:`` or ``[`` is parenthesized (``(-5)[1]``), since ``-5[1]``
reads back as ``-(5[1])``.
"""

from __future__ import annotations

from moo.lang import tree as t
from moo.lang.lexer import KEYWORDS
from moo.lang.values import toliteral
from moo.world.values import Err, ObjRef

_BINARY_PREC = {
    "||": 3,
    "&&": 3,
    "==": 4,
    "!=": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "in": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
    "^": 7,
}
_POSTFIX_PREC = 9


def unparse(program: t.Program, indent: bool = True) -> list[str]:
    """The lines of ``program`` (``indent=False``: no leading spaces, as ``verb_code(..., 0)``)."""
    lines: list[str] = []
    _Unparser(lines, indent).block(program, 0)
    return lines


def unparse_expr(expr: t.Expr) -> str:
    return _expr(expr)


def _prec(e: t.Expr) -> int:
    if isinstance(e, t.Assign):
        return 1
    if isinstance(e, t.Cond):
        return 2
    if isinstance(e, t.Binary):
        return _BINARY_PREC[e.op]
    if isinstance(e, t.Unary):
        return 8
    if isinstance(e, (t.Prop, t.VerbCall, t.Index, t.Range)):
        return 9
    if isinstance(e, t.Literal) and type(e.value) in (int, float) and e.value < 0:
        return 8  # reads back as unary minus applied to a literal
    return 10


def _lt(parent: int, child: t.Expr) -> str:
    text = _expr(child)
    return f"({text})" if parent > _prec(child) else text


def _le(parent: int, child: t.Expr) -> str:
    text = _expr(child)
    return f"({text})" if parent >= _prec(child) else text


def ok_identifier(name: str) -> bool:
    if not name or not (name[0].isalpha() or name[0] == "_") or not name.isascii():
        return False
    if not all(c.isalnum() or c == "_" for c in name):
        return False
    return name.lower() not in KEYWORDS and Err.named(name) is None


def _name_expr(e: t.Expr) -> str:
    if isinstance(e, t.Literal) and type(e.value) is str and ok_identifier(e.value):
        return str(e.value)
    return f"({_expr(e)})"


def _is_system_name(obj: t.Expr, name: t.Expr) -> bool:
    return (
        isinstance(obj, t.Literal)
        and type(obj.value) is ObjRef
        and obj.value.id == 0
        and isinstance(name, t.Literal)
        and type(name.value) is str
        and ok_identifier(name.value)
    )


def _args(args: tuple[t.Expr, ...]) -> str:
    return ", ".join(_expr(a) for a in args)


def _expr(e: t.Expr) -> str:
    if isinstance(e, t.Literal):
        return toliteral(e.value)
    if isinstance(e, t.Var):
        return e.name
    if isinstance(e, t.Binary):
        prec = _BINARY_PREC[e.op]
        op = f" {e.op} "
        if e.op == "^":
            return _le(prec, e.left) + op + _lt(prec, e.right)
        return _lt(prec, e.left) + op + _le(prec, e.right)
    if isinstance(e, t.Prop):
        if _is_system_name(e.obj, e.name):
            return f"${e.name.value}"  # type: ignore[union-attr]
        base = _lt(_POSTFIX_PREC, e.obj)
        if isinstance(e.obj, t.Literal) and type(e.obj.value) is int and e.obj.value >= 0:
            base += " "  # "5 .x", not the float "5."
        return f"{base}.{_name_expr(e.name)}"
    if isinstance(e, t.VerbCall):
        if _is_system_name(e.obj, e.verb):
            head = f"${e.verb.value}"  # type: ignore[union-attr]
        else:
            head = f"{_lt(_POSTFIX_PREC, e.obj)}:{_name_expr(e.verb)}"
        return f"{head}({_args(e.args)})"
    if isinstance(e, t.Index):
        return f"{_lt(_POSTFIX_PREC, e.base)}[{_expr(e.index)}]"
    if isinstance(e, t.Range):
        return f"{_lt(_POSTFIX_PREC, e.base)}[{_expr(e.start)}..{_expr(e.end)}]"
    if isinstance(e, t.Call):
        return f"{e.name}({_args(e.args)})"
    if isinstance(e, t.Unary):
        return e.op + _lt(8, e.operand)
    if isinstance(e, t.Cond):
        return f"{_le(2, e.test)} ? {_expr(e.then)} | {_le(2, e.otherwise)}"
    if isinstance(e, t.Assign):
        return f"{_expr(e.target)} = {_expr(e.value)}"
    if isinstance(e, t.ListExpr):
        return "{" + _args(e.items) + "}"
    if isinstance(e, t.Splice):
        return "@" + _expr(e.expr)
    if isinstance(e, t.Scatter):
        parts = []
        for item in e.items:
            if item.kind == "rest":
                parts.append("@" + item.name)
            elif item.kind == "required":
                parts.append(item.name)
            elif item.default is None:
                parts.append("?" + item.name)
            else:
                parts.append(f"?{item.name} = {_expr(item.default)}")
        return "{" + ", ".join(parts) + "}"
    if isinstance(e, t.Catch):
        codes = "ANY" if e.codes is None else _args(e.codes)
        default = "" if e.default is None else f" => {_expr(e.default)}"
        return f"`{_expr(e.expr)} ! {codes}{default}'"
    if isinstance(e, t.Length):
        return "$"
    raise TypeError(f"not an expression: {e!r}")


class _Unparser:
    def __init__(self, lines: list[str], indent: bool) -> None:
        self.lines = lines
        self.indent = indent

    def emit(self, depth: int, text: str) -> None:
        self.lines.append((" " * depth if self.indent else "") + text)

    def block(self, body: tuple[t.Stmt, ...], depth: int) -> None:
        for stmt in body:
            self.stmt(stmt, depth)

    def stmt(self, s: t.Stmt, d: int) -> None:
        emit = self.emit
        if isinstance(s, t.ExprStmt):
            emit(d, _expr(s.expr) + ";")
        elif isinstance(s, t.If):
            for i, (cond, body) in enumerate(s.arms):
                emit(d, f"{'if' if i == 0 else 'elseif'} ({_expr(cond)})")
                self.block(body, d + 2)
            if s.otherwise is not None:
                emit(d, "else")
                self.block(s.otherwise, d + 2)
            emit(d, "endif")
        elif isinstance(s, t.ForList):
            emit(d, f"for {s.var} in ({_expr(s.expr)})")
            self.block(s.body, d + 2)
            emit(d, "endfor")
        elif isinstance(s, t.ForRange):
            emit(d, f"for {s.var} in [{_expr(s.start)}..{_expr(s.end)}]")
            self.block(s.body, d + 2)
            emit(d, "endfor")
        elif isinstance(s, t.While):
            name = f"{s.name} " if s.name is not None else ""
            emit(d, f"while {name}({_expr(s.cond)})")
            self.block(s.body, d + 2)
            emit(d, "endwhile")
        elif isinstance(s, t.Fork):
            name = f"{s.name} " if s.name is not None else ""
            emit(d, f"fork {name}({_expr(s.delay)})")
            self.block(s.body, d + 2)
            emit(d, "endfork")
        elif isinstance(s, (t.Break, t.Continue)):
            word = "break" if isinstance(s, t.Break) else "continue"
            emit(d, f"{word};" if s.name is None else f"{word} {s.name};")
        elif isinstance(s, t.Return):
            emit(d, "return;" if s.expr is None else f"return {_expr(s.expr)};")
        elif isinstance(s, t.TryExcept):
            emit(d, "try")
            self.block(s.body, d + 2)
            for arm in s.arms:
                var = f"{arm.var} " if arm.var is not None else ""
                codes = "ANY" if arm.codes is None else _args(arm.codes)
                emit(d, f"except {var}({codes})")
                self.block(arm.body, d + 2)
            emit(d, "endtry")
        elif isinstance(s, t.TryFinally):
            emit(d, "try")
            self.block(s.body, d + 2)
            emit(d, "finally")
            self.block(s.handler, d + 2)
            emit(d, "endtry")
        else:
            raise TypeError(f"not a statement: {s!r}")

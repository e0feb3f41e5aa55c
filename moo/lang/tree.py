"""The MOO AST: what ``parser`` builds and ``unparse``, ``codegen`` (and a textdump importer) read.

Every node is a frozen dataclass with ``slots=True`` and a ``line`` (the source line it starts
on). ``line`` takes no part in ``==``, so two parses of the same program laid out differently
compare equal: that is how ``parse(unparse(parse(src))) == parse(src)`` is tested.

Shapes follow LambdaMOO's ``ast.h``: ``obj.name`` is ``Prop(obj, Literal("name"))``,
``$name`` is ``Prop(Literal(#0), Literal("name"))``, ``$name(args)`` is a ``VerbCall`` on
``#0``, ``-5`` is folded into ``Literal(-5)``. Variable names keep the spelling of their first
use in the program (as LambdaMOO's name table does); compare them lowercased.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any  # int, float, str, ObjRef, Err
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Var:
    name: str
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Prop:
    obj: Expr
    name: Expr
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class VerbCall:
    obj: Expr
    verb: Expr
    args: tuple[Expr, ...]  # items may be Splice
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Call:
    """A builtin function call; ``name`` is lowercased."""

    name: str
    args: tuple[Expr, ...]
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Index:
    base: Expr
    index: Expr
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Range:
    base: Expr
    start: Expr
    end: Expr
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Length:
    """``$`` inside an index: the length of the innermost value being indexed."""

    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # + - * / % ^ == != < <= > >= in && ||
    left: Expr
    right: Expr
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # - !
    operand: Expr
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Cond:
    test: Expr
    then: Expr
    otherwise: Expr
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ListExpr:
    items: tuple[Expr, ...]  # items may be Splice
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Splice:
    """``@expr`` in a list, an argument list or a codes list."""

    expr: Expr
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Catch:
    """`` `expr ! codes => default' ``; ``codes`` None means ANY."""

    expr: Expr
    codes: tuple[Expr, ...] | None
    default: Expr | None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ScatterItem:
    kind: str  # "required" | "optional" | "rest"
    name: str
    default: Expr | None = None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Scatter:
    """The target of ``{a, ?b = 1, @c} = expr``."""

    items: tuple[ScatterItem, ...]
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Assign:
    target: Expr  # Var, Prop, Index/Range over those, or Scatter
    value: Expr
    line: int = field(default=0, compare=False)


Expr: TypeAlias = (
    Literal
    | Var
    | Prop
    | VerbCall
    | Call
    | Index
    | Range
    | Length
    | Binary
    | Unary
    | Cond
    | ListExpr
    | Splice
    | Catch
    | Scatter
    | Assign
)

# ---------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class ExprStmt:
    expr: Expr
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class If:
    arms: tuple[tuple[Expr, tuple[Stmt, ...]], ...]  # (condition, body): if, elseif...
    otherwise: tuple[Stmt, ...] | None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ForList:
    var: str
    expr: Expr
    body: tuple[Stmt, ...]
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ForRange:
    var: str
    start: Expr
    end: Expr
    body: tuple[Stmt, ...]
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class While:
    name: str | None
    cond: Expr
    body: tuple[Stmt, ...]
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Fork:
    name: str | None
    delay: Expr
    body: tuple[Stmt, ...]
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Break:
    name: str | None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Continue:
    name: str | None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Return:
    expr: Expr | None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ExceptArm:
    var: str | None
    codes: tuple[Expr, ...] | None  # None: ANY
    body: tuple[Stmt, ...]
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class TryExcept:
    body: tuple[Stmt, ...]
    arms: tuple[ExceptArm, ...]
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class TryFinally:
    body: tuple[Stmt, ...]
    handler: tuple[Stmt, ...]
    line: int = field(default=0, compare=False)


Stmt: TypeAlias = (
    ExprStmt
    | If
    | ForList
    | ForRange
    | While
    | Fork
    | Break
    | Continue
    | Return
    | TryExcept
    | TryFinally
)

Program: TypeAlias = tuple[Stmt, ...]

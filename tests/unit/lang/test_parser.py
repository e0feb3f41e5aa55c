"""Lexer, parser and unparse: LambdaMOO's grammar, error messages and ``@list`` layout."""

from __future__ import annotations

import pytest

from moo.lang import tree as t
from moo.lang.errors import MooSyntaxError
from moo.lang.lexer import tokenize
from moo.lang.parser import parse
from moo.lang.parser_expressions import MAX_DEPTH
from moo.lang.unparse import unparse
from moo.world.values import Err, ObjRef
from tests.unit.lang.test_eval_expressions import CASES
from tests.unit.lang.test_eval_statements import PROGRAMS, VERB_PROGRAMS

# ---------------------------------------------------------------- lexer


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("1..2", ["int", "..", "int"]),
        ("1.5", ["float"]),
        ("1.", ["float"]),
        (".5", ["float"]),
        ("1e5", ["float"]),
        ("1.e5", ["float"]),
        ("x.y", ["id", ".", "id"]),
        ("#12 #-3", ["obj", "obj"]),
        ("IF If if", ["if", "if", "if"]),
        ("ANY any", ["any", "any"]),
        ("E_TYPE e_div", ["err", "err"]),
        ('"a\\"b"', ["str"]),
        ("== != <= >= && || => ..", ["==", "!=", "<=", ">=", "&&", "||", "=>", ".."]),
        ("a /* comment */ b", ["id", "id"]),
        ("`x ! ANY'", ["`", "id", "!", "any", "'"]),
        ("$foo", ["$", "id"]),
    ],
)
def test_tokens(text: str, kinds: list[str]) -> None:
    assert [tok[0] for tok in tokenize(text)][:-1] == kinds


def test_token_values_and_lines() -> None:
    tokens = tokenize('x\n  = #-5;\n"a\\\\b"')
    assert tokens[2][1] == ObjRef(-5)
    assert tokens[2][2] == 2
    assert tokens[4][1] == "a\\b"
    assert tokens[4][2] == 3
    assert tokenize("E_Perm")[0][1] is Err.E_PERM


# ---------------------------------------------------------------- parser


def test_shapes() -> None:
    [stmt] = parse("$foo.bar = -5;")
    assert stmt == t.ExprStmt(
        t.Assign(
            t.Prop(t.Prop(t.Literal(ObjRef(0)), t.Literal("foo")), t.Literal("bar")), t.Literal(-5)
        )
    )
    [stmt] = parse("$foo(1, @x);")
    assert stmt == t.ExprStmt(
        t.VerbCall(t.Literal(ObjRef(0)), t.Literal("foo"), (t.Literal(1), t.Splice(t.Var("x"))))
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x = ;", "Line 1:  syntax error"),
        ("x = 1\ny = 2;", "Line 2:  syntax error"),
        ("if (1) x = 1;", "syntax error"),
        ("x = $;", "Line 1:  Illegal context for `$' expression."),
        ("1 = 2;", "Line 1:  Illegal expression on left side of assignment."),
        ("x + 1 = 2;", "Illegal expression on left side of assignment."),
        ("length(x) = 2;", "Illegal expression on left side of assignment."),
        ("{} = {1};", "Empty list in scattering assignment."),
        ("{a, b + 1} = {1, 2};", "Scattering assignment targets must be simple variables."),
        ("{@a, @b} = {};", "More than one `@' target in scattering assignment."),
        ("break;", "Line 1:  No enclosing loop for `break' statement"),
        ("continue;", "No enclosing loop for `continue' statement"),
        ("while (1) break foo; endwhile", "Invalid loop name in `break' statement: foo"),
        ("for x in ({}) continue y; endfor", "Invalid loop name in `continue' statement: y"),
        ("nosuchfunction(1);", "Line 1:  Unknown built-in function: nosuchfunction"),
        ('x = "abc;', "Line 1:  Missing quote"),
        ("x = #;", "Malformed object number"),
        ("x = 1e;", "Malformed floating-point literal"),
        ("x = 1e999;", "Floating-point literal out of range"),
        ("/* open", "End of program while in a comment"),
        ("try x = 1; except (ANY) y = 1; except (E_DIV) endtry", "Unreachable EXCEPT clause"),
        ("try endtry", "syntax error"),
        ("x = 1 ? 2 | 3 ? 4 | 5;", "syntax error"),
        ("x.if = 1;", "syntax error"),
        ("x = a & b;", "syntax error"),
        ("x = {a, ?b};", "syntax error"),
        ("return 1 2;", "syntax error"),
        ("x = é;", "syntax error"),
    ],
)
def test_syntax_errors(source: str, message: str) -> None:
    with pytest.raises(MooSyntaxError) as caught:
        parse(source)
    assert any(message in error for error in caught.value.errors), caught.value.errors


def test_deep_nesting_is_a_syntax_error_not_a_recursion_error() -> None:
    for depth in (MAX_DEPTH + 5, 5000):
        with pytest.raises(MooSyntaxError):
            parse("return " + "(" * depth + "1" + ")" * depth + ";")
        with pytest.raises(MooSyntaxError):
            parse("if (1) " * depth + "endif " * depth)
        with pytest.raises(MooSyntaxError):
            parse("return " + "-" * depth + "1;")
        with pytest.raises(MooSyntaxError):
            parse("return " + "{" * depth + "}" * depth + ";")


def test_moderate_nesting_compiles() -> None:
    from tests.unit.lang.memory_task import evaluate

    depth = 40
    assert evaluate("return " + "(" * depth + "1" + ")" * depth + ";") == 1
    assert evaluate("return " + "{" * depth + "}" * depth + ";") is not None
    assert evaluate("x = 0; " + "if (1) " * depth + "x = 7; " + "endif " * depth + "return x;") == 7
    assert evaluate("return " + " + ".join(["1"] * 350) + ";") == 350
    assert evaluate("x = 2; return " + " * ".join(["x"] * 33) + ";") == 0  # 2^33 wraps to 0
    assert evaluate("x = {1}; return " + " + ".join(["x[$]"] * 300) + ";") == 300
    nested = "x = {1}; return " + "x[" * 30 + "1" + "]" * 30 + ";"
    assert evaluate(nested) == 1
    catches = "return " + "`" * 30 + "1/0" + " ! ANY => 1'" * 30 + ";"
    assert evaluate(catches) == 1
    mixed = "x = {5, 6}; return " + " + ".join(f"`x[{i % 2 + 1}] ! ANY'" for i in range(200)) + ";"
    assert evaluate(mixed) == 1100
    with pytest.raises(MooSyntaxError, match="Too many levels of nesting"):
        parse("return " + " + ".join(["1"] * 1000) + ";")


def test_variable_names_keep_their_first_spelling() -> None:
    assert unparse(parse("Foo = 1; return FOO + foo;")) == ["Foo = 1;", "return Foo + Foo;"]
    assert unparse(parse("return THIS;")) == ["return this;"]


def test_precedence_shapes() -> None:
    def expr(src: str) -> t.Expr:
        [stmt] = parse(f"return {src};")
        assert isinstance(stmt, t.Return) and stmt.expr is not None
        return stmt.expr

    assert expr("a || b && c") == expr("(a || b) && c")
    assert expr("a == b < c") == expr("(a == b) < c")
    assert expr("-a ^ b") == expr("(-a) ^ b")
    assert expr("a ^ b ^ c") == expr("a ^ (b ^ c)")
    assert expr("!a.b") == expr("!(a.b)")
    assert expr("a = b = c") == expr("a = (b = c)")
    assert expr("a ? b | c || d") == expr("a ? b | (c || d)")
    assert expr("a ? b = 1 | c") == t.Cond(
        t.Var("a"), t.Assign(t.Var("b"), t.Literal(1)), t.Var("c")
    )
    assert expr("x in y + 1") == expr("x in (y + 1)")
    assert expr("-5") == t.Literal(-5)
    assert expr("- 5 .x") == t.Unary("-", t.Prop(t.Literal(5), t.Literal("x")))


# ---------------------------------------------------------------- unparse


@pytest.mark.parametrize(
    ("source", "lines"),
    [
        ("x=1;", ["x = 1;"]),
        (
            "if(x)y=1;elseif(z)y=2;else y=3;endif",
            ["if (x)", "  y = 1;", "elseif (z)", "  y = 2;", "else", "  y = 3;", "endif"],
        ),
        (
            "for x in(l)for i in[1..2]endfor endfor",
            ["for x in (l)", "  for i in [1..2]", "  endfor", "endfor"],
        ),
        ("while(1)break;endwhile", ["while (1)", "  break;", "endwhile"]),
        ("while w(1)continue w;endwhile", ["while w (1)", "  continue w;", "endwhile"]),
        ("fork(0)return;endfork", ["fork (0)", "  return;", "endfork"]),
        ("fork t(5)endfork", ["fork t (5)", "endfork"]),
        (
            "try x=1;except e(E_DIV,E_TYPE)y=1;except(ANY)endtry",
            ["try", "  x = 1;", "except e (E_DIV, E_TYPE)", "  y = 1;", "except (ANY)", "endtry"],
        ),
        ("try x=1;finally y=2;endtry", ["try", "  x = 1;", "finally", "  y = 2;", "endtry"]),
        ('"comment";;', ['"comment";']),
        ("return (1+2)*3;", ["return (1 + 2) * 3;"]),
        ("return 1+(2+3);", ["return 1 + (2 + 3);"]),
        ("return (1+2)+3;", ["return 1 + 2 + 3;"]),
        ("return (2^3)^4;", ["return (2 ^ 3) ^ 4;"]),
        ("return 2^(3^4);", ["return 2 ^ 3 ^ 4;"]),
        ("return -(a+b);", ["return -(a + b);"]),
        ("return !(a&&b);", ["return !(a && b);"]),
        ("return a?b|(c?d|e);", ["return a ? b | (c ? d | e);"]),
        ("return (a?b|c)?d|e;", ["return (a ? b | c) ? d | e;"]),
        ("return a&&b||c;", ["return a && b || c;"]),
        ("return a&&(b||c);", ["return a && (b || c);"]),
        ("return #0.foo;", ["return $foo;"]),
        ("return #0:foo(1);", ["return $foo(1);"]),
        ('return x.("a b");', ['return x.("a b");']),
        ('return x.("ok");', ["return x.ok;"]),
        ('return x:("if")();', ['return x:("if")();']),
        ("return 5 .x;", ["return 5 .x;"]),
        ("return (-5)[1];", ["return (-5)[1];"]),
        ("return l[$][1..$];", ["return l[$][1..$];"]),
        ('return {1, @x, "a\\"b"};', ['return {1, @x, "a\\"b"};']),
        ("{a,?b=1,@c}=x;", ["{a, ?b = 1, @c} = x;"]),
        ("return `x!ANY';", ["return `x ! ANY';"]),
        ("return `x!E_DIV,E_TYPE=>0';", ["return `x ! E_DIV, E_TYPE => 0';"]),
        ("return 1.0;", ["return 1.0;"]),
        ("return (x=1)+1;", ["return (x = 1) + 1;"]),
        ("return length(x);", ["return length(x);"]),
        ("return LENGTH(x);", ["return length(x);"]),
        ("return a[1]:b(2).c;", ["return a[1]:b(2).c;"]),
        ("return (a+b).c;", ["return (a + b).c;"]),
        ("return 2-(-5);", ["return 2 - -5;"]),
    ],
)
def test_unparse_layout(source: str, lines: list[str]) -> None:
    assert unparse(parse(source)) == lines


def test_unparse_without_indent() -> None:
    assert unparse(parse("if (1) x = 1; endif"), indent=False) == ["if (1)", "x = 1;", "endif"]


def _corpus() -> list[str]:
    sources = [f"return {expr};" for expr, expected in CASES if expected != "syntax"]
    sources += [src for src, expected in PROGRAMS if expected != "syntax"]
    sources += [src for src, _ in VERB_PROGRAMS]
    sources += [
        "x = a ? b | c; y = (a ? b | c) ? d | e; z = a ? (b ? c | d) | e;",
        "x = -y; x = - -y; x = -(-5); x = !!y; x = -y.z; x = (-y).z;",
        "x = {a, b}[1]; {x, y} = {y, x}; x[1][2] = y[3..4] = z;",
        "x = a.b.c:d(e.f[g])[h..i]; a.(b) = c; a:(b)(c);",
        "x = `a.b ! E_PROPNF, E_PERM => `c ! ANY''; x = `(y = 1) ! ANY';",
        "while (1) while w (x = 1) break w; endwhile endwhile",
        "x = 1.5e-10 + 1e20 + 123456789.0 + 0.1;",
        'x = "\\\\" + "\\"" + "/* not a comment */";',
        "x = a in b in c; x = (a = b) in c; x = a == (b == c);",
        "x = 1 - (2 - 3) - 4; x = 1 / (2 * 3); x = 1 * 2 / 3 % 4;",
        "x = 2 ^ -1; x = (-2) ^ 2; x = -2 ^ 2; x = -a ^ 2; x = (a + 1) ^ (b + 1);",
        "x = a && (b = c); x = (a || b) ? c | d; x = !a == b; x = !(a == b);",
        "x = #-1.name; x = $a.b; x = $a:b(); x = $a[1];",
    ]
    return sources


@pytest.mark.parametrize("source", _corpus())
def test_unparse_round_trip(source: str) -> None:
    first = parse(source)
    lines = unparse(first)
    again = parse(lines)
    assert again == first, (lines, first, again)
    assert unparse(again) == lines

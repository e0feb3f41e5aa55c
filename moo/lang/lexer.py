"""Source text -> tokens, by LambdaMOO 1.8's rules (``yylex`` in parser.y).

1. Whitespace and ``/* ... */`` comments are skipped (newlines counted for line numbers).
2. ``#12`` / ``#-1`` are object literals; ``12``, ``1.5``, ``1.``, ``.5``, ``1e5`` numbers (an
   int never swallows the ``..`` of a range: ``1..2`` is ``1``, ``..``, ``2``).
3. Words are identifiers unless they are keywords; keywords and error names (``E_TYPE``) are
   matched without regard to case, as LambdaMOO does.
4. ``"..."`` strings: a backslash takes the next character literally (``\\"``, ``\\\\``).
5. Two-character operators (``==  !=  <=  >=  &&  ||  ..  =>``), then single characters.

A token is a tuple ``(kind, value, line)``: ``kind`` is ``"int" "float" "str" "obj" "err"
"id"``, a keyword in lower case (``"if"``, ``"any"``), the operator text, or ``"eof"``.
Ints are 32-bit, wrapped as the C server's ``int`` arithmetic wraps.
"""

from __future__ import annotations

import re
from typing import Any

from moo.world.values import Err, ObjRef

Token = tuple[str, Any, int]

KEYWORDS = frozenset(
    {
        "if",
        "else",
        "elseif",
        "endif",
        "for",
        "in",
        "endfor",
        "fork",
        "endfork",
        "return",
        "while",
        "endwhile",
        "try",
        "except",
        "finally",
        "endtry",
        "any",
        "break",
        "continue",
    }
)

_SPACE = re.compile(r"[ \t\r\f\v]+")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(
    r"([0-9]+)(\.[0-9]+|\.(?![.0-9]))?([eE][+-]?[0-9]+)?|\.[0-9]+([eE][+-]?[0-9]+)?"
)
_EXPONENT_START = re.compile(r"[0-9]*\.?[0-9]*[eE]")
_STRING = re.compile(r'"((?:[^"\\\n]|\\[^\n])*)"')
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_DIGITS = frozenset("0123456789")
_TWO = frozenset({"==", "!=", "<=", ">=", "&&", "||", "..", "=>"})


class LexError(Exception):
    """A malformed token; the parser reports it as ``Line N:  message``."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def wrap32(value: int) -> int:
    """``value`` as a C ``int``: two's-complement wrap to 32 bits."""
    return ((value + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def tokenize(text: str) -> list[Token]:
    """All tokens of ``text`` (lines joined by ``\\n``), ending with an ``eof`` token."""
    tokens: list[Token] = []
    append = tokens.append
    pos = 0
    line = 1
    end = len(text)
    while pos < end:
        c = text[pos]
        if c == "\n":
            line += 1
            pos += 1
            continue
        if c in " \t\r\f\v":
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
            continue
        if c.isascii() and (c.isalpha() or c == "_"):
            m = _WORD.match(text, pos)
            assert m is not None
            word = m.group()
            pos = m.end()
            lower = word.lower()
            if lower in KEYWORDS:
                append((lower, word, line))
            elif (error := Err.named(word)) is not None:
                append(("err", error, line))
            else:
                append(("id", word, line))
            continue
        if c in _DIGITS or (c == "." and pos + 1 < end and text[pos + 1] in _DIGITS):
            m = _NUMBER.match(text, pos)
            assert m is not None
            literal = m.group()
            after = m.end()
            if (
                after < end
                and text[after] in "eE"
                and _EXPONENT_START.fullmatch(text[pos : after + 1])
            ):
                raise LexError("Malformed floating-point literal", line)
            pos = after
            if any(ch in literal for ch in ".eE"):
                value = float(literal)
                if value in (float("inf"), float("-inf")):
                    raise LexError("Floating-point literal out of range", line)
                append(("float", value, line))
            else:
                append(("int", wrap32(int(literal)), line))
            continue
        if c == '"':
            m = _STRING.match(text, pos)
            if m is None:
                raise LexError("Missing quote", line)
            append(("str", _ESCAPE.sub(r"\1", m.group(1)), line))
            pos = m.end()
            continue
        if c == "#":
            j = pos + 1
            negative = j < end and text[j] == "-"
            if negative:
                j += 1
            k = j
            while k < end and text[k] in _DIGITS:
                k += 1
            if k == j:
                raise LexError("Malformed object number", line)
            number = wrap32(int(text[j:k]))
            append(("obj", ObjRef(-number if negative else number), line))
            pos = k
            continue
        if c == "/" and text.startswith("/*", pos):
            close = text.find("*/", pos + 2)
            if close < 0:
                raise LexError("End of program while in a comment", line + text.count("\n", pos))
            line += text.count("\n", pos, close)
            pos = close + 2
            continue
        two = text[pos : pos + 2]
        if two in _TWO:
            append((two, two, line))
            pos += 2
            continue
        append((c, c, line))
        pos += 1
    append(("eof", None, line))
    return tokens

"""MOO value semantics that differ from Python's: type codes, truth, equality, order, text.

- Truth: non-zero numbers, non-empty strings and lists are true; objects and errors never.
- Equality: values of different types are never equal (``1 == 1.0`` is false); strings compare
  without regard to case (``"abc" == "ABC"``), lists element by element.
- Order (``<`` ...): both sides ints, floats, strings (case-insensitively), objects or errors;
  anything else is ``E_TYPE``.
- ``tostr`` and ``toliteral`` write values as LambdaMOO 1.8 does (floats with 15 significant
  digits and always a ``.`` or exponent; ``tostr`` of a list is ``{list}``).
"""

from __future__ import annotations

import math
from typing import Any

from moo.lang.errors import MooRaise
from moo.world.values import Err, ObjRef

# typeof() codes, as LambdaMOO numbers them (the constants INT, NUM, OBJ, STR, ERR, LIST, FLOAT).
TYPE_INT = 0
TYPE_OBJ = 1
TYPE_STR = 2
TYPE_ERR = 3
TYPE_LIST = 4
TYPE_FLOAT = 9
TYPE_MAP = 10  # ToastStunt's code: only for map values already in a world's properties

TYPE_CONSTANTS: dict[str, int] = {
    "INT": TYPE_INT,
    "NUM": TYPE_INT,
    "OBJ": TYPE_OBJ,
    "STR": TYPE_STR,
    "ERR": TYPE_ERR,
    "LIST": TYPE_LIST,
    "FLOAT": TYPE_FLOAT,
}

_TYPE_CODES: dict[type, int] = {
    int: TYPE_INT,
    ObjRef: TYPE_OBJ,
    str: TYPE_STR,
    Err: TYPE_ERR,
    list: TYPE_LIST,
    float: TYPE_FLOAT,
    dict: TYPE_MAP,
}

_ORDERED = (int, float, str, ObjRef, Err)


def type_code(value: Any) -> int:
    """``typeof(value)``."""
    return _TYPE_CODES[value.__class__]


def is_true(value: Any) -> bool:
    """MOO truth: ``if (x)``, ``&&``, ``||``, ``!``, ``? |``."""
    cls = value.__class__
    if cls is int or cls is str or cls is list or cls is float:
        return bool(value)
    return False


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: str) -> str:
    """``text`` with A-Z made lower case and nothing else changed, as LambdaMOO compares
    strings (``str.lower`` would also fold "É" to "é" and the Kelvin sign to "k")."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def equal(a: Any, b: Any) -> bool:
    """``a == b`` with MOO's rules (no type mixing, strings without case)."""
    cls = a.__class__
    if cls is not b.__class__:
        return False
    if cls is str:
        return a is b or fold(a) == fold(b)
    if cls is list:
        if a is b:  # the same list: also keeps a list that holds itself often cheap
            return True
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if cls is dict:
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _order_key(value: Any) -> Any:
    cls = value.__class__
    if cls is str:
        return fold(value)
    if cls is ObjRef:
        return value.id
    if cls is Err:
        return value.value
    return value


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1 for ``a`` against ``b``; ``E_TYPE`` unless both are one ordered type."""
    cls = a.__class__
    if cls is not b.__class__ or cls not in _ORDERED:
        raise MooRaise(Err.E_TYPE)
    x, y = _order_key(a), _order_key(b)
    return -1 if x < y else (1 if x > y else 0)


def format_float(value: float) -> str:
    """LambdaMOO's float text: ``%.15g``, with ``.0`` added when it would read as an int."""
    if math.isinf(value):
        return "1e999" if value > 0 else "-1e999"  # reads back as infinity, as in literals.py
    text = f"{value:.15g}"
    if "." not in text and "e" not in text and "n" not in text:
        text += ".0"
    return text


def tostr(value: Any) -> str:
    """``tostr(value)``: the text a value reads as, not a literal (``{list}`` for lists)."""
    cls = value.__class__
    if cls is str:
        return str(value)
    if cls is int:
        return str(value)
    if cls is ObjRef:
        return f"#{value.id}"
    if cls is float:
        return format_float(value)
    if cls is Err:
        return str(value.message)
    if cls is list:
        return "{list}"
    if cls is dict:
        return "[map]"
    raise MooRaise(Err.E_TYPE)


def quote(text: str) -> str:
    """A string literal: ``"`` around, ``\\`` before each ``"`` and ``\\``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


LITERAL_LIMIT = 1_000_000
"""Characters ``toliteral`` writes before giving up with E_QUOTA (the task's own limit, where
it has one). A list may hold itself many times over (``l = {l, l}`` thirty times is a
billion leaves in a few lines of memory): its text is what must be bounded."""


def toliteral(value: Any, limit: int = LITERAL_LIMIT) -> str:
    """``toliteral(value)``: MOO source text that evaluates to ``value``.

    Iterative (a list nested 100,000 deep is fine) and bounded: past ``limit`` characters it
    raises ``MooRaise(E_QUOTA)``, having built at most that much.
    """
    parts: list[str] = []
    left = limit
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        cls = item.__class__
        if cls is _Text:
            text = item.text
        elif cls is str:
            text = quote(item)
        elif cls is Err:
            text = item.name
        elif cls is list:
            text = "{"
            stack.append(_CLOSE_LIST)
            for index in range(len(item) - 1, -1, -1):
                stack.append(item[index])
                if index:
                    stack.append(_COMMA)
        elif cls is dict:
            text = "["
            stack.append(_CLOSE_MAP)
            pairs = list(item.items())
            for index in range(len(pairs) - 1, -1, -1):
                key, val = pairs[index]
                stack += [val, _ARROW, key]
                if index:
                    stack.append(_COMMA)
        else:
            text = tostr(item)
        left -= len(text)
        if left < 0:
            raise MooRaise(Err.E_QUOTA)
        parts.append(text)
    return "".join(parts)


class _Text:
    """A piece of punctuation on ``toliteral``'s stack (never a MOO value)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_COMMA, _ARROW = _Text(", "), _Text(" -> ")
_CLOSE_LIST, _CLOSE_MAP = _Text("}"), _Text("]")

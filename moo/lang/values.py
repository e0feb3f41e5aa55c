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


def equal(a: Any, b: Any) -> bool:
    """``a == b`` with MOO's rules (no type mixing, strings without case)."""
    cls = a.__class__
    if cls is not b.__class__:
        return False
    if cls is str:
        return a is b or a.lower() == b.lower()
    if cls is list:
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if cls is dict:
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _order_key(value: Any) -> Any:
    cls = value.__class__
    if cls is str:
        return value.lower()
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


def toliteral(value: Any) -> str:
    """``toliteral(value)``: MOO source text that evaluates to ``value``."""
    cls = value.__class__
    if cls is str:
        return quote(value)
    if cls is Err:
        return str(value.name)
    if cls is list:
        return "{" + ", ".join(toliteral(item) for item in value) + "}"
    if cls is dict:
        return "[" + ", ".join(f"{toliteral(k)} -> {toliteral(v)}" for k, v in value.items()) + "]"
    return tostr(value)

"""Conversion builtins: typeof, tostr, toliteral, toint, tonum, tofloat, toobj, equal,
value_bytes, value_hash.

As LambdaMOO 1.8.1 does them (``numbers.c``, ``objects.c``, ``list.c``):

- ``toint``/``tonum`` of a string reads what C's ``strtol`` reads (leading white space, a sign,
  digits) and falls back to ``strtod`` when the text goes on with ``.``, ``e`` or ``E``; any
  other trailing text but spaces makes the answer 0. A float is truncated toward zero; one
  outside the 32-bit range is ``E_FLOAT``. An object gives its number, an error its code.
- ``toobj`` of a string takes an optional ``#`` and an integer, else ``#0``.
- ``tofloat`` of a string that is not a finite number is ``E_INVARG``.
- ``equal`` is ``==`` with case-sensitive strings.
- ``value_bytes`` counts as a 64-bit LambdaMOO does: 16 bytes a value, plus a string's bytes
  and its NUL, a float's 8 bytes, a list's length slot.
- ``value_hash`` is the MD5 of ``toliteral(value)``, 32 uppercase hex digits.

Lists and strings are never changed: each builtin returns a new value.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from moo.lang import values
from moo.lang.builtins.registry import builtin
from moo.lang.errors import MooRaise
from moo.lang.task_api import TaskApi
from moo.world.values import Err, ObjRef

INT_MIN = -(2**31)
INT_MAX = 2**31 - 1
_LONG_MIN = -(2**63)
_LONG_MAX = 2**63 - 1

_WHITE = " \t\n\v\f\r"  # C's isspace(), which strtol and strtod skip
_STRTOL = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)")
_HEX_FLOAT = r"0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
_DEC_FLOAT = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_STRTOD = re.compile(
    r"[ \t\n\v\f\r]*([+-]?)(?:(" + _HEX_FLOAT + r")|(" + _DEC_FLOAT + r")"
    r"|(inf(?:inity)?)|(nan(?:\([0-9A-Za-z_]*\))?))",
    re.IGNORECASE,
)


def _wrap32(number: int) -> int:
    """A C ``long`` stored into an ``int``: the low 32 bits, signed."""
    number &= 0xFFFFFFFF
    return number - 2**32 if number > INT_MAX else number


def _strtol(text: str, start: int = 0) -> tuple[int, int] | None:
    """C's ``strtol(text, &end, 10)`` from ``start``: (value clamped to a long, end)."""
    found = _STRTOL.match(text, start)
    if found is None:
        return None
    return max(_LONG_MIN, min(_LONG_MAX, int(found.group(1)))), found.end()


def _strtod(text: str, start: int = 0) -> tuple[float, int] | None:
    """C's ``strtod(text, &end)`` from ``start``: (value, end), or None if nothing was read."""
    found = _STRTOD.match(text, start)
    if found is None:
        return None
    sign = -1.0 if found.group(1) == "-" else 1.0
    if found.group(2):
        number = float.fromhex(found.group(2))
    elif found.group(3):
        number = float(found.group(3))
    elif found.group(4):
        number = math.inf
    else:
        number = math.nan
    return sign * number, found.end()


def _only_spaces(text: str, start: int) -> bool:
    return all(ch == " " for ch in text[start:])


def _c_double_to_int(number: float) -> int:
    """``(int) d`` on x86: truncation, and INT_MIN for anything that does not fit."""
    if not math.isfinite(number) or not INT_MIN <= number < INT_MAX + 1:
        return INT_MIN
    return int(number)


def parse_int(text: str) -> int:
    """``toint(text)``: LambdaMOO's ``parse_number(text, &n, 1)``, 0 when it fails."""
    read = _strtol(text)
    end = read[1] if read is not None else 0
    result = _wrap32(read[0]) if read is not None else 0
    if read is None or text[end : end + 1] in (".", "e", "E"):
        read_float = _strtod(text)
        if read_float is None:
            return 0
        result, end = _c_double_to_int(read_float[0]), read_float[1]
    return result if _only_spaces(text, end) else 0


def parse_object_number(text: str) -> int:
    """``toobj(text)``: spaces, an optional ``#``, an integer, spaces; else 0."""
    start = len(text) - len(text.lstrip(" "))
    if text[start : start + 1] == "#":
        start += 1
    read = _strtol(text, start)
    if read is None or not _only_spaces(text, read[1]):
        return 0
    return _wrap32(read[0])


def parse_float(text: str) -> float:
    """``tofloat(text)``: spaces, an optional ``-``, a C float, spaces; else E_INVARG."""
    start = len(text) - len(text.lstrip(" "))
    negative = text[start : start + 1] == "-"
    if negative:
        start += 1
    read = _strtod(text, start)
    if read is None or not _only_spaces(text, read[1]) or not math.isfinite(read[0]):
        raise MooRaise(Err.E_INVARG)
    return -read[0] if negative else read[0]


def become_integer(value: Any, from_tonum: bool) -> int:
    """LambdaMOO's ``become_integer``: toint's and toobj's common half."""
    cls = value.__class__
    if cls is int:
        return int(value)
    if cls is str:
        return parse_int(value) if from_tonum else parse_object_number(value)
    if cls is ObjRef:
        return int(value.id)
    if cls is Err:
        return int(value.value)
    if cls is float:
        if not INT_MIN <= value <= INT_MAX:
            raise MooRaise(Err.E_FLOAT)
        return int(value)
    raise MooRaise(Err.E_TYPE)


@builtin("typeof", 1)
def bf_typeof(task: TaskApi, value: Any) -> int:
    try:
        return values.type_code(value)
    except KeyError:
        raise MooRaise(Err.E_TYPE) from None


@builtin("tostr", 0, None)
def bf_tostr(task: TaskApi, *args: Any) -> str:
    limit = task.limits.max_string_length
    parts: list[str] = []
    size = 0
    for arg in args:
        text = values.tostr(arg)
        size += len(text)
        if size > limit:
            raise MooRaise(Err.E_QUOTA)
        parts.append(text)
    return "".join(parts)


@builtin("toliteral", 1)
def bf_toliteral(task: TaskApi, value: Any) -> str:
    return values.toliteral(value, task.limits.max_string_length)


@builtin("toint", 1)
def bf_toint(task: TaskApi, value: Any) -> int:
    return become_integer(value, True)


@builtin("tonum", 1)
def bf_tonum(task: TaskApi, value: Any) -> int:
    return become_integer(value, True)


@builtin("toobj", 1)
def bf_toobj(task: TaskApi, value: Any) -> ObjRef:
    return ObjRef(become_integer(value, False))


@builtin("tofloat", 1)
def bf_tofloat(task: TaskApi, value: Any) -> float:
    cls = value.__class__
    if cls is float:
        return float(value)
    if cls is int:
        return float(value)
    if cls is str:
        return parse_float(value)
    if cls is ObjRef:
        return float(value.id)
    if cls is Err:
        return float(value.value)
    raise MooRaise(Err.E_TYPE)


def equal_exact(a: Any, b: Any) -> bool:
    """``equal(a, b)``: MOO equality with case-sensitive strings."""
    cls = a.__class__
    if cls is not b.__class__:
        return False
    if cls is list:
        if a is b:  # shared (and a list may hold itself many times over): equal at once
            return True
        return len(a) == len(b) and all(equal_exact(x, y) for x, y in zip(a, b, strict=True))
    if cls is dict:
        return a.keys() == b.keys() and all(equal_exact(a[k], b[k]) for k in a)
    return bool(a == b)


@builtin("equal", 2)
def bf_equal(task: TaskApi, a: Any, b: Any) -> int:
    return 1 if equal_exact(a, b) else 0


_VAR_SIZE = 16  # sizeof(Var) on a 64-bit LambdaMOO


def value_bytes(value: Any, seen: dict[int, int] | None = None) -> int:
    """``value_bytes(value)``, counted as a 64-bit LambdaMOO 1.8.1 counts: a list shared
    many times over counts each time, as there, but is measured once (``seen``)."""
    cls = value.__class__
    if cls is str:
        return _VAR_SIZE + len(value.encode("utf-8", "surrogatepass")) + 1
    if cls is float:
        return _VAR_SIZE + 8
    if cls is list or cls is dict:
        seen = {} if seen is None else seen
        known = seen.get(id(value))
        if known is None:
            items = [*value.keys(), *value.values()] if cls is dict else value
            known = _VAR_SIZE + _VAR_SIZE + sum(value_bytes(item, seen) for item in items)
            seen[id(value)] = known
        return known
    return _VAR_SIZE


@builtin("value_bytes", 1)
def bf_value_bytes(task: TaskApi, value: Any) -> int:
    return value_bytes(value)


def md5_hex(data: bytes) -> str:
    """LambdaMOO's ``hash_bytes``: MD5 as 32 uppercase hex digits."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest().upper()


@builtin("value_hash", 1)
def bf_value_hash(task: TaskApi, value: Any) -> str:
    literal = values.toliteral(value, task.limits.max_string_length)
    return md5_hex(literal.encode("utf-8", "surrogatepass"))

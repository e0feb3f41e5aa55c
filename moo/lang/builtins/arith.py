"""Number builtins: min, max, abs, random, floatstr, sqrt, sin, cos, tan, asin, acos, atan,
sinh, cosh, tanh, exp, log, log10, ceil, floor, trunc.

As LambdaMOO 1.8.1 does them (``numbers.c``):

- ``min``/``max`` take ints or floats, all of one type (``E_TYPE`` on a mix); ``abs`` either.
- The math functions take floats only (``abs`` aside, an int is ``E_TYPE``: ``sqrt(4)`` is
  an error, ``sqrt(4.0)`` is ``2.0``) and answer floats, ``ceil``/``floor``/``trunc`` too.
  A domain error (C's ``EDOM``: ``sqrt(-1.0)``, ``acos(2.0)``, ``log(-1.0)``) is
  ``E_INVARG``; a range error or a result that is not finite (C's ``ERANGE``: ``exp(1000.0)``,
  ``log(0.0)``, ``exp(-1000.0)``'s underflow, as glibc reports it) is ``E_FLOAT``.
- ``random(n)`` is uniform in ``1..n``, ``E_INVARG`` for ``n <= 0``; ``random()`` is uniform
  in ``1..2147483647``.
- ``floatstr(x, precision[, scientific])`` is C's ``%.*f`` or ``%.*e``; a precision over 19
  counts as 19, a negative one is ``E_INVARG``.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable
from typing import Any

from moo.lang.builtins.pure_args import need_float, need_int, need_number
from moo.lang.builtins.registry import builtin
from moo.lang.errors import MooRaise
from moo.lang.task_api import TaskApi
from moo.lang.values import is_true
from moo.world.values import Err

MAX_INT = 2**31 - 1
_FLOAT_DIGITS = 15  # DBL_DIG
_rng = random.SystemRandom()


def _extreme(args: tuple[Any, ...], better: Callable[[Any, Any], bool]) -> Any:
    best = args[0]
    kind = need_number(best).__class__
    bad = False
    for arg in args[1:]:
        if arg.__class__ is not kind:
            bad = True
        elif better(arg, best):
            best = arg
    if bad:
        raise MooRaise(Err.E_TYPE)
    return best


@builtin("min", 1, None)
def bf_min(task: TaskApi, *args: Any) -> Any:
    return _extreme(args, lambda a, b: bool(a < b))


@builtin("max", 1, None)
def bf_max(task: TaskApi, *args: Any) -> Any:
    return _extreme(args, lambda a, b: bool(a > b))


@builtin("abs", 1)
def bf_abs(task: TaskApi, value: Any) -> int | float:
    """As LambdaMOO 1.8's C ``abs``: ``abs(-2147483648)`` stays -2147483648 (ints are
    32-bit there; its absolute value does not fit)."""
    result = abs(need_number(value))
    if result.__class__ is int and result > MAX_INT:
        return -result
    return result


@builtin("random", 0, 1)
def bf_random(task: TaskApi, *limit: Any) -> int:
    top = need_int(limit[0]) if limit else MAX_INT
    if top <= 0:
        raise MooRaise(Err.E_INVARG)
    return _rng.randint(1, top)


@builtin("floatstr", 2, 3)
def bf_floatstr(task: TaskApi, value: Any, precision: Any, *scientific: Any) -> str:
    number, digits = need_float(value), need_int(precision)
    if digits < 0:
        raise MooRaise(Err.E_INVARG)
    digits = min(digits, _FLOAT_DIGITS + 4)
    style = "e" if scientific and is_true(scientific[0]) else "f"
    return f"{number:.{digits}{style}}"


def _checked(compute: Callable[[], float]) -> float:
    """Run a C math function's stand-in with LambdaMOO's error mapping."""
    try:
        result = compute()
    except ValueError:  # Python's "math domain error": C's EDOM
        raise MooRaise(Err.E_INVARG) from None
    except OverflowError:  # C's ERANGE
        raise MooRaise(Err.E_FLOAT) from None
    if not math.isfinite(result):
        raise MooRaise(Err.E_FLOAT)
    return result


def _unary(name: str, function: Callable[[float], float]) -> None:
    def bf(task: TaskApi, value: Any) -> float:
        number = need_float(value)
        return _checked(lambda: function(number))

    bf.__name__ = f"bf_{name}"
    builtin(name, 1)(bf)


def _log(function: Callable[[float], float]) -> Callable[[float], float]:
    def log(x: float) -> float:
        if x == 0.0:  # C: a pole error (ERANGE), not a domain error
            raise OverflowError
        return function(x)

    return log


def _exp(x: float) -> float:
    result = math.exp(x)
    if result < sys.float_info.min:  # glibc reports the underflow as ERANGE
        raise OverflowError
    return result


def _integral(function: Callable[[float], int]) -> Callable[[float], float]:
    """C's ``ceil``/``floor``: a float, keeping the sign of a zero (``ceil(-0.5)`` is -0.0)."""

    def rounded(x: float) -> float:
        return math.copysign(float(function(x)), x)

    return rounded


def _trunc(x: float) -> int:
    return math.ceil(x) if x < 0.0 else math.floor(x)


for _name, _function in {
    "sqrt": math.sqrt,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "tanh": math.tanh,
    "exp": _exp,
    "log": _log(math.log),
    "log10": _log(math.log10),
    "ceil": _integral(math.ceil),
    "floor": _integral(math.floor),
    "trunc": _integral(_trunc),
}.items():
    _unary(_name, _function)


@builtin("atan", 1, 2)
def bf_atan(task: TaskApi, y: Any, *x: Any) -> float:
    y_value = need_float(y)
    if x:
        x_value = need_float(x[0])
        return _checked(lambda: math.atan2(y_value, x_value))
    return _checked(lambda: math.atan(y_value))

"""The builtin function registry: ``@builtin("length", 1, 1)`` adds one to ``BUILTINS``.

A builtin is a plain function ``f(task, *args)`` that checks its own argument types (raising
``MooRaise(Err.E_TYPE)`` and friends) and returns a MOO value. The number of arguments is
checked by the caller against ``min_args``/``max_args`` (``E_ARGS``): the compiler does it
once for a call it can see, ``call_function`` at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BuiltinFunction = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Builtin:
    name: str
    min_args: int
    max_args: int | None  # None: any number
    function: BuiltinFunction

    def accepts(self, count: int) -> bool:
        return count >= self.min_args and (self.max_args is None or count <= self.max_args)


BUILTINS: dict[str, Builtin] = {}


def builtin(
    name: str, min_args: int, max_args: int | None = -1
) -> Callable[[BuiltinFunction], BuiltinFunction]:
    """Register the function as builtin ``name``; ``max_args`` defaults to ``min_args``."""
    top = min_args if max_args == -1 else max_args

    def register(function: BuiltinFunction) -> BuiltinFunction:
        if name in BUILTINS:
            raise ValueError(f"builtin {name!r} is registered twice")
        BUILTINS[name] = Builtin(name, min_args, top, function)
        return function

    return register

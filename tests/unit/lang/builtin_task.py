"""A test double for calling the pure builtins: a task with limits and nothing else.

The pure builtins (conversion, lists, strings, arith, clock, control) read only
``task.limits``; ``run`` calls one through the registry, as compiled code does, and answers
either its value or the ``Err`` it raised, so that conformance tables can list both.
"""

from __future__ import annotations

from typing import Any

from moo.lang.builtins import BUILTINS
from moo.lang.errors import MooRaise
from moo.lang.task_api import Limits
from moo.world.values import Err, ObjRef


class BuiltinTask:
    """Only what a pure builtin may touch."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.ticks = self.limits.ticks


def run(name: str, *args: Any, task: BuiltinTask | None = None) -> Any:
    """``name(@args)``: its value, or the error code it raised."""
    entry = BUILTINS[name]
    assert entry.accepts(len(args)), f"{name} does not take {len(args)} arguments"
    try:
        return entry.function(task or BuiltinTask(), *args)
    except MooRaise as error:
        assert isinstance(error.code, Err)
        return error.code


def same(a: Any, b: Any) -> bool:
    """Equal and of the same MOO types all the way down (``1``, ``1.0`` and ``True`` differ)."""
    if a.__class__ is not b.__class__:
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and a == 0.0:
        return str(a) == str(b)  # the sign of a zero shows in tostr()
    return bool(a == b)


def check(name: str, args: tuple[Any, ...], expected: Any, **kwargs: Any) -> None:
    got = run(name, *args, **kwargs)
    assert same(got, expected), f"{name}{args!r} gave {got!r}, expected {expected!r}"


def o(number: int) -> ObjRef:
    return ObjRef(number)

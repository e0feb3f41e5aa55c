"""What MOO code raises, and what ends a task that MOO code cannot catch."""

from __future__ import annotations

from moo.world.values import Err


class MooRaise(Exception):
    """A MOO error in flight: ``raise(code, message, value)`` or a failed operation.

    ``code`` is usually an ``Err`` but may be any MOO value (``raise("oops")``); ``message``
    defaults to the error's text; ``value`` is the third element of the ``except`` list.
    ``traceback`` is filled in as the error unwinds verb frames: LambdaMOO-style lines;
    ``stack`` with the same frames as LambdaMOO lists them in the fourth element of an
    ``except`` variable, ``{this, verb, programmer, verb location, player, line}`` each.
    """

    def __init__(self, code: object, message: str | None = None, value: object = 0) -> None:
        if message is None:
            message = code.message if isinstance(code, Err) else str(code)
        super().__init__(message)
        self.code = code
        self.message = message
        self.value = value
        self.traceback: list[str] = []
        self.stack: list[list[object]] = []


class TaskAbort(BaseException):
    """Ends a task no MOO ``try`` can catch: out of ticks or seconds, or killed.

    A BaseException so that neither compiled ``except`` clauses nor builtins' ``except
    Exception`` swallow it. ``reason`` is LambdaMOO's: "ticks", "seconds" or "killed".
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MooSyntaxError(Exception):
    """A program that does not compile: LambdaMOO-style messages (``Line 3:  syntax error``).

    ``errors`` lists every message (usually one: parsing stops at the first syntax error).
    """

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors

"""Control builtin: raise(code[, message[, value]]).

As LambdaMOO 1.8.1 does it (``execute.c``): ``code`` may be any value; ``message`` must be a
string (``E_TYPE`` otherwise) and defaults to ``tostr(code)``; ``value`` defaults to 0. The
error unwinds as ``MooRaise`` until a ``try``/``except`` or ``` `expr ! codes` ``` catches it.
"""

from __future__ import annotations

from typing import Any, NoReturn

from moo.lang import values
from moo.lang.builtins.pure_args import need_str
from moo.lang.builtins.registry import builtin
from moo.lang.errors import MooRaise
from moo.lang.task_api import TaskApi


@builtin("raise", 1, 3)
def bf_raise(task: TaskApi, code: Any, *rest: Any) -> NoReturn:
    message = need_str(rest[0]) if rest else values.tostr(code)
    value = rest[1] if len(rest) > 1 else 0
    raise MooRaise(code, message, value)

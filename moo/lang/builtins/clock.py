"""Clock builtins: time, ctime.

As LambdaMOO 1.8.1 does them (``numbers.c``): ``time()`` is the current Unix time in whole
seconds; ``ctime([t])`` formats ``t`` (default now) in the server's local time zone as
``strftime("%a %b %d %H:%M:%S %Y %Z")`` with the day's leading zero made a space, e.g.
``"Thu Jan  1 00:00:00 1970 UTC"``. A time the platform cannot represent is ``E_INVARG``
(LambdaMOO would crash).
"""

from __future__ import annotations

import time
from typing import Any

from moo.lang.builtins.pure_args import need_int
from moo.lang.builtins.registry import builtin
from moo.lang.errors import MooRaise
from moo.lang.task_api import TaskApi
from moo.world.values import Err


@builtin("time", 0)
def bf_time(task: TaskApi) -> int:
    return int(time.time())


def format_ctime(seconds: int) -> str:
    """LambdaMOO's ``ctime(seconds)`` text, in the process's local time zone."""
    try:
        text = time.strftime("%a %b %d %H:%M:%S %Y %Z", time.localtime(seconds))
    except (OverflowError, OSError, ValueError):
        raise MooRaise(Err.E_INVARG) from None
    if text[8:9] == "0":
        text = text[:8] + " " + text[9:]
    return text


@builtin("ctime", 0, 1)
def bf_ctime(task: TaskApi, *seconds: Any) -> str:
    return format_ctime(need_int(seconds[0]) if seconds else int(time.time()))

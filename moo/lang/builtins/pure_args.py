"""Argument checks and size limits shared by the pure builtins (no world access).

LambdaMOO checks each builtin's arguments against a prototype before calling it (``TYPE_INT``,
``TYPE_STR``, ``TYPE_NUMERIC`` ...) and answers ``E_TYPE`` on a mismatch; here each builtin
calls these helpers itself. A bool is never a MOO value, so the checks compare classes
exactly (``type(x) is int``), never with ``isinstance``.

Also here: LambdaMOO's ASCII-only case folding (``"É"`` and ``"é"`` differ, and folding
never changes a string's length, so positions found in a folded copy hold in the original),
and the ``E_QUOTA`` checks against the task's ``Limits``.
"""

from __future__ import annotations

from typing import Any

from moo.lang.errors import MooRaise
from moo.lang.task_api import TaskApi
from moo.world.values import Err, ObjRef

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: str) -> str:
    """``text`` with A-Z lowered and nothing else changed (LambdaMOO's ``cmap``); for ASCII
    text that is ``str.lower``, ~5x faster than ``translate`` on short strings."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def need_str(value: Any) -> str:
    if value.__class__ is not str:
        raise MooRaise(Err.E_TYPE)
    return str(value)


def need_int(value: Any) -> int:
    if value.__class__ is not int:
        raise MooRaise(Err.E_TYPE)
    return int(value)


def need_float(value: Any) -> float:
    if value.__class__ is not float:
        raise MooRaise(Err.E_TYPE)
    return float(value)


def need_list(value: Any) -> list[Any]:
    if value.__class__ is not list:
        raise MooRaise(Err.E_TYPE)
    result: list[Any] = value
    return result


def need_obj(value: Any) -> ObjRef:
    if value.__class__ is not ObjRef:
        raise MooRaise(Err.E_TYPE)
    result: ObjRef = value
    return result


def need_number(value: Any) -> int | float:
    """``TYPE_NUMERIC``: an int or a float."""
    cls = value.__class__
    if cls is not int and cls is not float:
        raise MooRaise(Err.E_TYPE)
    result: int | float = value
    return result


def string_result(task: TaskApi, text: str) -> str:
    """``text``, or ``E_QUOTA`` when it is longer than the task may build."""
    if len(text) > task.limits.max_string_length:
        raise MooRaise(Err.E_QUOTA)
    return text


def check_string_size(task: TaskApi, size: int) -> None:
    """``E_QUOTA`` before building a string of ``size`` characters the task may not have."""
    if size > task.limits.max_string_length:
        raise MooRaise(Err.E_QUOTA)


def check_list_size(task: TaskApi, size: int) -> None:
    """``E_QUOTA`` before building a list of ``size`` elements the task may not have."""
    if size > task.limits.max_list_length:
        raise MooRaise(Err.E_QUOTA)

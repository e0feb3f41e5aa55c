"""List builtins: length, setadd, setremove, listappend, listinsert, listdelete, listset,
is_member.

As LambdaMOO 1.8.1 does them (``list.c``):

- ``length`` takes a list or a string.
- ``setadd``/``setremove`` compare as ``==`` does (strings without case); ``is_member``
  compares as ``equal()`` does (with case) and answers the 1-based index, or 0.
- ``listinsert(list, value, index)`` and ``listappend(list, value, index)`` clamp the index
  into the list (never ``E_RANGE``); ``listdelete`` and ``listset`` answer ``E_RANGE`` for an
  index outside ``1..length(list)``.

MOO lists are values: every builtin returns a new list and leaves its argument alone. A list
longer than the task's ``max_list_length`` is ``E_QUOTA``.
"""

from __future__ import annotations

from typing import Any

from moo.lang import values
from moo.lang.builtins.conversion import equal_exact
from moo.lang.builtins.pure_args import check_list_size, need_int, need_list
from moo.lang.builtins.registry import builtin
from moo.lang.errors import MooRaise
from moo.lang.task_api import TaskApi
from moo.world.values import Err


@builtin("length", 1)
def bf_length(task: TaskApi, value: Any) -> int:
    cls = value.__class__
    if cls is list or cls is str:
        return len(value)
    raise MooRaise(Err.E_TYPE)


def _index_of(value: Any, items: list[Any], case_matters: bool) -> int:
    """LambdaMOO's ``ismember``: the 1-based index of the first equal element, or 0."""
    same = equal_exact if case_matters else values.equal
    for position, item in enumerate(items, 1):
        if same(value, item):
            return position
    return 0


def _insert(task: TaskApi, items: list[Any], value: Any, position: int) -> list[Any]:
    """A new list with ``value`` at 1-based ``position``, clamped into ``1..len + 1``."""
    check_list_size(task, len(items) + 1)
    position = max(1, min(position, len(items) + 1))
    return [*items[: position - 1], value, *items[position - 1 :]]


@builtin("setadd", 2)
def bf_setadd(task: TaskApi, arg: Any, value: Any) -> list[Any]:
    items = need_list(arg)
    if _index_of(value, items, False):
        return items
    return _insert(task, items, value, len(items) + 1)


@builtin("setremove", 2)
def bf_setremove(task: TaskApi, arg: Any, value: Any) -> list[Any]:
    items = need_list(arg)
    position = _index_of(value, items, False)
    if not position:
        return items
    return [*items[: position - 1], *items[position:]]


@builtin("listappend", 2, 3)
def bf_listappend(task: TaskApi, items: Any, value: Any, *index: Any) -> list[Any]:
    items = need_list(items)
    position = need_int(index[0]) + 1 if index else len(items) + 1
    return _insert(task, items, value, position)


@builtin("listinsert", 2, 3)
def bf_listinsert(task: TaskApi, items: Any, value: Any, *index: Any) -> list[Any]:
    items = need_list(items)
    position = need_int(index[0]) if index else 1
    return _insert(task, items, value, position)


@builtin("listdelete", 2)
def bf_listdelete(task: TaskApi, items: Any, index: Any) -> list[Any]:
    items = need_list(items)
    position = need_int(index)
    if not 1 <= position <= len(items):
        raise MooRaise(Err.E_RANGE)
    return [*items[: position - 1], *items[position:]]


@builtin("listset", 3)
def bf_listset(task: TaskApi, items: Any, value: Any, index: Any) -> list[Any]:
    items = need_list(items)
    position = need_int(index)
    if not 1 <= position <= len(items):
        raise MooRaise(Err.E_RANGE)
    result = list(items)
    result[position - 1] = value
    return result


@builtin("is_member", 2)
def bf_is_member(task: TaskApi, value: Any, items: Any) -> int:
    return _index_of(value, need_list(items), True)

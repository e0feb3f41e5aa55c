"""Task budgets from the config and from ``$server_options``, as LambdaMOO reads them.

The config's ``lang`` section gives the defaults (LambdaMOO's: 30,000 ticks / 5 s for a
command or ``;``, 15,000 / 3 s for a forked or resumed task, 50 nested verb calls). A world
may set ``$server_options.fg_ticks``, ``fg_seconds``, ``bg_ticks``, ``bg_seconds`` and
``max_stack_depth`` (positive numbers) to override them while it runs, as in LambdaMOO
(and ``default_flush_command``, the line that drops a connection's waiting input); they
are read when a task starts (a handful of dictionary lookups: no cache to forget). Each is
taken as at most ``INT_MAX`` (2^31 - 1, LambdaMOO's int), so a huge or infinite float in a
property gives a budget that ``ticks_left()`` can still report.
"""

from __future__ import annotations

import dataclasses

from moo.config import Lang
from moo.lang.task_api import Limits
from moo.world.world import World


def limits_from_config(lang: Lang) -> tuple[Limits, Limits]:
    """(foreground, background) budgets from the config's ``lang`` section."""
    common = {
        "max_depth": lang.max_stack_depth,
        "max_string_length": lang.max_string_length,
        "max_list_length": lang.max_list_length,
    }
    return (
        Limits(ticks=lang.fg_ticks, seconds=lang.fg_seconds, **common),
        Limits(ticks=lang.bg_ticks, seconds=lang.bg_seconds, **common),
    )


INT_MAX = 2**31 - 1


def _positive(value: object) -> float | None:
    if type(value) in (int, float) and value > 0:  # type: ignore[operator]
        return min(float(value), float(INT_MAX))  # type: ignore[arg-type]
    return None


DEFAULT_FLUSH_COMMAND = ".flush"
_UNSET = object()


def _server_options(world: World) -> int | None:
    options_ref = world.objects[0].props.get("server_options") if 0 in world.objects else None
    options = getattr(options_ref, "id", None)
    return options if options in world.objects else None


def default_flush_command(world: World) -> str:
    """A new connection's flush command: ``$server_options.default_flush_command`` when it
    is a string ("" or any other value: none), else ``.flush`` (LambdaMOO's)."""
    options = _server_options(world)
    value = _UNSET if options is None else world.prop(options, "default_flush_command", _UNSET)
    if value is _UNSET:
        return DEFAULT_FLUSH_COMMAND
    return value if isinstance(value, str) else ""


def with_server_options(world: World, limits: Limits, *, background: bool) -> Limits:
    """``limits`` with whatever ``$server_options`` overrides (the same object if nothing)."""
    options = _server_options(world)
    if options is None:
        return limits
    prefix = "bg_" if background else "fg_"
    ticks = _positive(world.prop(options, prefix + "ticks", None))
    seconds = _positive(world.prop(options, prefix + "seconds", None))
    depth = _positive(world.prop(options, "max_stack_depth", None))
    if ticks is None and seconds is None and depth is None:
        return limits
    return dataclasses.replace(
        limits,
        ticks=int(ticks) if ticks is not None else limits.ticks,
        seconds=seconds if seconds is not None else limits.seconds,
        max_depth=int(depth) if depth is not None else limits.max_depth,
    )

"""Player and connection builtins: ``players is_player set_player_flag notify
connected_players connection_name boot_player idle_seconds connected_seconds force_input
flush_input output_delimiters`` and the rest of the connection family.

They reach the sessions only through the task's ``TaskServices``. LambdaMOO's rules
(``bf_server.c``): ``notify``, ``boot_player`` and ``connection_name`` need a wizard or the
player themself (``E_PERM``); asking about a player who is not connected is ``E_INVARG``;
``set_player_flag`` is for wizards only. ``notify`` output is held until the task commits.
"""

from __future__ import annotations

from typing import Any

from moo.errors import WorldError
from moo.lang import access
from moo.lang.builtins.registry import builtin
from moo.lang.errors import MooRaise
from moo.lang.task import Task
from moo.lang.values import is_true
from moo.world.model import Flag
from moo.world.values import Err, ObjRef


def _self_or_wizard(task: Task, player: Any) -> int:
    if player.__class__ is not ObjRef:
        raise MooRaise(Err.E_TYPE)
    progr = task.frame.programmer
    if progr != player.id and not access.is_wizard(task.world, progr):
        raise MooRaise(Err.E_PERM)
    return int(player.id)


def _connection(task: Task, player: Any) -> Any:
    if player.__class__ is not ObjRef:
        raise MooRaise(Err.E_TYPE)
    for connected in task.scheduler.services.connected_players():
        if connected.player == player.id:
            return connected
    raise MooRaise(Err.E_INVARG)


@builtin("players", 0)
def players(task: Task) -> list[Any]:
    return [ObjRef(oid) for oid in task.world.player_ids()]


@builtin("is_player", 1)
def is_player(task: Task, obj: Any) -> int:
    return 1 if access.valid_object(task.world, obj).is_player else 0


@builtin("set_player_flag", 2)
def set_player_flag(task: Task, obj: Any, value: Any) -> int:
    world = task.world
    target = access.valid_object(world, obj)
    if not access.is_wizard(world, task.frame.programmer):
        raise MooRaise(Err.E_PERM)
    on = is_true(value)
    flags = target.flags | int(Flag.PLAYER) if on else target.flags & ~int(Flag.PLAYER)
    try:
        world.set_flags(target.id, flags)
    except WorldError as error:
        raise MooRaise(Err.E_INVARG, str(error)) from None
    if not on:
        task.scheduler.services.boot(target.id, "")
    return 0


@builtin("notify", 2, 3)
def notify(task: Task, player: Any, text: Any, no_flush: Any = 0) -> int:
    if text.__class__ is not str:
        raise MooRaise(Err.E_TYPE)
    task.notify(_self_or_wizard(task, player), text)
    return 1


@builtin("connected_players", 0, 1)
def connected_players(task: Task, include_all: Any = 0) -> list[Any]:
    return [ObjRef(c.player) for c in task.scheduler.services.connected_players()]


@builtin("connection_name", 1)
def connection_name(task: Task, player: Any) -> str:
    _self_or_wizard(task, player)
    connected = _connection(task, player)
    return f"{connected.transport} connection"


@builtin("boot_player", 1)
def boot_player(task: Task, player: Any) -> int:
    oid = _self_or_wizard(task, player)
    task.scheduler.services.boot(oid, "")
    return 0


@builtin("idle_seconds", 1)
def idle_seconds(task: Task, player: Any) -> int:
    return int(_connection(task, player).idle_seconds)


@builtin("connected_seconds", 1)
def connected_seconds(task: Task, player: Any) -> int:
    return int(_connection(task, player).connected_seconds)


def _connected_self_or_wizard(task: Task, player: Any) -> int:
    oid = _self_or_wizard(task, player)
    _connection(task, player)
    return oid


@builtin("buffered_output_length", 0, 1)
def buffered_output_length(task: Task, player: Any = None) -> int:
    if player is not None:
        _connected_self_or_wizard(task, player)
    return 0  # output is handed to the connection whole; nothing waits in a MOO-level buffer


@builtin("flush_input", 1, 2)
def flush_input(task: Task, player: Any, show_messages: Any = 0) -> int:
    _self_or_wizard(task, player)
    task.scheduler.services.flush_input(player.id, is_true(show_messages))
    return 0


@builtin("force_input", 2, 3)
def force_input(task: Task, player: Any, line: Any, at_front: Any = 0) -> int:
    """LambdaMOO queues the line even for a player who is not connected (it runs when
    they are); here that is E_INVARG, as ``notify`` and the other connection builtins."""
    if line.__class__ is not str:
        raise MooRaise(Err.E_TYPE)
    _self_or_wizard(task, player)
    if not task.scheduler.services.force_input(player.id, line, is_true(at_front)):
        raise MooRaise(Err.E_INVARG)
    return 0


@builtin("output_delimiters", 1)
def output_delimiters(task: Task, player: Any) -> list[Any]:
    _self_or_wizard(task, player)
    found = task.scheduler.services.output_delimiters(player.id)
    if found is None:
        raise MooRaise(Err.E_INVARG)
    return list(found)


@builtin("connection_options", 1)
def connection_options(task: Task, player: Any) -> list[Any]:
    _self_or_wizard(task, player)
    options = task.scheduler.services.connection_options(player.id)
    if options is None:
        raise MooRaise(Err.E_INVARG)
    return [[name, value] for name, value in options.items()]


@builtin("connection_option", 2)
def connection_option(task: Task, player: Any, name: Any) -> Any:
    if name.__class__ is not str:
        raise MooRaise(Err.E_TYPE)
    _self_or_wizard(task, player)
    options = task.scheduler.services.connection_options(player.id)
    if options is None or name not in options:
        raise MooRaise(Err.E_INVARG)
    return options[name]


@builtin("set_connection_option", 3)
def set_connection_option(task: Task, player: Any, name: Any, value: Any) -> int:
    """``hold-input``, ``disable-oob``, ``client-echo`` and ``flush-command`` (``binary``
    is not offered: ``E_INVARG``, as for an unknown name)."""
    if name.__class__ is not str:
        raise MooRaise(Err.E_TYPE)
    _self_or_wizard(task, player)
    given = value if name == "flush-command" else is_true(value)
    if not task.scheduler.services.set_connection_option(player.id, name, given):
        raise MooRaise(Err.E_INVARG)
    return 0


@builtin("listeners", 0)
def listeners(task: Task) -> list[Any]:
    return []  # the server's listeners are configured, not made from MOO code


@builtin("open_network_connection", 0, None)
def open_network_connection(task: Task, *args: Any) -> Any:
    """Not offered to MOO code, which LambdaMOO answers with ``E_PERM`` (as ``listen``,
    ``unlisten`` and ``read_stdin`` here)."""
    raise MooRaise(Err.E_PERM)


@builtin("listen", 2, 3)
def listen(task: Task, *args: Any) -> Any:
    raise MooRaise(Err.E_PERM)


@builtin("unlisten", 1)
def unlisten(task: Task, where: Any) -> Any:
    raise MooRaise(Err.E_PERM)


@builtin("read_stdin", 0)
def read_stdin(task: Task) -> Any:
    raise MooRaise(Err.E_PERM)

"""Helpers for the task and world-builtin tests (no tests of its own).

``make()`` builds a real core world with a wizard (#2), a programmer, a plain player and a
thing the programmer owns, a ``Scheduler`` over it with ``FakeServices`` that collect what
players are told, and ways to run code as a task:

- ``tw.run(progr, fn)``: a task whose one frame runs ``fn(task)`` with ``progr``'s
  permissions (a Python stand-in for a compiled program);
- ``tw.bi(progr, "name", *args)``: one builtin called from such a task: its value or the
  ``Err`` it raised;
- ``tw.verb(oid, names, fn)``: a MOO verb record whose "program" is ``fn(task, frame)``.
- ``tw.eval(progr, source)``: real MOO source through the compiler (when it is there).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moo.commands.context import ConnectedPlayer, LineReader
from moo.lang.builtins import BUILTINS
from moo.lang.entries import run_eval
from moo.lang.scheduler import Outcome, Scheduler
from moo.lang.task import Task
from moo.lang.task_api import Frame, Limits
from moo.world import mutations as m
from moo.world.loader import build_core_world
from moo.world.model import MOO_IMPL, Flag, VerbDef
from moo.world.values import NOTHING, Err, ObjRef
from moo.world.world import World

WIZARD = 2
ROOM = 10
THING = 5

_sources = itertools.count(1)


class FakeServices:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []
        self.connected: dict[int, ConnectedPlayer] = {}
        self.readers: dict[int, LineReader] = {}
        self.booted: list[int] = []
        self.shutdowns: list[tuple[str, int]] = []
        self.moo_tasks: Scheduler | None = None
        self.output_is_held = False
        self.checkpoints: list[int] = []
        self.disk_size: int | None = None
        self.forced: list[tuple[int, str, bool]] = []
        self.flushed: list[tuple[int, bool]] = []
        self.options: dict[int, dict[str, object]] = {}

    def notify(self, player: int, text: str) -> None:
        for line in text.split("\n"):
            self.sent.append((player, line))

    def to(self, player: int) -> list[str]:
        return [text for who, text in self.sent if who == player]

    def connected_players(self) -> list[ConnectedPlayer]:
        return list(self.connected.values())

    def is_connected(self, player: int) -> bool:
        return player in self.connected

    def boot(self, player: int, reason: str) -> bool:
        self.booted.append(player)
        return True

    def read_lines(self, player: int, reader: LineReader) -> None:
        self.readers[player] = reader

    def request_shutdown(self, message: str, by: int) -> None:
        self.shutdowns.append((message, by))

    def request_checkpoint(self, by: int) -> None:
        self.checkpoints.append(by)

    def database_size(self) -> int | None:
        return self.disk_size

    def force_input(self, player: int, line: str, at_front: bool) -> bool:
        if player not in self.connected:
            return False
        self.forced.append((player, line, at_front))
        return True

    def flush_input(self, player: int, show_messages: bool) -> None:
        self.flushed.append((player, show_messages))

    def output_delimiters(self, player: int) -> tuple[str, str] | None:
        return ("", "") if player in self.connected else None

    def connection_options(self, player: int) -> dict[str, object] | None:
        if player not in self.connected:
            return None
        return {"hold-input": 0, **self.options.get(player, {})}

    def set_connection_option(self, player: int, name: str, value: object) -> bool:
        if player not in self.connected or name not in ("hold-input", "flush-command"):
            return False
        self.options.setdefault(player, {})[name] = int(value) if value is True else value
        return True

    def type_line(self, player: int, line: str) -> None:
        reader = self.readers.pop(player)
        reader(None, line)  # type: ignore[arg-type]  # the task's reader ignores the context


class PyProgram:
    """A compiled program's stand-in: ``run`` calls ``fn(task, frame)``."""

    def __init__(self, fn: Callable[[Any, Frame], Any]) -> None:
        self.fn = fn

    def run(self, task: Any, frame: Frame) -> Any:
        return self.fn(task, frame)


@dataclass
class TaskWorld:
    world: World
    services: FakeServices
    scheduler: Scheduler
    prog: int
    pleb: int
    box: int
    batches: list[list[m.Mutation]] = field(default_factory=list)

    def frame(self, progr: int, player: int | None = None) -> Frame:
        who = progr if player is None else player
        return Frame.make(
            this=ObjRef(NOTHING),
            player=ObjRef(who),
            caller=ObjRef(who),
            verb="",
            args=[],
            programmer=progr,
            definer=NOTHING,
            verb_names="Input to EVAL",
        )

    def run(self, progr: int, fn: Callable[[Task], Any], *, tell: bool = False) -> Outcome:
        task = self.scheduler.new_task(progr, "server")
        task.uncaught_to_player = tell
        frame = self.frame(progr)
        program = PyProgram(lambda t, _f: fn(t))
        return self.scheduler.start(task, lambda t: t.run_frame(program, frame))

    def bi(self, progr: int, name: str, *args: Any) -> Any:
        """``name(@args)`` called with ``progr``'s permissions: its value or its error."""
        outcome = self.run(progr, lambda t: BUILTINS[name].function(t, *args))
        assert outcome.status in ("done", "error"), outcome
        return outcome.value

    def verb(
        self,
        oid: int,
        names: str,
        fn: Callable[[Any, Frame], Any],
        *,
        perms: str = "rxd",
        owner: int = WIZARD,
        args: str = "this none this",
    ) -> VerbDef:
        source = f"/* python stand-in {next(_sources)} */"
        for debug in (True, False):  # whichever the verb's d bit asks for
            self.scheduler.programs[(source, debug)] = PyProgram(fn)
        dobj, prep, iobj = args.split()
        record = VerbDef(names, owner, perms, dobj, prep, iobj, MOO_IMPL, source)
        self.world.add_verb(oid, record)
        return record

    def eval(self, progr: int, source: str) -> Outcome:
        return run_eval(self.scheduler, progr, source)


def make(limits: Limits | None = None) -> TaskWorld:
    world = build_core_world()
    services = FakeServices()
    scheduler = Scheduler(world, services, foreground=limits or Limits())
    services.moo_tasks = scheduler  # the host's one scheduler (a dispatcher asks for it)
    player_flags = int(Flag.PLAYER)
    prog = world.create(4, NOTHING, "Prog", location=ROOM, flags=player_flags | Flag.PROGRAMMER)
    world.set_owner(prog, prog)
    pleb = world.create(4, NOTHING, "Pleb", location=ROOM, flags=player_flags)
    world.set_owner(pleb, pleb)
    box = world.create(THING, prog, "box", location=ROOM)
    tw = TaskWorld(world, services, scheduler, prog, pleb, box)
    world.add_observer(lambda records: tw.batches.append(list(records)))
    return tw


def err(value: Any) -> Err:
    assert isinstance(value, Err), value
    return value


def test_helpers_build_a_world() -> None:
    tw = make()
    assert tw.bi(tw.prog, "valid", ObjRef(tw.box)) == 1

"""A small in-memory ``TaskApi`` for the compiler's unit tests (a test double, not the runtime).

Objects are dicts of properties with a parent; verbs are compiled programs; ``fork`` records
its bodies; ``call_verb`` runs another compiled program in a new frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moo.lang.compiler import compile_program
from moo.lang.errors import MooRaise, TaskAbort
from moo.lang.task_api import Frame, Limits, TaskApi
from moo.world.values import Err, ObjRef


class MemoryTask:
    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.ticks = self.limits.ticks
        self.objects: dict[int, dict[str, Any]] = {0: {}}
        self.parents: dict[int, int] = {0: -1}
        self.verbs: dict[tuple[int, str], Any] = {}
        self.forks: list[tuple[Any, Callable[[Any], Any]]] = []
        self.frames: list[Frame] = []
        self.output: list[Any] = []

    @property
    def frame(self) -> Frame:
        return self.frames[-1]

    def add_object(self, oid: int, parent: int = -1, **props: Any) -> None:
        self.objects[oid] = dict(props)
        self.parents[oid] = parent

    def add_verb(self, oid: int, name: str, source: str) -> None:
        self.verbs[(oid, name.lower())] = compile_program(source)

    def out_of_ticks(self) -> None:
        raise TaskAbort("ticks")

    def _valid(self, obj: Any) -> int:
        if obj.__class__ is not ObjRef:
            raise MooRaise(Err.E_TYPE)
        if obj.id not in self.objects:
            raise MooRaise(Err.E_INVIND)
        return obj.id

    def get_prop(self, obj: Any, name: Any) -> Any:
        if name.__class__ is not str:
            raise MooRaise(Err.E_TYPE)
        oid = self._valid(obj)
        while oid != -1:
            if name.lower() in self.objects[oid]:
                return self.objects[oid][name.lower()]
            oid = self.parents[oid]
        raise MooRaise(Err.E_PROPNF)

    def set_prop(self, obj: Any, name: Any, value: Any) -> None:
        if name.__class__ is not str:
            raise MooRaise(Err.E_TYPE)
        oid = self._valid(obj)
        self.get_prop(obj, name)
        self.objects[oid][name.lower()] = value

    def _find(self, oid: int, name: str) -> tuple[int, Any]:
        while oid != -1:
            program = self.verbs.get((oid, name.lower()))
            if program is not None:
                return oid, program
            oid = self.parents[oid]
        raise MooRaise(Err.E_VERBNF)

    def _invoke(self, this: ObjRef, name: str, definer: int, program: Any, args: list[Any]) -> Any:
        if len(self.frames) >= self.limits.max_depth:
            raise MooRaise(Err.E_MAXREC)
        caller = self.frames[-1].this if self.frames else ObjRef(-1)
        frame = Frame.make(
            this=this,
            player=ObjRef(2),
            caller=caller,
            verb=name,
            args=args,
            programmer=2,
            definer=definer,
        )
        self.frames.append(frame)
        try:
            return program.run(self, frame)
        finally:
            self.frames.pop()

    def call_verb(self, obj: Any, name: Any, args: list[Any], site: list[Any] | None = None) -> Any:
        if name.__class__ is not str:
            raise MooRaise(Err.E_TYPE)
        oid = self._valid(obj)
        definer, program = self._find(oid, name)
        return self._invoke(obj, name, definer, program, args)

    def pass_verb(self, args: list[Any]) -> Any:
        frame = self.frame
        parent = self.parents.get(frame.definer, -1)
        if parent == -1:
            raise MooRaise(Err.E_VERBNF)
        definer, program = self._find(parent, frame.verb)
        return self._invoke(frame.this, frame.verb, definer, program, args)

    def fork(self, delay: Any, body: Callable[[TaskApi], None]) -> int:
        self.forks.append((delay, body))
        return 1000 + len(self.forks)

    def run(self, source: str, this: int = -1, args: list[Any] | None = None) -> Any:
        """Compile and run ``source`` as a verb on ``this``."""
        program = compile_program(source)
        return self._invoke(ObjRef(this), "test", this, program, args or [])


def evaluate(source: str, **kwargs: Any) -> Any:
    """The value of a program, or the error code it raised (``Err`` / value)."""
    task = MemoryTask(kwargs.pop("limits", None))
    try:
        return task.run(source, **kwargs)
    except MooRaise as exc:
        return ("raised", exc.code)

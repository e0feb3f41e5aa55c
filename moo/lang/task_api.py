"""The contract between compiled MOO code, the builtins and the task runtime.

Compiled code and builtins see only what this module names. The runtime that implements
``TaskApi`` against the real world lives in ``moo/lang/task.py``; the compiler's unit tests
use a small in-memory one.

A verb activation is a ``Frame``. Compiled code reads its built-in variables (``this``,
``player``, ``caller``, ``verb``, ``args``, ``argstr``, ``dobj``, ``dobjstr``, ``prepstr``,
``iobj``, ``iobjstr``) from the frame once, at entry, into ordinary (mangled) locals.

What compiled code calls on the task:

- ``task.ticks -= 1`` at every loop back-edge, then ``task.out_of_ticks()`` when it reaches 0
  (the task decides: abort with ``TaskAbort("ticks")`` / ``("seconds")``, or grant more).
- ``task.get_prop(obj, name)`` / ``task.set_prop(obj, name, value)``: ``obj.name``,
  ``obj.(expr)``, ``$name`` (as ``#0.name``), with MOO's errors and permissions.
- ``task.call_verb(obj, name, args)``: ``obj:name(...)``, ``obj:(expr)(...)``, ``$name:v()``
  (each call costs ticks; the callee gets a new frame with ``caller`` = this frame's ``this``).
  A call with a literal verb name passes ``site`` too: a list of its own, where the task may
  keep what it found (a cache for that call site; any contents the task puts there).
- ``task.pass_verb(args)``: ``pass(...)``, the same verb on the definer's parent.
- ``task.fork(delay, body)``: ``fork [name] (delay) ... endfork``; ``body(task)`` runs later as
  its own task (with its own budget) over a copy of the variables taken at the fork; returns
  the new task's id.
- builtins: ``BUILTINS[name].function(task, *args)`` (``moo/lang/builtins/``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from moo.world.values import NOTHING, ObjRef

FRAME_VARIABLES = (
    "this",
    "player",
    "caller",
    "verb",
    "args",
    "argstr",
    "dobj",
    "dobjstr",
    "prepstr",
    "iobj",
    "iobjstr",
)
"""The built-in variables a verb starts with (read from its ``Frame``)."""

FRAME_READS = {
    "this": "frame.this",
    "player": "frame.context[0]",
    "caller": "frame.caller",
    "verb": "frame.entry[2]",
    "args": "frame.args",
    "argstr": "frame.context[1]",
    "dobj": "frame.context[2]",
    "dobjstr": "frame.context[3]",
    "prepstr": "frame.context[4]",
    "iobj": "frame.context[5]",
    "iobjstr": "frame.context[6]",
}
"""How compiled code reads each of them from ``frame`` (``Frame``'s properties are slower)."""


@dataclass(frozen=True)
class Limits:
    """Budgets and value-size limits of one task (config ``lang.*``)."""

    ticks: int = 30_000  # LambdaMOO's foreground default; forked tasks get 15,000
    seconds: float = 5.0  # foreground; forked tasks get 3.0
    max_depth: int = 50  # nested verb calls before E_MAXREC
    max_string_length: int = 1_000_000  # characters; a longer result is E_QUOTA
    max_list_length: int = 100_000  # elements; a longer result is E_QUOTA


class Frame:
    """One verb activation (or one ``;`` evaluation).

    A verb call stores 7 fields (``Task.call_verb``), each cost ~7 ns measured: what every
    frame of a task shares (``player`` and the command's words ``argstr dobj dobjstr prepstr
    iobj iobjstr``) is one tuple, ``context``, handed on from the caller; what a call site
    finds with the verb (``definer``, ``verb_names``, and the name ``verb`` it was called by)
    is one tuple, ``entry``, that the site keeps. The names are properties over them, for
    the rare readers; compiled code reads the tuples (``FRAME_READS``). Before: 15 fields,
    then 10 (``player`` and ``command`` separately, the other three each a field).
    It has no ``__init__`` (``make`` builds one from keywords): ``Frame()`` is then the
    cheapest way Python has to make an object (~50 ns less than ``object.__new__(Frame)``,
    ~100 ns less than an ``__init__`` taking keywords).
    """

    __slots__ = ("args", "caller", "context", "entry", "line", "programmer", "this")
    this: ObjRef
    caller: ObjRef
    args: list[Any]
    programmer: int  # whose permissions the code runs with (the verb's owner)
    entry: Entry  # definer (for pass()), verb_names (tracebacks), verb (the name called by)
    context: Context  # player and the command's words: the same in every frame of a task
    line: int  # the line running when the frame was left (tracebacks)

    @classmethod
    def make(
        cls,
        *,
        this: ObjRef,
        player: ObjRef,
        caller: ObjRef,
        verb: str,
        args: list[Any],
        programmer: int,
        definer: int = NOTHING,
        verb_names: str = "",
        argstr: str = "",
        dobj: ObjRef | None = None,
        dobjstr: str = "",
        prepstr: str = "",
        iobj: ObjRef | None = None,
        iobjstr: str = "",
    ) -> Frame:
        """A frame from its fields (a verb called from another gets ``call``'s)."""
        frame = cls()
        frame.this = this
        frame.caller = caller
        frame.args = args
        frame.programmer = programmer
        frame.entry = (definer, verb_names, verb)
        nothing = ObjRef(NOTHING)
        frame.context = (
            player,
            argstr,
            dobj if dobj is not None else nothing,
            dobjstr,
            prepstr,
            iobj if iobj is not None else nothing,
            iobjstr,
        )
        frame.line = 0
        return frame

    def call(
        self, this: ObjRef, verb: str, args: list[Any], programmer: int, definer: int, names: str
    ) -> Frame:
        """The frame of a verb called from this one: same player and command words,
        ``caller`` = this frame's ``this``."""
        frame = Frame()
        frame.this = this
        frame.caller = self.this
        frame.args = args
        frame.programmer = programmer
        frame.entry = (definer, names, verb)
        frame.context = self.context
        frame.line = 0
        return frame

    @property
    def definer(self) -> int:
        """The object the verb is defined on (for ``pass()``)."""
        return self.entry[0]

    @property
    def verb_names(self) -> str:
        """The verb's full name string, for tracebacks."""
        return self.entry[1]

    @property
    def verb(self) -> str:
        """The name it was called by."""
        return self.entry[2]

    @property
    def player(self) -> ObjRef:
        return self.context[0]

    @property
    def command(self) -> Command:
        """The command's words: argstr, dobj, dobjstr, prepstr, iobj, iobjstr."""
        c = self.context
        return (c[1], c[2], c[3], c[4], c[5], c[6])

    @property
    def argstr(self) -> str:
        return self.context[1]

    @property
    def dobj(self) -> ObjRef:
        return self.context[2]

    @property
    def dobjstr(self) -> str:
        return self.context[3]

    @property
    def prepstr(self) -> str:
        return self.context[4]

    @property
    def iobj(self) -> ObjRef:
        return self.context[5]

    @property
    def iobjstr(self) -> str:
        return self.context[6]


Command = tuple[str, ObjRef, str, str, ObjRef, str]
"""A frame's command words: argstr, dobj, dobjstr, prepstr, iobj, iobjstr."""

Context = tuple[ObjRef, str, ObjRef, str, str, ObjRef, str]
"""``Frame.context``: player, argstr, dobj, dobjstr, prepstr, iobj, iobjstr."""

Entry = tuple[int, str, str]
"""``Frame.entry``: definer, verb_names, verb (the name it was called by)."""


class TaskApi(Protocol):
    """What compiled code and builtins may ask of the running task."""

    ticks: int
    limits: Limits

    @property
    def frame(self) -> Frame:
        """The innermost activation."""
        ...

    def out_of_ticks(self) -> None: ...

    def get_prop(self, obj: Any, name: Any) -> Any: ...

    def set_prop(self, obj: Any, name: Any, value: Any) -> None: ...

    def call_verb(
        self, obj: Any, name: Any, args: list[Any], site: list[Any] | None = None
    ) -> Any: ...

    def pass_verb(self, args: list[Any]) -> Any: ...

    def fork(self, delay: Any, body: Callable[[TaskApi], None]) -> int: ...

"""A task's activations: the stack of its running verbs, and their lines.

1. ``Activations.stack`` holds one entry per running verb (and ``;`` text), outermost
   first: a ``Frame``, or a ``Light`` tuple ``(this, args, (filename, owner, entry))``
   (``+ (context,)`` for a verb that reads ``player``, ``caller``, ``verb`` or the
   command's words) that a verb pushes when a call site calls it directly
   (``verb_calls.call_entry``): making a ``Frame`` at every call was a fifth of a verb
   call's cost (fib(25): 5,769 -> 4,809 instructions a call).
2. ``frame`` (the innermost) and ``frames`` (all) make a ``Frame`` of each ``Light`` they
   meet, in place, as ``Task.call_verb`` would have made it (``caller`` the ``this`` of
   the one below, its ``context``): a builtin's permission check, ``callers()``,
   ``set_task_perms()``, a traceback's line and ``suspend()`` see the same frames as
   before, and what they change in one stays with it.
3. The lines: ``running_lines`` (``callers(1)``) and ``waiting_line`` read the MOO line
   from the Python frames of compiled code (their line numbers are MOO lines);
   ``moo_line`` from a traceback; ``unwind_line`` writes LambdaMOO's traceback lines and
   ``unwind`` the error's stack list too (what ``except e (...)`` shows in ``e[4]``).
"""

from __future__ import annotations

import sys
from types import FrameType, TracebackType
from typing import Any

from moo.lang.errors import MooRaise
from moo.lang.task_api import Frame
from moo.world.values import NOTHING, ObjRef

Light = tuple[Any, ...]
"""A directly called verb's activation until a ``Frame`` is asked for: this, args, the
site's (filename, owner, entry), and for a verb that reads more than ``this`` and
``args``, the task's ``Frame.context``."""


class Activations:
    """The stack of one task's activations (``Task`` is one)."""

    stack: list[Any]  # each a ``Frame`` or a ``Light``: the hot path tests its class

    @property
    def frame(self) -> Frame:
        """The innermost activation's ``Frame`` (made now if a direct call left a ``Light``)."""
        top = self.stack[-1]
        if top.__class__ is Frame:
            return top
        return self._made(len(self.stack) - 1)

    @property
    def frames(self) -> list[Frame]:
        """Every activation's ``Frame``, outermost first (each ``Light`` made one, in place)."""
        stack = self.stack
        for i, entry in enumerate(stack):
            if entry.__class__ is not Frame:
                self._made(i)
        return stack

    def _made(self, index: int) -> Frame:
        """``stack[index]`` as a ``Frame``: it and the ``Light`` entries below it, down to
        the nearest ``Frame`` (the task's first activation always is one), are replaced by
        the frames ``call_verb`` would have pushed: ``caller`` the one below's ``this``,
        the same ``context``. Later readers and writers (``set_task_perms``) see them."""
        stack = self.stack
        first = index
        while first > 0 and stack[first].__class__ is not Frame:
            first -= 1
        below: Frame = stack[first]
        for i in range(first + 1, index + 1):
            light = stack[i]
            _filename, owner, (definer, names, verb) = light[2]
            frame = below.call(light[0], verb, light[1], owner, definer, names)
            if len(light) == 4:
                frame.context = light[3]
            stack[i] = below = frame
        return below

    def push(self, frame: Frame) -> None:
        self.stack.append(frame)

    def pop(self) -> None:
        self.stack.pop()


MOO_CODE_PREFIX = "<moo "  # the co_filename of every compiled program (``compiler.py``)


def running_lines(task: Activations) -> list[int]:
    """The MOO line each running frame of ``task`` is on, innermost first, read from the
    Python frames of their compiled code (whose line numbers are MOO lines): what
    ``callers(1)`` shows. Nested functions of a frame's code (catch expressions, hoisted
    parts) are not frames of their own. Frames that are not running compiled code now (a
    restored task's outer frames) are not in it: their ``Frame.line`` says where they are."""
    lines: list[int] = []
    frame = sys._getframe(1)
    while frame is not None and len(lines) < len(task.stack):
        code = frame.f_code
        if code.co_filename.startswith(MOO_CODE_PREFIX) and not code.co_name.startswith("_c"):
            lines.append(frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return lines


def waiting_line(frame: FrameType | None) -> int:
    """The MOO line of the innermost compiled MOO code at or above Python ``frame`` (a
    waiting greenlet's ``gr_frame``, or the running one's): where a task waits or forks;
    0 when there is none."""
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith(MOO_CODE_PREFIX) and not code.co_name.startswith("_c"):
            return frame.f_lineno
        frame = frame.f_back
    return 0


def moo_line(tb: TracebackType | None, filename: str, default: int) -> int:
    """The MOO line of the outermost entry of ``tb`` in code compiled from ``filename`` (any
    compiled MOO code when it is empty): where the error left that activation."""
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name == filename or (not filename and name.startswith(MOO_CODE_PREFIX)):
            return tb.tb_lineno
        tb = tb.tb_next
    return default


def unwind(frame: Frame, error: MooRaise, via: str = "") -> None:
    """``error`` leaves ``frame``: its traceback line, and its entry in the error's stack
    (then the builtin's, ``{#-1, name, #-1, #-1, player, 0}``, when one made the call)."""
    unwind_line(frame, error.traceback, error.message, via)
    error.stack.append(stack_entry(frame))
    if via:
        nothing = ObjRef(NOTHING)
        error.stack.append([nothing, via, nothing, nothing, frame.player, 0])


def stack_entry(frame: Frame) -> list[Any]:
    """LambdaMOO's ``{this, verb, programmer, verb location, player, line}`` of a frame."""
    return [
        frame.this,
        frame.verb,
        ObjRef(frame.programmer),
        ObjRef(frame.definer),
        frame.player,
        frame.line,
    ]


def unwind_line(frame: Frame, lines: list[str], message: str, via: str = "") -> None:
    """Add ``frame``'s line to a traceback being written innermost first (LambdaMOO's
    ``#definer:names (this == #this), line N:  message`` / ``... called from ...``, and
    ``... called from built-in function move()`` when a builtin made the call)."""
    text = f"#{frame.definer}:{frame.verb_names}"
    if lines:
        text = "... called from " + text
    if frame.definer != frame.this.id:
        text += f" (this == #{frame.this.id})"
    text += f", line {frame.line}"
    if not lines:
        text += f":  {message}"
    lines.append(text)
    if via:
        lines.append(f"... called from built-in function {via}()")

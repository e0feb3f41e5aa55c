"""How compiled code calls a verb whose name is a literal: straight into the verb's ``run``.

1. The call site (``VerbCalls.verb_call``): a global ``_siteN``, a list in which
   ``Task.call_verb`` keeps the receiver, the verbs epoch and the scheduler's site token it
   found the verb with, the verb's ``run`` and its (filename, owner, entry). While the
   receiver, epoch and token are the same, the site calls ``run(task, obj, args, site)``
   itself; otherwise (and the first time) ``task.call_verb``.
2. The callee's entry (``CALL_ENTRY``): what ``Task.call_verb`` does before it calls a verb
   (a tick, the depth check, a ``Frame`` pushed), done by the verb's own ``run`` when it is
   called from a site: one Python frame per MOO call instead of two.
3. Its exit (``CALL_EXIT``): what ``Task.call_verb`` does as the verb returns or raises
   (``task.left`` converts the error, the frame is popped).

``run(task, frame)`` (``Task.run_frame``, ``call_verb``) skips both. ``codegen`` wraps
every program's ``run`` in them (``codegen._Gen.source``), and keeps their Python lines in
tracebacks (``codegen.finish``): no MOO line is ever read there.
"""

from __future__ import annotations

from moo.lang import tree as t
from moo.lang.analysis import walk
from moo.lang.expressions import Expressions

CALL_ENTRY = (
    "if _site is not None:",  # called from a call site: ``frame`` is the receiver
    "    _filename, _owner, _entry = _site[4]",
    "    task.ticks -= 1",
    "    if task.ticks <= 0:",
    "        task.out_of_ticks()",
    "    _frames = task.frames",
    "    if _len(_frames) >= task.max_depth:",
    "        raise _MooRaise(_E_MAXREC)",
    "    _caller = task.frame",
    "    _fr = _Frame()",
    "    _fr.this = frame",
    "    _fr.caller = _caller.this",
    "    _fr.args = _args",
    "    _fr.programmer = _owner",
    "    _fr.entry = _entry",
    "    _fr.context = _caller.context",
    "    _fr.line = 0",
    "    frame = _fr",
    "    _frames.append(frame)",
    "    task.frame = frame",
)
"""What ``Task.call_verb`` does before it calls a verb, done by the verb's own ``run`` when
a call site of compiled code calls it directly (``VerbCalls.verb_call``): one Python frame per
MOO call instead of two. ``run(task, frame)`` (``Task.run_frame``, ``call_verb``) skips it."""

CALL_EXIT = (
    "except _LEFT as _exc:",
    "    if _site is None:",
    "        raise",
    "    _converted = task.left(frame, _exc, _filename)",
    "    if _converted is None:",
    "        raise",
    "    raise _converted from None",
    "finally:",
    "    if _site is not None:",
    "        _frames.pop()",
    "        task.frame = _caller",
)
"""What ``Task.call_verb`` does as a verb it called returns or raises, for a direct call."""


class VerbCalls(Expressions):
    """The call site's emitter; ``codegen._Gen`` provides the rest of the generator."""

    def verb_call(self, e: t.VerbCall) -> str:
        """``obj:name(...)`` with a literal name: its site (``Task.call_verb`` keeps there
        the receiver, the epoch and world it found the verb in, and the verb's ``run``)
        calls ``run`` directly while they are the same (``CALL_ENTRY``), else
        ``call_verb``. Measured: fib(25) ~114 -> ~106 ms in-process. A receiver that is a
        variable is read as it is, with no temporary, when the arguments can change
        nothing (no call, no assignment): ~4 ms of that."""
        site = f"_site{next(self.counter)}"
        self.globals[site] = [None, None, None, None, None]
        target = self.ex(e.obj)
        pure = not any(isinstance(n, (t.Call, t.VerbCall, t.Assign)) for n in walk(e.args))
        obj = target if pure and target.startswith("v_") and target.isidentifier() else self.tmp()
        check = f"{obj} is {site}[0] and {site}[1] is task.world.verbs_epoch"
        check += f" and {site}[2] is task.scheduler.site_token"
        if obj == target:  # a variable that arguments calling and assigning nothing leave be
            args, found = self.list_text(e.args), check
        elif pure:  # arguments that call nothing cannot change verbs: evaluated in either branch
            args, found = self.list_text(e.args), f"({obj} := {target}) is not None and {check}"
        else:  # evaluated once, before the check (the text of each branch: no nested copies)
            args = self.tmp()
            found = (
                f"({obj} := {target}) is not None"
                f" and ({args} := {self.list_text(e.args)}) is not None and {check}"
            )
        slow = f"task.call_verb({obj}, {self.ex(e.verb)}, {args}, {site})"
        return f"({site}[3](task, {obj}, {args}, {site}) if {found} else {slow})"

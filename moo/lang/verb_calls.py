"""How compiled code calls a verb whose name is a literal: straight into the verb's ``run``.

1. The call site (``VerbCalls.verb_call``): a global ``_siteN``, a list in which
   ``Task.call_verb`` keeps the receiver, the verbs epoch and the scheduler's site token it
   found the verb with, the verb's ``run`` and its (filename, owner, entry). While the
   receiver, epoch and token are the same, the site calls ``run(task, obj, args, site)``
   itself; otherwise (and the first time) ``task.call_verb``.
2. The callee's entry (``call_entry``): what ``Task.call_verb`` does before it calls a verb
   (a tick, the depth check, an activation pushed on ``task.stack``: a ``Light`` tuple,
   made a ``Frame`` only when one is asked for), done by the verb's own ``run`` when it is
   called from a site: one Python frame per MOO call instead of two.
3. Its exit (``CALL_EXIT``): what ``Task.call_verb`` does as the verb returns or raises
   (``task.left`` converts the error, the activation is popped).

``run(task, frame)`` (``Task.run_frame``, ``call_verb``) skips both. ``codegen`` wraps
every program's ``run`` in them (``codegen._Gen.source``), and keeps their Python lines in
tracebacks (``codegen.finish``): no MOO line is ever read there.
"""

from __future__ import annotations

from moo.lang import tree as t
from moo.lang.analysis import walk
from moo.lang.expressions import Expressions
from moo.lang.task_api import FRAME_READS

LIGHT_VARIABLES = frozenset({"this", "args"})
"""The built-in variables a direct call hands a verb as they are: a verb that reads no
other pushes a ``Light`` entry of three (``call_entry``)."""

DIRECT_READS = {
    "this": "frame",
    "args": "_args",
    "caller": "_up",
    "verb": "_info[2][2]",
    "player": "_ctx[0]",
    "argstr": "_ctx[1]",
    "dobj": "_ctx[2]",
    "dobjstr": "_ctx[3]",
    "prepstr": "_ctx[4]",
    "iobj": "_ctx[5]",
    "iobjstr": "_ctx[6]",
}
"""Each built-in variable in a directly called verb: what ``task_api.FRAME_READS`` reads
from its ``Frame``, from the entry's locals."""


def call_entry(frame_vars: list[str]) -> list[str]:
    """The lines ``run`` starts with (before its ``try``), for a verb whose body reads the
    built-in variables ``frame_vars``.

    What ``Task.call_verb`` does before it calls a verb (a tick, the depth check, an entry
    pushed on ``task.stack``), done by the verb's own ``run`` when a call site of compiled
    code calls it directly (``VerbCalls.verb_call``, ``_site`` is not None; ``frame`` is
    then the receiver): one Python frame per MOO call instead of two. ``run(task, frame)``
    (``Task.run_frame``, ``call_verb``) skips it and reads ``frame``.

    The entry pushed is a ``Light`` tuple, not a ``Frame``: ``(this, args, (filename,
    owner, entry))`` for a verb that reads no built-in variable but ``this`` and ``args``,
    ``(this, args, (filename, owner, entry), context)`` for any other, which finds the
    task's ``context`` (player and command words) and its caller (``_up``) in the entry
    below (a ``Frame`` or a ``Light`` of four; below one of three, ``task.frame`` makes
    that a ``Frame`` first). The variables are read from the entry's locals
    (``DIRECT_READS``). No ``Frame`` is made unless something asks for one
    (``Task.frame``, ``Task.frames``: a builtin's permission check, ``callers()``, an
    error's traceback line, ``suspend()``), which then makes the very frame
    ``call_verb`` would have pushed. Measured (callgrind instructions a fib call, more
    in ``Task.call_verb``): 5,769 -> 4,809 for fib; for fib reading ``player``, whose
    entry was a ``Frame`` until then, 5,793 -> 4,910.
    """
    entry = [
        "if _site is not None:",  # called from a call site: ``frame`` is the receiver
        "    _info = _site[4]",  # (filename, owner, entry): the site may change meanwhile
        "    task.ticks -= 1",
        "    if task.ticks <= 0:",
        "        task.out_of_ticks()",
        "    _stack = task.stack",
        "    if _len(_stack) >= task.max_depth:",
        "        raise _MooRaise(_E_MAXREC)",
    ]
    if LIGHT_VARIABLES.issuperset(frame_vars):
        entry.append("    _stack.append((frame, _args, _info))")
    else:
        up = "caller" in frame_vars
        entry += [
            "    _below = _stack[-1]",
            "    if _below.__class__ is _Frame:",
            "        _ctx = _below.context",
            *(["        _up = _below.this"] if up else []),
            "    elif _len(_below) == 4:",
            "        _ctx = _below[3]",
            *(["        _up = _below[0]"] if up else []),
            "    else:",
            "        _below = task.frame",
            "        _ctx = _below.context",
            *(["        _up = _below.this"] if up else []),
            "    _stack.append((frame, _args, _info, _ctx))",
        ]
    if frame_vars:
        entry += [f"    v_{name} = {DIRECT_READS[name]}" for name in frame_vars]
        entry += ["else:", *[f"    v_{name} = {FRAME_READS[name]}" for name in frame_vars]]
    return entry


CALL_EXIT = (
    "except _LEFT as _exc:",
    "    if _site is None:",
    "        raise",
    "    _converted = task.left(_exc, _info[0])",
    "    if _converted is None:",
    "        raise",
    "    raise _converted from None",
    "finally:",
    "    if _site is not None:",
    "        _stack.pop()",
)
"""What ``Task.call_verb`` does as a verb it called returns or raises, for a direct call."""


class VerbCalls(Expressions):
    """The call site's emitter; ``codegen._Gen`` provides the rest of the generator."""

    def verb_call(self, e: t.VerbCall) -> str:
        """``obj:name(...)`` with a literal name: its site (``Task.call_verb`` keeps there
        the receiver, the epoch and world it found the verb in, and the verb's ``run``)
        calls ``run`` directly while they are the same (``call_entry``), else
        ``call_verb``. Measured: fib(25) ~114 -> ~106 ms in-process. A receiver that is a
        variable is read as it is, with no temporary, when the arguments can change
        nothing (no call, no assignment): ~4 ms of that."""
        site = f"_site{next(self.counter)}"
        self.globals[site] = [None, None, None, None, None]
        target = self.ex(e.obj)
        pure = not any(isinstance(n, (t.Call, t.VerbCall, t.Assign)) for n in walk(e.args))
        obj = target if pure and target.startswith("v_") and target.isidentifier() else self.tmp()
        check = f"{obj} is {site}[0] and {site}[1] is task.world.verbs_epoch"
        check += f" and {site}[2] is task.site_token"
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

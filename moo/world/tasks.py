"""Queued MOO tasks as world data: what a restart needs to run them again.

In LambdaMOO the task queue is part of the database: a checkpoint writes every forked and
suspended task, and a restart runs them on. Here a queued task is a ``QueuedTask`` record
kept in ``World.tasks`` beside the objects (not in them), changed only through the world's
one mutation path (``World.queue_task`` / ``World.drop_task``, records ``QueueTask`` and
``DropTask`` in ``mutations.py``), so the journal, the checkpoints and a hot upgrade carry
it like any property. The scheduler (``moo/lang/saving.py``, ``saved_tasks.py``, ``suspended.py``)
writes a record when it queues a task and drops it when the task starts or is killed.

What a record holds is plain world values (no Python code, no greenlet): the task's id,
when it is due (wall clock), whose it is, and its frames, each naming its program by the
verb it belongs to (its ``definer`` and ``source_hash``) or, for ``;`` text that is no
verb, by the source text itself, with the variables it had.
"""

from __future__ import annotations

from typing import Any

import msgspec

FORK = "fork"
"""``QueuedTask.kind`` of a ``fork (delay) ... endfork`` not yet started."""

SUSPENDED = "suspended"
"""``QueuedTask.kind`` of a task waiting in ``suspend()``."""


class SavedFrame(msgspec.Struct, array_like=True):
    """One verb activation of a queued task.

    ``source`` is the program's text when it is not a verb's (``;`` text), else "": the
    program is found again among ``definer``'s verbs by ``source_hash`` (the compiler's
    hash of its text; a verb reprogrammed since no longer matches). ``command``: argstr,
    dobj, dobjstr, prepstr, iobj, iobjstr. ``variables``: the MOO variables that had a
    value, by name. ``resume``: where a suspended frame goes on (``moo/lang/suspended.py``);
    [] for a fork.
    """

    this: int
    player: int
    caller: int
    verb: str
    args: list[Any]
    programmer: int
    definer: int
    verb_names: str
    command: list[Any]
    line: int
    source_hash: str
    source: str
    variables: dict[str, Any]
    resume: list[Any] = msgspec.field(default_factory=list)


class QueuedTask(msgspec.Struct, array_like=True):
    """A task waiting in the queue. ``start``: wall-clock time it is due (-1: until
    ``resume()``). ``fork``: for a fork, which ``fork`` statement of its program (counted
    in source order from 0); -1 for a suspended task. ``frames``: outermost first.
    ``origin``: for a suspended task, what started it (``Task.kind``: "eval" for ``;``
    text, whose value is shown when it ends; "command", "fork", "server"); "" for a fork,
    and in records written before it was kept (restored as a command: nothing shown)."""

    id: int
    kind: str
    start: float
    owner: int
    player: int
    fork: int
    frames: list[SavedFrame]
    origin: str = ""

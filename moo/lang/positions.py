"""Where a suspended frame is in its program: statement paths, numbered loops and forks.

A frame that waits (``suspend()``, or a verb it called waits) is saved as a *path* from
its root block (the program, or a fork's body for a forked task's base frame) to the
statement it waits in: one ``[index, branch]`` step a level (``branch``: which arm of an
``if`` (0, 1 ...; ``len(arms)`` is ``else``), 0 for a loop's body or a ``try``'s body,
``k + 1`` for a ``try``'s ``except`` arm ``k``; on the last step -1 for a plain statement,
``HEADER - k`` for the head of an ``if``, a loop or a range).

1. ``numbered``: every loop and ``fork`` of a program gets a number, in source order. The
   compiler names a loop's hidden state after it (``_fl<k>`` the list of ``for x in
   (list)`` and ``_fi<k>`` its index; ``_fi<k>`` the counter of ``for i in [a..b]`` and
   ``_fe<k>`` its end), in the fast code and in the resumed code alike, so a frame saves
   the same way however often it was restored.
2. ``locate``: the statement a frame waits in, found by the MOO line its Python frame is
   on and the call it waits in (its kind, and the verb's name for a verb call): it must be
   the only such call that can wait on that line (a verb call, ``pass``, ``suspend``,
   ``read``), in a plain statement (an expression, ``return``) or the head of an ``if``,
   ``while`` or ``for``: otherwise the frame is not saved (the task then lives in memory
   only, and says so in the log).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from moo.lang import tree as t
from moo.lang.analysis import walk

WAITING_CALLS = frozenset({"suspend", "read", "pass"})
"""Builtins a frame can be waiting in (``pass`` calls a verb, which may wait)."""

Path = list[list[int]]

HEADER = -2
"""A last step's branch ``HEADER - k``: the frame waits in the statement's own expression
``k`` (an ``if``'s arm ``k`` condition, a ``while``'s condition, a ``for``'s list, or a
range's start (0) or end (1)), before the block it leads to."""


def statements(body: tuple[t.Stmt, ...]) -> Iterator[t.Stmt]:
    """Every statement under ``body``, in source order (fork bodies included)."""
    for s in body:
        yield s
        for child in children(s):
            yield from statements(child)


def children(s: t.Stmt) -> list[tuple[t.Stmt, ...]]:
    """The blocks of a statement, by branch number (see the module docstring)."""
    if isinstance(s, t.If):
        blocks = [body for _, body in s.arms]
        return [*blocks, s.otherwise] if s.otherwise is not None else blocks
    if isinstance(s, (t.While, t.ForList, t.ForRange, t.Fork)):
        return [s.body]
    if isinstance(s, t.TryExcept):
        return [s.body, *(arm.body for arm in s.arms)]
    if isinstance(s, t.TryFinally):
        return [s.body, s.handler]
    return []


def numbered(program: tuple[t.Stmt, ...]) -> tuple[dict[int, int], dict[int, int]]:
    """(fork numbers, loop numbers) by ``id`` of the node, each counted in source order."""
    forks: dict[int, int] = {}
    loops: dict[int, int] = {}
    for s in statements(program):
        if isinstance(s, t.Fork):
            forks[id(s)] = len(forks)
        elif isinstance(s, (t.While, t.ForList, t.ForRange)):
            loops[id(s)] = len(loops)
    return forks, loops


def root_block(program: tuple[t.Stmt, ...], fork: int) -> tuple[t.Stmt, ...]:
    """The program itself (``fork`` < 0) or the body of its fork number ``fork``."""
    if fork < 0:
        return program
    for s in statements(program):
        if isinstance(s, t.Fork):
            if fork == 0:
                return s.body
            fork -= 1
    raise LookupError("no such fork")


def waits(node: Any) -> bool:
    return isinstance(node, t.VerbCall) or (isinstance(node, t.Call) and node.name in WAITING_CALLS)


def may_wait(body: tuple[t.Stmt, ...]) -> bool:
    """Whether a task can be saved waiting somewhere in ``body`` (fork bodies aside)."""
    return any(waits(n) for n in walk(body))


def locate(
    root: tuple[t.Stmt, ...], line: int, kind: str = "", verb: str = ""
) -> tuple[Path, Any] | None:
    """(path, the call) of the one call on ``line`` of ``root`` that can wait there, when
    it is in a plain statement; None when there is none or more than one. ``kind``, when
    given, narrows them down: "verb" (a verb call; named ``verb`` when its name is a
    literal), or a builtin's name ("suspend", "pass")."""
    found: list[tuple[Path | None, Any]] = []
    _scan(root, line, [], found)
    if kind:
        found = [(path, call) for path, call in found if _is(call, kind, verb)]
    if len(found) != 1:
        return None
    path, call = found[0]
    return None if path is None else (path, call)


def _is(call: Any, kind: str, verb: str) -> bool:
    if kind != "verb":
        return isinstance(call, t.Call) and call.name == kind
    if not isinstance(call, t.VerbCall):
        return False
    name = call.verb
    return not (isinstance(name, t.Literal) and str(name.value).lower() != verb.lower())


def _scan(
    block: tuple[t.Stmt, ...], line: int, path: Path, found: list[tuple[Path | None, Any]]
) -> None:
    for index, s in enumerate(block):
        own = _own_expressions(s)
        lines = {s.line} | {n.line for n in walk(tuple(own)) if getattr(n, "line", 0)}
        if line in lines:
            plain = isinstance(s, (t.ExprStmt, t.Return))
            resumable = plain or isinstance(s, (t.If, t.While, t.ForList, t.ForRange))
            for k, expr in enumerate(own):
                step = [index, -1 if plain else HEADER - k]
                for n in walk(expr):
                    if waits(n):
                        found.append(([*path, step] if resumable else None, n))
        if isinstance(s, t.Fork):
            continue  # its body runs in another task (its delay runs here)
        for branch, child in enumerate(children(s)):
            _scan(child, line, [*path, [index, branch]], found)


def header(s: t.Stmt, branch: int) -> list[Any]:
    """The expressions a statement waiting at ``branch`` (a last step's) evaluates again
    when it goes on: the plain statement's, an ``if``'s from the waiting arm on (only that
    arm's condition: the later ones wait their turn), a loop head's."""
    own = _own_expressions(s)
    if branch == -1 or isinstance(s, t.ForRange):
        return own
    return [own[HEADER - branch]]


def _own_expressions(s: t.Stmt) -> list[Any]:
    """The expressions of ``s`` itself, not of the statements in its blocks."""
    if isinstance(s, t.ExprStmt):
        return [s.expr]
    if isinstance(s, t.Return):
        return [s.expr]
    if isinstance(s, t.If):
        return [cond for cond, _ in s.arms]
    if isinstance(s, t.While):
        return [s.cond]
    if isinstance(s, t.ForList):
        return [s.expr]
    if isinstance(s, t.ForRange):
        return [s.start, s.end]
    if isinstance(s, t.Fork):
        return [s.delay]
    if isinstance(s, t.TryExcept):
        return [arm.codes for arm in s.arms]
    return []


def follow(root: tuple[t.Stmt, ...], path: Path) -> list[t.Stmt]:
    """The statements along ``path``, outermost first. Raises LookupError."""
    out: list[t.Stmt] = []
    block = root
    for index, branch in path:
        if not 0 <= index < len(block):
            raise LookupError("the path leaves its program")
        s = block[index]
        out.append(s)
        if branch < 0:
            break
        blocks = children(s)
        if not 0 <= branch < len(blocks):
            raise LookupError("the path leaves its program")
        block = blocks[branch]
    return out

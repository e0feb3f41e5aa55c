"""The compiler's public entry: ``compile_program(source) -> Program``.

1. ``parser.parse`` (raises ``MooSyntaxError``), 2. ``codegen.generate``, 3. a ``Program``
that runs the result and can list itself (``unparse``).

Compiled programs are cached by source text (an LRU of ``CACHE_SIZE``): compiling the same
verb text again is a dict lookup. Syntax errors are not cached.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from types import TracebackType
from typing import Any

from moo.lang import tree
from moo.lang.builtins import BUILTINS
from moo.lang.codegen import generate
from moo.lang.ops import CONVERTED, to_moo
from moo.lang.parser import parse
from moo.lang.task_api import Frame, TaskApi
from moo.lang.unparse import unparse

CACHE_SIZE = 4096
_cache: OrderedDict[tuple[str, bool], Program] = OrderedDict()


class Program:
    """A compiled verb (or ``eval`` text)."""

    __slots__ = ("_run", "body", "debug", "filename", "tree")

    def __init__(
        self, program: tree.Program, run: Callable[..., Any], filename: str, debug: bool = True
    ) -> None:
        self.tree = program
        self.debug = debug  # False: compiled for a verb without the d bit (quiet.py)
        self._run = run
        self.body = run  # the compiled function itself: ``Task.call_verb`` calls it directly
        self.filename = filename  # the co_filename of its code, to find its frames

    def run(self, task: TaskApi, frame: Frame) -> Any:
        """Run the program in ``frame``; its return value (0 without ``return``).

        Raises ``MooRaise`` for an uncaught MOO error, ``TaskAbort`` when the task is ended.
        Python's NameError (a variable read before assignment), RecursionError and
        MemoryError become E_VARNF, E_MAXREC and E_QUOTA here, keeping their traceback so
        the MOO line is still found in it (``line_of``).
        """
        try:
            return self._run(task, frame)
        except CONVERTED as exc:
            raise to_moo(exc).with_traceback(exc.__traceback__) from None

    def source_lines(self, indent: bool = True) -> list[str]:
        """The program in LambdaMOO's canonical layout (``@list``)."""
        return unparse(self.tree, indent)

    def line_of(self, tb: TracebackType | None) -> int:
        """The MOO line where a traceback last passed through this program (0: never)."""
        line = 0
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                line = tb.tb_lineno
            tb = tb.tb_next
        return line


def source_hash(text: str) -> str:
    """The hash a compiled program is known by (in its ``filename``; a saved task names
    its verb's program by it)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def compile_program(source: str | list[str], *, debug: bool = True) -> Program:
    """Compile MOO source (text, or a list of lines); raises ``MooSyntaxError``.
    ``debug=False``: for a verb without LambdaMOO's ``d`` bit, whose errors are values
    (quiet.py)."""
    text = source if isinstance(source, str) else "\n".join(source)
    key = (text, debug)
    program = _cache.get(key)
    if program is not None:
        _cache.move_to_end(key)
        return program
    ast = parse(text, BUILTINS.__contains__)
    filename = f"<moo {source_hash(text)}{'' if debug else ' !d'}>"
    run = generate(ast, BUILTINS, filename, text, debug=debug)
    program = Program(ast, run, filename, debug)
    _cache[key] = program
    if len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return program

"""A spare engine: a ``moo engine`` that has done its imports and waits to be needed.

Starting Python and importing the engine's modules (SQLAlchemy, APScheduler, dateparser,
the language) takes about half a second on this kind of machine: a third of the time
between an engine's crash and the next answer. So a front that starts its engines keeps
one spare (``moo engine --spare``, its stdin a pipe from the front) once an engine is
attached:

1. The spare imports what an engine needs, then blocks reading one line from stdin. It
   holds no lock and writes no file while it waits.
2. When the engine dies, the front writes ``go`` and the spare goes on as a freshly
   started engine would (config, lock, recovery, attach). EOF instead (the front stopped,
   or wants no spare) ends it quietly.
3. The spare must not run older code than a new engine would: it fingerprints the code it
   imported (each module file's size and mtime) as it starts, and again at ``go``. If the
   code on disk changed meanwhile (an upgrade installed new files), it exits with
   ``STALE`` and the front starts a fresh engine instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

from moo.protocol.front import SPARE_GO as GO
from moo.protocol.front import SPARE_STALE as STALE


def code_fingerprint(roots: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
    """(path, size, mtime_ns) of every ``.py`` file under ``roots``, sorted."""
    found: list[tuple[str, int, int]] = []
    for root in roots:
        for directory, _subdirs, files in os.walk(root):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(directory, name)
                    try:
                        st = os.stat(path)
                    except OSError:
                        continue
                    found.append((path, st.st_size, st.st_mtime_ns))
    return tuple(sorted(found))


def code_roots() -> list[Path]:
    """The packages an engine runs: ``moo`` and ``verbs``."""
    import moo
    import verbs

    return [Path(moo.__file__).parent, Path(verbs.__file__).parent]


def wait_for_go(stdin: Iterable[str] | None = None, roots: list[Path] | None = None) -> int | None:
    """Steps 1 to 3: import, wait, check. None: go on as an engine; else the exit code
    (0 at EOF, ``STALE`` when the code under ``roots``, default ``code_roots()``, changed)."""
    import moo.app  # the imports are what a spare is for
    import moo.engine.process
    import moo.lang.saved_tasks  # and the compiler: the scheduler loads them as it is made
    import moo.lang.suspended  # noqa: F401

    roots = code_roots() if roots is None else roots
    before = code_fingerprint(roots)
    source = sys.stdin if stdin is None else stdin
    try:
        for line in source:
            if line.strip() == GO:
                break
        else:
            return 0
    except KeyboardInterrupt:  # Ctrl-C reaches the front's whole process group
        return 0
    if code_fingerprint(roots) != before:
        print("the spare engine's code changed on disk: a fresh engine starts", file=sys.stderr)
        return STALE
    return None

"""Writing a LambdaMOO textdump: a ``Textdump`` (model.py) in, the text LambdaMOO 1.8.1
writes out (format 4 unless the dump says otherwise). A codec: no files, no world.

The inverse of ``reader.py``, section by section as LambdaMOO's ``db_file.c`` writes them:
the header and counts, the users, each object (``#N recycled`` for a free number), the
verb programs in object and verb order, the task queue (no clocks, the queued forks, no
suspended tasks: none was kept), and the connections. Floats are written as LambdaMOO
writes them (``%.19g``), so a file read and written again is the same text.
"""

from __future__ import annotations

from typing import Any

from moo.textdump.model import CLEAR, NONE, DumpObject, ForkedTask, Textdump
from moo.textdump.reader import (
    TYPE_CLEAR,
    TYPE_ERR,
    TYPE_FLOAT,
    TYPE_INT,
    TYPE_LIST,
    TYPE_NONE,
    TYPE_OBJ,
    TYPE_STR,
)
from moo.world.values import Err, ObjRef

FLOAT_FORMAT = ".19g"
"""LambdaMOO's ``%.*g`` with DBL_DIG + 4 digits."""


def write_textdump(dump: Textdump) -> str:
    """The whole file's text (``\\n`` line ends). Raises ``ValueError`` for a value no
    textdump can hold (a map, say, or a string with a line break in it)."""
    out: list[str] = [f"** LambdaMOO Database, Format Version {dump.version} **"]
    out += [str(len(dump.objects)), str(len(dump.programs)), "0", str(len(dump.users))]
    out += [str(user) for user in dump.users]
    for oid, obj in enumerate(dump.objects):
        if obj is None:
            out.append(f"#{oid} recycled")
        else:
            _object(out, obj)
    for (oid, index), program in sorted(dump.programs.items()):
        out.append(f"#{oid}:{index}")
        _program(out, program)
    out += ["0 clocks", f"{len(dump.forked_tasks)} queued tasks"]
    for task in dump.forked_tasks:
        _forked(out, task)
    out.append("0 suspended tasks")
    listeners = " with listeners" if dump.listeners else ""
    out.append(f"{len(dump.connections)} active connections{listeners}")
    for player, listener in dump.connections:
        out.append(f"{player} {listener}" if dump.listeners else str(player))
    return "\n".join(out) + "\n"


def _object(out: list[str], obj: DumpObject) -> None:
    out += [f"#{obj.id}", _line(obj.name), ""]  # "" is the old handles line
    numbers = (obj.flags, obj.owner, obj.location, obj.contents, obj.next)
    out += [str(n) for n in (*numbers, obj.parent, obj.child, obj.sibling)]
    out.append(str(len(obj.verbs)))
    for verb in obj.verbs:
        out += [_line(verb.names), str(verb.owner), str(verb.perms), str(verb.prep)]
    out.append(str(len(obj.propdefs)))
    out += [_line(name) for name in obj.propdefs]
    out.append(str(len(obj.propvals)))
    for prop in obj.propvals:
        write_value(out, prop.value)
        out += [str(prop.owner), str(prop.perms)]


def write_value(out: list[str], value: Any) -> None:
    """One value: its type number, then the value (reader.py's table)."""
    kind = value.__class__
    if kind is int:
        out += [str(TYPE_INT), str(value)]
    elif kind is str:
        out += [str(TYPE_STR), _line(value)]
    elif kind is ObjRef:
        out += [str(TYPE_OBJ), str(value.id)]
    elif kind is Err:
        out += [str(TYPE_ERR), str(value.value)]
    elif kind is float:
        out += [str(TYPE_FLOAT), format(value, FLOAT_FORMAT)]
    elif kind is list:
        out += [str(TYPE_LIST), str(len(value))]
        for item in value:
            write_value(out, item)
    elif value is CLEAR:
        out.append(str(TYPE_CLEAR))
    elif value is NONE:
        out.append(str(TYPE_NONE))
    else:
        raise ValueError(f"a textdump cannot hold a {kind.__name__} value")


def _forked(out: list[str], task: ForkedTask) -> None:
    out.append(f"0 {task.first_lineno} {task.start_time} {task.id}")
    write_value(out, -111)  # LambdaMOO's placeholder
    out.append(f"{task.this} -7 -8 {task.player} -9 {task.programmer} {task.vloc} -10 {task.debug}")
    out += ["No", "More", "Parse", "Infos", _line(task.verb), _line(task.verb_names)]
    out.append(f"{len(task.variables)} variables")
    for name, value in task.variables.items():
        out.append(_line(name))
        write_value(out, value)
    _program(out, task.program)


def _program(out: list[str], program: list[str]) -> None:
    for line in program:
        if line == ".":
            raise ValueError("a program line that is only '.' would end the program early")
        out.append(_line(line))
    out.append(".")


def _line(text: str) -> str:
    if "\n" in text or "\r" in text:
        raise ValueError(f"a textdump line cannot hold a line break: {text[:40]!r}")
    return text

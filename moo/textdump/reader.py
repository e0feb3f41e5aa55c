"""Reading a LambdaMOO textdump (database formats 0 to 4, as LambdaMOO 1.8.1 writes 4):
text in, a ``Textdump`` (model.py) out. A codec: no files, no world.

The file is lines, read in order, as LambdaMOO's ``db_file.c`` and ``db_io.c`` read them:

1. The header line (``** LambdaMOO Database, Format Version N **``), then the object
   count, the verb program count, a dummy and the user count, each on its own line, then
   that many user object numbers.
2. Each object: ``#N`` (or ``#N recycled``), its name, an old "handles" line, flags,
   owner, location, contents, next, parent, child, sibling; its verb definitions (a count,
   then name, owner, perms, prep each); its property definitions (a count, then names);
   its property values (a count, then value, owner, perms each).
3. Each verb program: ``#N:I`` (the object and the verb's index) and its lines up to a
   line holding only ``.``.
4. The task queue: ``N clocks`` (obsolete, skipped), ``N queued tasks`` (forks: a
   header, the frame as LambdaMOO wrote it, its variables, its program), ``N suspended
   tasks``. A suspended task is a whole virtual machine (LambdaMOO's bytecode positions
   and stacks) that no other server can resume, so the reader counts them and reads
   past them to the next section.
5. ``N active connections [with listeners]``, then who was connected (and where).

A value is a type number on its own line, then the value: 0 INT, 1 OBJ, 2 STR, 3 ERR,
4 LIST (a count, then each value), 5 CLEAR (none: inherited), 6 NONE, 9 FLOAT.
Any departure raises ``TextdumpError`` naming the line number and what was expected:
a damaged file is never half-read as if whole.
"""

from __future__ import annotations

import re
from typing import Any

from moo.textdump.model import (
    CLEAR,
    NONE,
    DumpObject,
    ForkedTask,
    PropVal,
    Textdump,
    VerbDef,
)
from moo.world.values import Err, ObjRef

HEADER = re.compile(r"\*\* LambdaMOO Database, Format Version (\d+) \*\*")
NEWEST_FORMAT = 4
OBJECT_LINE = re.compile(r"#(-?\d+)( recycled)?")
PROGRAM_LINE = re.compile(r"#(-?\d+):(\d+)")
COUNTED = re.compile(r"(-?\d+) (clocks|queued tasks|suspended tasks|variables)")
CONNECTIONS = re.compile(r"(\d+) active connections( with listeners)?")
MAX_LIST_NESTING = 100
_INTEGER = re.compile(r"-?[0-9]{1,20}")

TYPE_INT, TYPE_OBJ, TYPE_STR, TYPE_ERR, TYPE_LIST = 0, 1, 2, 3, 4
TYPE_CLEAR, TYPE_NONE, TYPE_CATCH, TYPE_FINALLY, TYPE_FLOAT = 5, 6, 7, 8, 9


class TextdumpError(ValueError):
    """The text is not a textdump this reader knows; the message names the line."""


class _Lines:
    """The file's lines with a cursor, and errors that say where."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        if self.lines and self.lines[-1] == "":
            self.lines.pop()  # the newline that ends the last line
        self.at = 0

    def error(self, what: str) -> TextdumpError:
        return TextdumpError(f"line {self.at + 1}: {what}")

    def line(self, what: str) -> str:
        if self.at >= len(self.lines):
            raise TextdumpError(f"the file ends where {what} should be (line {self.at + 1})")
        text = self.lines[self.at]
        self.at += 1
        return text[:-1] if text.endswith("\r") else text

    def number(self, what: str) -> int:
        text = self.line(what)
        if _INTEGER.fullmatch(text) is None:
            self.at -= 1
            raise self.error(f"{what} should be a number, not {text[:40]!r}")
        return int(text)

    def match(self, pattern: re.Pattern[str], what: str) -> re.Match[str]:
        text = self.line(what)
        found = pattern.fullmatch(text)
        if found is None:
            self.at -= 1
            raise self.error(f"expected {what}, not {text[:60]!r}")
        return found

    def counted(self, noun: str) -> int:
        found = self.match(COUNTED, f"'N {noun}'")
        if found.group(2) != noun:
            self.at -= 1
            raise self.error(f"expected 'N {noun}', not {found.group(0)!r}")
        return int(found.group(1))

    def until_dot(self, what: str) -> list[str]:
        """Lines up to one holding only ``.`` (a program's end)."""
        out: list[str] = []
        while True:
            text = self.line(f"the rest of {what} (it ends with a '.' line)")
            if text == ".":
                return out
            out.append(text)

    def done(self) -> bool:
        return self.at >= len(self.lines)


def read_textdump(text: str) -> Textdump:
    """Read a whole textdump; raises ``TextdumpError``."""
    lines = _Lines(text)
    version = int(lines.match(HEADER, "the LambdaMOO database header").group(1))
    if version > NEWEST_FORMAT:
        raise lines.error(f"format version {version} is newer than {NEWEST_FORMAT}")
    nobjs = lines.number("the object count")
    nprogs = lines.number("the verb program count")
    lines.number("a dummy number")
    users = [lines.number("a user's object number") for _ in range(lines.number("the user count"))]
    objects = [_object(lines, expected) for expected in range(nobjs)]
    dump = Textdump(version, objects, users, {}, [], 0, [])
    _check_properties(dump)
    for _ in range(nprogs):
        found = lines.match(PROGRAM_LINE, "a verb program header '#N:I'")
        where = (int(found.group(1)), int(found.group(2)))
        obj = dump.object(where[0])
        if obj is None or where[1] >= len(obj.verbs):
            lines.at -= 1
            raise lines.error(f"a program for #{where[0]}:{where[1]}, which has no such verb")
        dump.programs[where] = lines.until_dot(f"the program of #{where[0]}:{where[1]}")
    if lines.done():
        return dump  # a database from before tasks were written
    for _ in range(lines.counted("clocks")):
        lines.line("an obsolete clock")
    dump.forked_tasks = [_forked(lines) for _ in range(lines.counted("queued tasks"))]
    if lines.done():
        return dump
    dump.suspended_task_count = lines.counted("suspended tasks")
    if dump.suspended_task_count:
        _skip_to_connections(lines)
    if not lines.done():
        dump.connections, dump.listeners = _connections(lines)
    return dump


def _object(lines: _Lines, expected: int) -> DumpObject | None:
    found = lines.match(OBJECT_LINE, f"object #{expected}")
    if int(found.group(1)) != expected:
        lines.at -= 1
        raise lines.error(f"expected object #{expected}, found #{found.group(1)}")
    if found.group(2):
        return None
    name = lines.line("the object's name")
    lines.line("the old handles line")
    flags, owner, location, contents, next_in, parent, child, sibling = (
        lines.number(what)
        for what in ("flags", "owner", "location", "contents", "next", "parent", "child", "sibling")
    )
    obj = DumpObject(
        expected, name, flags, owner, location, contents, next_in, parent, child, sibling
    )
    for _ in range(lines.number("the verb count")):
        names = lines.line("a verb's names")
        owner, perms = lines.number("its owner"), lines.number("its perms")
        if not 0 <= perms < 1 << 8 or (perms >> 4) & 3 == 3 or (perms >> 6) & 3 == 3:
            lines.at -= 1
            raise lines.error(f"verb perms {perms}: no such permissions and argument specs")
        obj.verbs.append(VerbDef(names, owner, perms, lines.number("its prep")))
    obj.propdefs = [
        lines.line("a property name") for _ in range(lines.number("the property count"))
    ]
    for _ in range(lines.number("the property value count")):
        value = read_value(lines)
        obj.propvals.append(PropVal(value, lines.number("its owner"), lines.number("its perms")))
    return obj


def read_value(lines: _Lines, depth: int = 0) -> Any:
    """One value (the module docstring's table)."""
    kind = lines.number("a value's type")
    if kind == TYPE_INT or kind in (TYPE_CATCH, TYPE_FINALLY):
        return lines.number("an integer")
    if kind == TYPE_OBJ:
        return ObjRef(lines.number("an object number"))
    if kind == TYPE_STR:
        return lines.line("a string")
    if kind == TYPE_ERR:
        number = lines.number("an error number")
        try:
            return Err.of(number)
        except ValueError:
            lines.at -= 1
            raise lines.error(f"no MOO error is numbered {number}") from None
    if kind == TYPE_FLOAT:
        text = lines.line("a float")
        try:
            return float(text)
        except ValueError:
            lines.at -= 1
            raise lines.error(f"a float should be here, not {text[:40]!r}") from None
    if kind == TYPE_LIST:
        if depth >= MAX_LIST_NESTING:
            raise lines.error(f"lists nested more than {MAX_LIST_NESTING} deep")
        count = lines.number("a list's length")
        if count < 0:
            raise lines.error(f"a list's length is {count}")
        return [read_value(lines, depth + 1) for _ in range(count)]
    if kind == TYPE_CLEAR:
        return CLEAR
    if kind == TYPE_NONE:
        return NONE
    lines.at -= 1
    raise lines.error(f"unknown value type {kind}")


def _check_properties(dump: Textdump) -> None:
    """Each object has a value for every property it defines or inherits, as LambdaMOO
    checks when it loads (a wrong count would pair values with the wrong names)."""
    for obj in dump.objects:
        if obj is None:
            continue
        expected = len(dump.property_names(obj.id))
        if len(obj.propvals) != expected:
            raise TextdumpError(
                f"#{obj.id} has {len(obj.propvals)} property values for"
                f" {expected} properties (its own and inherited)"
            )


def _forked(lines: _Lines) -> ForkedTask:
    header = lines.line("a queued task's numbers").split()
    if len(header) != 4 or not all(_is_int(word) for word in header):
        lines.at -= 1
        raise lines.error("a queued task should start with four numbers")
    _, first_lineno, start_time, task_id = (int(word) for word in header)
    read_value(lines)  # LambdaMOO's placeholder (-111)
    frame = lines.line("the task's frame numbers").split()
    if len(frame) != 9 or not all(_is_int(word) for word in frame):
        lines.at -= 1
        raise lines.error("a task's frame should be nine numbers")
    this, _, _, player, _, programmer, vloc, _, debug = (int(word) for word in frame)
    for what in ("argstr", "dobjstr", "iobjstr", "prepstr"):
        lines.line(f"the obsolete {what} line")
    verb = lines.line("the task's verb")
    verb_names = lines.line("the task's verb names")
    variables: dict[str, Any] = {}
    for _ in range(lines.counted("variables")):
        name = lines.line("a variable's name")
        variables[name] = read_value(lines)
    program = lines.until_dot(f"the program of queued task {task_id}")
    return ForkedTask(
        task_id,
        start_time,
        first_lineno,
        this,
        player,
        programmer,
        vloc,
        debug,
        verb,
        verb_names,
        variables,
        program,
    )


def _skip_to_connections(lines: _Lines) -> None:
    """Past the suspended tasks: to the connections line, or the end."""
    while not lines.done():
        if CONNECTIONS.fullmatch(lines.lines[lines.at].rstrip("\r")):
            return
        lines.at += 1


def _connections(lines: _Lines) -> tuple[list[tuple[int, int]], bool]:
    found = lines.match(CONNECTIONS, "'N active connections'")
    out: list[tuple[int, int]] = []
    for _ in range(int(found.group(1))):
        words = lines.line("a connection").split()
        if not words or not all(_is_int(word) for word in words) or len(words) > 2:
            lines.at -= 1
            raise lines.error("a connection should be one or two numbers")
        out.append((int(words[0]), int(words[1]) if len(words) == 2 else 0))
    return out, found.group(2) is not None


def _is_int(word: str) -> bool:
    return _INTEGER.fullmatch(word) is not None

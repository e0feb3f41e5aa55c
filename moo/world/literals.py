"""MOO value literals: text <-> value, for ``@property obj.name <value>`` and ``@examine``.

Pure: no I/O, no world access. Object numbers are built and recognised through callables the
caller passes in (``objref`` / ``is_objref``), so this module does not import the world's
value types.

How ``parse_value(text)`` reads a value:

1. If the text (surrounding whitespace ignored) starts with ``{``, ``[`` or ``"``, it must be
   exactly one literal. Anything malformed raises ``VerbError`` saying what is wrong and at
   which column (1-based, counted in the text as given).
2. Otherwise a whole-text integer (``-4``), float (``1.5``, ``-2.0e3``, ``1e9``) or object
   number (``#12``, ``#-1``) is that value, and any other text is a bare string, stripped:
   ``@property lamp.color red`` stores ``"red"``.
3. Inside a list ``{1, "a", #3, {2}}`` or a map ``["k" -> 1, 2 -> "v"]`` only literals may
   appear (no bare words); map keys are numbers, strings or object numbers; lists and maps
   nest at most ``MAX_DEPTH`` deep. In strings, ``\\"`` and ``\\\\`` are the only escapes.

``format_value`` writes the same syntax back, so ``parse_value(format_value(v)) == v`` for
ints, floats, strings, object numbers, lists and maps built from them. Infinities are written
``1e999`` / ``-1e999`` (which read back as infinities); NaN, which MOO lacks, is written
``nan`` and reads back as the bare string "nan".

Hand-written: ``ast.literal_eval`` and ``json`` know neither ``#12``, nor ``{...}`` lists, nor
``->`` maps, and could not name the column of a mistake in the player's terms.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import NoReturn, SupportsInt

from moo.errors import VerbError

MAX_DEPTH = 50
"""How deeply lists and maps may nest in a literal."""

_INT = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_OBJREF = re.compile(r"#(-?[0-9]+)")
_STRING_RUN = re.compile(r'[^"\\]*')
_STRUCTURED = ("{", "[", '"')


def parse_value(text: str, *, objref: Callable[[int], object]) -> object:
    """Read ``text`` as a MOO value; see the module docstring for the rules.

    Returns an int, float, str, ``objref(n)``, list or dict. Raises ``VerbError`` for a
    malformed literal that starts with ``{``, ``[`` or ``"``; other text never raises (it
    becomes a bare string) except an integer or object number too long to convert.
    """
    reader = _Reader(text, objref)
    reader.skip_space()
    if not text[reader.pos :].startswith(_STRUCTURED):
        return reader.scalar_or_bare()
    value = reader.value(0)
    reader.skip_space()
    if reader.pos < len(text):
        reader.fail("unexpected text after the value")
    return value


def format_value(value: object, *, is_objref: Callable[[object], bool]) -> str:
    """Write ``value`` as a MOO literal: ``{1, "a", #3}``, ``["k" -> 1]``, ``#12``, ``1.5``.

    Bools are written 1 / 0 and tuples as lists. Raises ``TypeError`` for any other type.
    """
    if is_objref(value):
        if isinstance(value, SupportsInt):
            return f"#{int(value)}"
        raise TypeError(f"object reference {value!r} has no number")
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _format_float(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "{" + ", ".join(format_value(item, is_objref=is_objref) for item in value) + "}"
    if isinstance(value, dict):
        pairs = (
            f"{format_value(key, is_objref=is_objref)} -> {format_value(item, is_objref=is_objref)}"
            for key, item in value.items()
        )
        return "[" + ", ".join(pairs) + "]"
    raise TypeError(f"no MOO literal for a value of type {type(value).__name__}")


def _format_float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "1e999" if value > 0 else "-1e999"
    return repr(value)


def _show(char: str) -> str:
    """How an unexpected character is named in an error message."""
    return "the end of the text" if char == "" else repr(char)


class _Reader:
    """A cursor over the text: recursive descent, one method per kind of literal."""

    __slots__ = ("objref", "pos", "text")

    def __init__(self, text: str, objref: Callable[[int], object]) -> None:
        self.text = text
        self.pos = 0
        self.objref = objref

    def fail(self, message: str, at: int | None = None) -> NoReturn:
        column = (self.pos if at is None else at) + 1
        raise VerbError(f"Bad value at column {column}: {message}.")

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def scalar_or_bare(self) -> object:
        """The rest of the text as a number or object number if it is exactly one, else a str."""
        rest = self.text[self.pos :].rstrip()
        if match := _OBJREF.fullmatch(rest):
            return self.objref(self.to_int(match.group(1), self.pos))
        if _INT.fullmatch(rest):
            return self.to_int(rest, self.pos)
        if _NUMBER.fullmatch(rest):
            return float(rest)
        return rest

    def to_int(self, digits: str, at: int) -> int:
        try:
            return int(digits)
        except ValueError:  # longer than Python's int/str conversion limit
            self.fail("the number is too long", at)

    def value(self, depth: int) -> object:
        self.skip_space()
        char = self.peek()
        if char == "{":
            return self.list(depth + 1)
        if char == "[":
            return self.map(depth + 1)
        if char == '"':
            return self.string()
        if char == "#":
            return self.object_number()
        if char != "" and char in "-.0123456789":
            return self.number()
        hint = " (strings inside lists and maps need quotes)" if char.isalpha() else ""
        self.fail(f"expected a value but found {_show(char)}{hint}")

    def number(self) -> int | float:
        start = self.pos
        match = _NUMBER.match(self.text, start)
        if match is None:
            self.fail("expected a number")
        self.pos = match.end()
        token = match.group()
        if _INT.fullmatch(token):
            return self.to_int(token, start)
        return float(token)

    def object_number(self) -> object:
        start = self.pos
        match = _OBJREF.match(self.text, start)
        if match is None:
            self.fail("expected an object number like #12 after '#'")
        self.pos = match.end()
        return self.objref(self.to_int(match.group(1), start))

    def string(self) -> str:
        start = self.pos
        self.pos += 1
        parts: list[str] = []
        while True:
            run = _STRING_RUN.match(self.text, self.pos)
            assert run is not None  # the pattern matches the empty string
            parts.append(run.group())
            self.pos = run.end()
            char = self.peek()
            if char == "":
                self.fail("unterminated string: no closing '\"'", start)
            self.pos += 1
            if char == '"':
                return "".join(parts)
            escaped = self.peek()
            if escaped == "":
                self.fail("unterminated string: no closing '\"'", start)
            if escaped not in ('"', "\\"):
                self.fail(
                    f"unknown escape '\\{escaped}' in a string (only \\\" and \\\\ are allowed)",
                    self.pos - 1,
                )
            parts.append(escaped)
            self.pos += 1

    def enter(self, depth: int, kind: str) -> int:
        """Step over the opening bracket; return its position for error messages."""
        if depth > MAX_DEPTH:
            self.fail(f"lists and maps may nest at most {MAX_DEPTH} deep, this {kind} is deeper")
        self.pos += 1
        return self.pos - 1

    def list(self, depth: int) -> list[object]:
        start = self.enter(depth, "list")
        items: list[object] = []
        self.skip_space()
        if self.peek() == "}":
            self.pos += 1
            return items
        while True:
            items.append(self.value(depth))
            if self.after_item("}", "list", start):
                return items

    def map(self, depth: int) -> dict[object, object]:
        start = self.enter(depth, "map")
        result: dict[object, object] = {}
        self.skip_space()
        if self.peek() == "]":
            self.pos += 1
            return result
        while True:
            self.skip_space()
            key_at = self.pos
            key = self.value(depth)
            if isinstance(key, list | dict):
                kind = "list" if isinstance(key, list) else "map"
                self.fail(
                    f"a map key must be a number, string or object number, not a {kind}", key_at
                )
            self.skip_space()
            if not self.text.startswith("->", self.pos):
                self.fail(f"expected '->' after the map key but found {_show(self.peek())}")
            self.pos += 2
            result[key] = self.value(depth)
            if self.after_item("]", "map", start):
                return result

    def after_item(self, close: str, kind: str, start: int) -> bool:
        """Step over ',' (False: more items) or the closing bracket (True: done)."""
        self.skip_space()
        char = self.peek()
        self.pos += len(char)
        if char == close:
            return True
        if char == ",":
            return False
        if char == "":
            self.fail(f"unclosed {kind}: no '{close}' for the one at column {start + 1}")
        self.pos -= 1
        self.fail(f"expected ',' or '{close}' in the {kind} but found {_show(char)}")

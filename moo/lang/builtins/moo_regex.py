"""MOO regular expressions: LambdaMOO's pattern syntax, parsed and written out for Python.

LambdaMOO 1.8.1 turns a MOO pattern's ``%`` escapes into ``\\`` escapes (``pattern.c``) and
hands the result to Tatu Ylonen's backtracking matcher (``regexpr.c``) with the syntax
``RE_CONTEXT_INDEP_OPS``. That matcher, like Python's, tries alternatives left to right and
repeats greedily, so a pattern is parsed here with LambdaMOO's rules and written out as a
Python pattern with the same meaning (how the matcher *runs* it: ``moo_match``):

1. ``translate`` then ``_Parser`` (``parse``), LambdaMOO's two steps: MOO pattern -> ``\\``
   syntax -> a small tree, or ``PatternError`` where LambdaMOO's compiler fails
   (``E_INVARG``): a trailing ``%``, an unclosed ``[``, unbalanced ``%(``/``%)``, ``*``, ``+``
   or ``?`` at the start of the pattern or of a ``%(`` group or ``%|`` branch, ``^`` anywhere
   else, ``$`` anywhere but before the end, ``%|`` or ``%)``; and, as LambdaMOO's fixed
   tables do, groups nested 100 deep or 100 ``%|`` waiting at once ("too complex").
2. ``emit``: tree -> Python pattern text (for the ``regex`` package). Every quantified item
   is wrapped, so ``a*?`` stays "(a*) optional" rather than becoming Python's lazy star;
   ``%w`` is ``[0-9A-Za-z]`` (no ``_``); ``%b`` also holds at both ends of the subject;
   ``%B``, by a bug of regexpr.c that LambdaMOO kept, holds at the word boundaries that are
   not an end; ``^``/``$`` hold at line ends too (``MULTILINE``); case folding is ASCII only
   (``ASCII``); character sets are written out code point by code point, so nothing in
   ``[...]`` means to Python anything it does not mean to LambdaMOO.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = "0-9A-Za-z"
_ALWAYS_BOUND = rf"(?:\A|\Z|(?<=[{_WORD}])(?![{_WORD}])|(?<![{_WORD}])(?=[{_WORD}]))"
# regexpr.c's Cnotwordbound tests its condition the wrong way round: %B holds where %b
# does, except at either end of the subject.
_INNER_BOUND = rf"(?:(?<=[{_WORD}])(?=[^{_WORD}])|(?<=[^{_WORD}])(?=[{_WORD}]))"

ZERO_WIDTH = {
    "bol": "^",
    "eol": "$",
    "begbuf": r"\A",
    "endbuf": r"\Z",
    "wordbeg": rf"(?<![{_WORD}])(?=[{_WORD}])",
    "wordend": rf"(?<=[{_WORD}])(?![{_WORD}])",
    "bound": _ALWAYS_BOUND,
    "notbound": _INNER_BOUND,
}
_ONE_CHAR = {"any": ".", "word": f"[{_WORD}]", "notword": f"[^{_WORD}]"}
_QUOTED_OPS = {"b": "bound", "B": "notbound", "<": "wordbeg", ">": "wordend"}
_QUOTED_CLASSES = {"w": "word", "W": "notword"}
_BUFFER_ENDS = {"`": "begbuf", "'": "endbuf"}
_MAX_NESTING = 100  # regexpr.c's MAX_NESTING


class PatternError(Exception):
    """The pattern does not compile in LambdaMOO (``E_INVARG``)."""


@dataclass
class Node:
    kind: str  # char, set, any, word, notword, group, backref, never, nochar, alt, seq, star,
    #            plus, opt, or a ZERO_WIDTH key
    text: str = ""  # char: the character; set: the Python class
    number: int = 0  # group and backref numbers
    children: list[Node] | None = None
    atomic: bool = False  # a loop regexpr.c runs without backtracking (see _mark_atomic)


_SPECIAL_AFTER_PERCENT = set(".*+?[^$|()123456789bB<>wW")


def translate(pattern: str) -> str:
    """LambdaMOO's ``translate_pattern``: ``%c`` -> ``\\c`` where ``c`` means something after a
    backslash (any other ``%c`` -> ``c``), ``\\`` -> ``\\\\``, sets copied as they are."""
    out: list[str] = []
    position, size = 0, len(pattern)
    while position < size:
        ch = pattern[position]
        position += 1
        if ch == "%":
            if position >= size:
                raise PatternError
            ch = pattern[position]
            position += 1
            if ch in _SPECIAL_AFTER_PERCENT:
                out.append("\\")
            out.append(ch)
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "[":
            close = position + (pattern[position : position + 1] == "^")
            close += pattern[close : close + 1] == "]"
            close = pattern.find("]", close)
            if close < 0:
                raise PatternError
            out.append(pattern[position - 1 : close + 1])
            position = close + 1
        else:
            out.append(ch)
    return "".join(out)


class _Parser:
    """Tatu Ylonen's ``re_compile_pattern`` rules, on the translated pattern."""

    def __init__(self, pattern: str, case_matters: bool) -> None:
        self.pattern = pattern
        self.case_matters = case_matters
        self.pos = 0
        self.next_group = 1
        self.closed_groups: set[int] = set()
        self.open_alternatives = 0  # LambdaMOO's num_jumps: %| not yet closed by %) or the end

    def parse(self) -> Node:
        tree = self.alternation(depth=0)
        if self.pos < len(self.pattern):
            raise PatternError  # a %) with no %(
        return tree

    def quoted_at(self, position: int) -> str:
        """The character after the backslash at ``position``, or "" if none is there."""
        if self.pattern[position : position + 1] != "\\":
            return ""
        if position + 1 >= len(self.pattern):
            raise PatternError  # "Regular expression ends prematurely"
        return self.pattern[position + 1]

    def alternation(self, depth: int) -> Node:
        if depth >= _MAX_NESTING:
            raise PatternError
        branches = [self.sequence(depth)]
        while self.quoted_at(self.pos) == "|":
            if self.open_alternatives >= _MAX_NESTING:
                raise PatternError
            self.open_alternatives += 1
            self.pos += 2
            branches.append(self.sequence(depth))
        self.open_alternatives -= len(branches) - 1
        return Node("alt", children=branches)

    def sequence(self, depth: int) -> Node:
        items: list[Node] = []
        beginning = True  # LambdaMOO's beginning_context: start, after %( or %|
        pattern = self.pattern
        while self.pos < len(pattern):
            ch = pattern[self.pos]
            if ch == "\\":
                quoted = self.quoted_at(self.pos)
                if quoted in ("|", ")"):
                    if quoted == ")" and depth == 0:
                        raise PatternError
                    return Node("seq", children=items)
                self.pos += 2
                if quoted == "(":
                    number = self.next_group
                    self.next_group += 1
                    inner = self.alternation(depth + 1)
                    if self.quoted_at(self.pos) != ")":
                        raise PatternError
                    self.pos += 2
                    self.closed_groups.add(number)
                    items.append(Node("group", number=number, children=[inner]))
                elif quoted in "123456789":
                    number = int(quoted)
                    kind = "backref" if number in self.closed_groups else "never"
                    items.append(Node(kind, number=number))
                elif quoted == "0":
                    raise PatternError  # "Bad match register number"
                elif quoted in _QUOTED_OPS:
                    items.append(Node(_QUOTED_OPS[quoted]))
                elif quoted in _QUOTED_CLASSES:
                    items.append(Node(_QUOTED_CLASSES[quoted]))
                elif quoted in _BUFFER_ENDS:  # from %\` and %\'
                    items.append(Node(_BUFFER_ENDS[quoted]))
                elif not self.case_matters and "A" <= quoted <= "Z":
                    # regexpr.c folds the pattern before it sees a backslash, not after:
                    # %\\A stays "A", and the folded subject never holds one
                    items.append(Node("nochar"))
                else:  # %. %* %[ ... and \\: the character itself
                    items.append(Node("char", text=quoted))
                beginning = False
                continue
            self.pos += 1
            if ch in "*+?":
                if beginning:
                    raise PatternError
                if items and items[-1].kind != "bol":
                    kind = {"*": "star", "+": "plus", "?": "opt"}[ch]
                    items[-1] = Node(kind, children=[items[-1]])
                # else: LambdaMOO ignores a repeat of nothing (after ^)
            elif ch == "^":
                if not beginning:
                    raise PatternError
                items.append(Node("bol"))
            elif ch == "$":
                if self.pos < len(pattern) and pattern[self.pos : self.pos + 2] not in (
                    "\\|",
                    "\\)",
                ):
                    raise PatternError
                items.append(Node("eol"))
            elif ch == ".":
                items.append(Node("any"))
            elif ch == "[":
                items.append(Node("set", text=self.charset()))
            else:  # including ( ) | and every other character
                items.append(Node("char", text=ch))
            beginning = False
        if depth > 0:
            raise PatternError  # a %( with no %)
        return Node("seq", children=items)

    def charset(self) -> str:
        """After ``[``: LambdaMOO's set syntax (``]`` first is literal, ``a-z`` ranges, no
        escapes), as a Python character class."""
        pattern = self.pattern

        def take() -> str:
            if self.pos >= len(pattern):
                raise PatternError
            ch = pattern[self.pos]
            self.pos += 1
            return ch if self.case_matters else ch.lower() if "A" <= ch <= "Z" else ch

        ranges: list[tuple[int, int]] = []
        ch = take()
        negate = ch == "^"
        if negate:
            ch = take()
        prev = -1
        in_range = False
        first = True
        while ch != "]" or first:
            first = False
            if in_range:
                ranges.append((prev, ord(ch)))
                prev = -1
                in_range = False
            elif prev != -1 and ch == "-":
                in_range = True
            else:
                ranges.append((ord(ch), ord(ch)))
                prev = ord(ch)
            ch = take()
        if in_range:
            ranges.append((ord("-"), ord("-")))
        parts = []
        for low, high in ranges:
            if low == high:
                parts.append(f"\\U{low:08x}")
            elif low < high:
                parts.append(f"\\U{low:08x}-\\U{high:08x}")
        return ("[^" if negate else "[") + "".join(parts) + "]"


def emit(node: Node) -> str:
    kind = node.kind
    children = node.children or []
    if kind == "char":
        # The regex package merges a run of characters into one string and, on its first
        # search, builds a table for it in time that grows with the cube of its length (2 s
        # for 2,000 characters, 146 s for 8,000, outside any timeout); an atomic group
        # around each character keeps them apart and means the same.
        return "(?>" + re.escape(node.text) + ")"
    if kind == "set":
        return "(?>" + node.text + ")"
    if kind in _ONE_CHAR:
        return _ONE_CHAR[kind]
    if kind in ZERO_WIDTH:
        return ZERO_WIDTH[kind]
    if kind == "backref":
        return f"(?:\\{node.number})"
    if kind in ("never", "nochar"):  # matches nothing: see _Parser
        return "(?!)"
    if kind == "group":
        return "(" + emit(children[0]) + ")"
    if kind == "seq":
        return "".join(emit(child) for child in children)
    if kind == "alt":
        return "|".join(emit(child) for child in children)
    suffix = {"star": "*", "plus": "+", "opt": "?"}[kind]
    if node.atomic:
        return "(?>(?:" + emit(children[0]) + ")" + suffix + ")"
    return "(?:" + emit(children[0]) + ")" + suffix


def parse(pattern: str, case_matters: bool) -> Node:
    """A MOO pattern as a tree; ``PatternError`` where LambdaMOO's compiler fails."""
    try:
        return _Parser(translate(pattern), case_matters).parse()
    except RecursionError:
        raise PatternError from None

"""Command parser: one typed line -> ``Command``, by LambdaMOO's built-in parser rules.

Pure: no I/O and no world access. Matching the object strings to objects is dispatch's job.

How ``parse(line)`` reads a line (LambdaMOO server manual, "Command Parsing"):

1. Strip the line. A leading ``"``, ``:`` or ``;`` is rewritten as ``say ``, ``emote `` or
   ``eval `` followed by the rest of the line (``:waves`` -> ``emote waves``).
2. Split into words: whitespace separates them, double quotes group them (a quote may open or
   close in the middle of a word; an unclosed quote runs to the end of the line), and a
   backslash takes the next character literally. The first word is the verb.
3. ``argstr`` is the raw text after the verb word, leading whitespace removed.
4. Scan the other words left to right for the first preposition; at one position the longest
   phrase wins ("in front of" before "in"). The words before it, joined by single spaces, are
   ``dobjstr``; the words after it are ``iobjstr``. Without a preposition every word is
   ``dobjstr``. Matching ignores case; ``prepstr`` keeps what the player typed.

``canonical_prep`` does the other half of LambdaMOO's preposition handling: it reads the
preposition part of a verb's argument spec ("in", "on top of/on/onto/upon", "any", "none").

Hand-written rather than ``shlex``: shlex treats ``'`` as a quote (every "don't" would break),
raises on an unclosed quote where MOO reads to the end of the line, and cannot tell where the
verb word ends in the raw text, which ``argstr`` needs.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

PREPOSITIONS: tuple[tuple[str, ...], ...] = (
    ("with", "using"),
    ("at", "to"),
    ("in front of",),
    ("in", "inside", "into"),
    ("on top of", "on", "onto", "upon"),
    ("out of", "from inside", "from"),
    ("over",),
    ("through",),
    ("under", "underneath", "beneath"),
    ("behind",),
    ("beside",),
    ("for", "about"),
    ("is",),
    ("as",),
    ("off", "off of"),
)
"""LambdaMOO's prepositions, one tuple per group, in the server's order."""

SHORTCUTS: dict[str, str] = {'"': "say", ":": "emote", ";": "eval"}
"""A line starting with one of these characters is read as this verb plus the rest."""

# Each member phrase, as a tuple of lower-case words, -> its group's canonical name.
_GROUP_OF_WORDS: dict[tuple[str, ...], str] = {
    tuple(member.split()): "/".join(group) for group in PREPOSITIONS for member in group
}
GROUP_NAMES: tuple[str, ...] = tuple("/".join(group) for group in PREPOSITIONS)
"""Each group's canonical name ("with/using"), by LambdaMOO's preposition number."""
_GROUP_NAMES: frozenset[str] = frozenset(GROUP_NAMES)
_LONGEST_PREP = max(len(words) for words in _GROUP_OF_WORDS)
_WORD = re.compile(r"\S+")  # \s is str.isspace's whitespace
_PREP_NUMBER = re.compile(r"#?([0-9]{1,9})")  # ASCII digits; longer: no preposition


@dataclass(frozen=True, slots=True)
class Command:
    """One parsed line. Empty strings (and ``prep=None``) mean "not given"."""

    text: str
    verb: str
    argstr: str
    args: tuple[str, ...]
    dobjstr: str
    prepstr: str
    prep: str | None
    iobjstr: str


CACHED_LINE_LENGTH = 80
"""Lines up to this long are parsed once and their ``Command`` reused (it is immutable):
players type the same short commands again and again (``look``, ``n``, ``get all``), and
parsing was ~11% of the engine's time at 100 clients (py-spy, bench/commands.py)."""


def parse(line: str) -> Command:
    """Parse one input line; never raises (any text is some command, maybe an empty one)."""
    if len(line) <= CACHED_LINE_LENGTH:
        return _parse_short(line)
    return _parse(line)


@functools.lru_cache(maxsize=4096)
def _parse_short(line: str) -> Command:
    return _parse(line)


def _parse(line: str) -> Command:
    text = line.strip()
    work = text
    if work and work[0] in SHORTCUTS:
        work = f"{SHORTCUTS[work[0]]} {work[1:]}"
    words = _split_words(work)
    if not words:
        return Command(text, "", "", (), "", "", None, "")
    verb, verb_end = words[0]
    args = tuple(word for word, _ in words[1:])
    argstr = work[verb_end:].lstrip()
    found = _find_prep(args)
    if found is None:
        return Command(text, verb, argstr, args, " ".join(args), "", None, "")
    start, end, group = found
    return Command(
        text=text,
        verb=verb,
        argstr=argstr,
        args=args,
        dobjstr=" ".join(args[:start]),
        prepstr=" ".join(args[start:end]),
        prep=group,
        iobjstr=" ".join(args[end:]),
    )


def words(line: str) -> tuple[str, ...]:
    """``line``'s words as LambdaMOO's ``parse_into_wordlist`` gives them to server verbs
    (``do_out_of_band_command``): step 2 alone, no shortcut rewritten."""
    return tuple(word for word, _ in _split_words(line))


def prep_group(word_or_phrase: str) -> str | None:
    """The canonical group name of a preposition ("Into" -> "in/inside/into"), else None."""
    return _GROUP_OF_WORDS.get(tuple(word_or_phrase.lower().split()))


def canonical_prep(spec: str) -> str | None:
    """Read a verb's preposition spec: "any", "none", a group name, or any member of a group.

    Returns "any", "none" or the canonical group name; None if the spec names no preposition.
    Like LambdaMOO's ``db_match_prep``, a slashed spec that is not exactly a group name is
    read by its first part ("on/whatever" -> "on top of/on/onto/upon"), and a number
    (``"3"`` or ``"#3"``) is a group's place in ``PREPOSITIONS`` (LambdaCore's
    ``$code_utils:_fix_preps`` lists them by setting a verb's preposition to "0", "1", ...
    until one is refused).
    """
    numbered = _PREP_NUMBER.fullmatch(spec)
    if numbered is not None:
        number = int(numbered.group(1))
        return GROUP_NAMES[number] if number < len(GROUP_NAMES) else None
    parts = [" ".join(part.split()) for part in spec.lower().split("/")]
    joined = "/".join(parts)
    if joined in ("any", "none") or joined in _GROUP_NAMES:
        return joined
    return prep_group(parts[0])


def _split_words(text: str) -> list[tuple[str, int]]:
    """Split ``text`` into words, each with the index just past its raw text.

    LambdaMOO's ``parse_into_words``: quotes group and are dropped, a backslash keeps the next
    character (a trailing backslash is dropped), an unclosed quote runs to the end.
    """
    if '"' not in text and "\\" not in text:  # the usual line: words are whitespace-split
        return [(found.group(), found.end()) for found in _WORD.finditer(text)]
    return _split_quoted(text)


def _split_quoted(text: str) -> list[tuple[str, int]]:
    """``_split_words`` one character at a time (any line, quotes and backslashes too)."""
    words: list[tuple[str, int]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return words
        chars: list[str] = []
        in_quotes = False
        while i < n and (in_quotes or not text[i].isspace()):
            char = text[i]
            i += 1
            if char == '"':
                in_quotes = not in_quotes
            elif char == "\\":
                if i < n:
                    chars.append(text[i])
                    i += 1
            else:
                chars.append(char)
        words.append(("".join(chars), i))


def _find_prep(args: tuple[str, ...]) -> tuple[int, int, str] | None:
    """The first preposition in ``args`` as (start, end, group); the longest phrase wins."""
    lowered = tuple(word.lower() for word in args)
    for start in range(len(lowered)):
        for length in range(min(_LONGEST_PREP, len(lowered) - start), 0, -1):
            group = _GROUP_OF_WORDS.get(lowered[start : start + length])
            if group is not None:
                return start, start + length, group
    return None

"""How LambdaMOO's matcher runs a MOO pattern (``match``, ``rmatch``), quirks included.

``moo_regex`` parses a pattern and writes it out for the ``regex`` package; this module
compiles it and searches as Tatu Ylonen's ``regexpr.c`` (LambdaMOO 1.8.1) does:

1. Starts: ``match`` tries each start from the left, ``rmatch`` from the right (over an
   empty subject it runs forwards). With a fastmap (the pattern cannot match the empty
   string without ``$``) only starts whose character may begin a match are tried; the
   fastmap is read at the subject's closing NUL, so ``rmatch`` never tries the very end of
   a non-empty subject unless the pattern can begin with ``.``, ``%W`` or ``[^...]``.
2. Loops it never backs into (``_mark_atomic``): a ``*`` or ``+`` over a body with no
   quantifier or alternation, whose first item is a character, ``.`` or a set that nothing
   after the loop can begin with, runs without giving characters back; the look at "what
   comes after" skips ``%b``, ``%B``, ``%<``, ``%>``, so ``[^a]+%<`` on ``"c-cB"`` fails.
3. Loops that spin (``_emit_detector``): a loop whose body matches nothing repeats until the
   failure stack overflows: ``MATCH_ABORTED``, ``E_QUOTA``. A second pattern finds whether
   the search gets to such a loop (with its body able to match nothing there) before it
   finds a match; a pattern with such a loop pays for two searches.
4. Time: the ``regex`` package (already here through dateparser) rather than ``re``,
   because it takes a ``timeout``: a backtracking match cannot be interrupted by the task's
   tick or time budget, and ``re`` takes 30 s on ``(?:a*)*(?:a*)*b`` against 24 ``a``s
   (regex answers at once). A search past ``MATCH_SECONDS`` is ``MatchAborted`` too, as
   LambdaMOO's matcher aborts when its task runs out of time.

Checked against LambdaMOO's own ``pattern.c`` and ``regexpr.c`` compiled as an oracle: over
some 250,000 random patterns and subjects, results, errors and aborts agree except for
group positions LambdaMOO keeps from a path it later abandoned, since it never restores its
registers on backtracking (``%(%) c%|`` on ``""`` reports group 1 as ``{1, 0}``, here
``{0, -1}``; a group in a loop can keep an iteration the search gave back; a
back-reference in a later branch can match such a stale group, ``%(a%) %|%1`` matching
``"a"``): about 1 in 4,000 random cases. A loop whose body can match
nothing only through a consuming branch (``%(a%|%b%)*``) is judged at the loop's entry.
A pattern of 20,000 characters takes about 0.7 s to compile (once: compiled patterns are
cached).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

import regex  # type: ignore[import-untyped]

from moo.lang.builtins.moo_regex import ZERO_WIDTH, Node, PatternError, emit, parse

MATCH_SECONDS = 0.5  # LambdaMOO's failure-stack limit is a few ms of work; this is generous


def _spins(node: Node) -> bool:
    """Whether a ``*`` or ``+`` in ``node`` repeats something that can match nothing."""
    children = node.children or []
    if node.kind in ("star", "plus") and _start(children[0]).passes:
        return True
    return any(_spins(child) for child in children)


def _emit_empty(node: Node) -> str:
    """A pattern for the ways ``node`` can match the empty string (``(?!)``: none)."""
    kind = node.kind
    children = node.children or []
    if kind in ZERO_WIDTH:
        return ZERO_WIDTH[kind]
    if kind in ("star", "opt"):
        return ""
    if kind in ("group", "plus"):
        return "(?:" + _emit_empty(children[0]) + ")"
    if kind == "seq":
        return "".join(_emit_empty(child) for child in children)
    if kind == "alt":
        return "(?:" + "|".join(_emit_empty(child) for child in children) + ")"
    return "(?!)"  # consumes a character (or is a back-reference)


def _emit_detector(node: Node) -> str:
    """``node`` as a pattern that also succeeds, with group ``_spin`` set, on reaching a loop
    whose body can match nothing there: where LambdaMOO's matcher spins until its failure
    stack overflows (``MATCH_ABORTED``). Every later item is skipped once ``_spin`` is set,
    so the first success in the matcher's own order says which came first."""
    kind = node.kind
    children = node.children or []
    if kind == "group":
        return f"(?P<g{node.number}>" + _emit_detector(children[0]) + ")"
    if kind == "backref":
        return f"(?P=g{node.number})"
    if kind == "seq":
        return "".join(f"(?(_spin)|{_emit_detector(child)})" for child in children)
    if kind == "alt":
        return "|".join(_emit_detector(child) for child in children)
    if kind in ("star", "plus", "opt"):
        body = "(?:" + _emit_detector(children[0]) + ")"
        if kind == "opt":
            return body + "?"
        if not _start(children[0]).passes:
            loop = body + ("*" if kind == "star" else "+")
            return "(?>" + loop + ")" if node.atomic else loop
        loop = "(?:(?=" + _emit_empty(children[0]) + ")(?P<_spin>)|" + body + "*)"
        return loop if kind == "star" else body + loop
    return emit(node)


@dataclass(frozen=True)
class _Start:
    """What ``re_compile_fastmap`` learns about how a piece of pattern can begin."""

    passes: bool = False  # it can match without consuming (what follows comes next)
    eol: bool = False  # a $ can come before anything is consumed (can_be_null = 2)
    ref: bool = False  # a back-reference can (can_be_null = 1)
    nul: bool = False  # its first character may be NUL: ., %W, [^...] (the fastmap's '\\0')
    first: frozenset[str] = frozenset()  # one-character patterns: the fastmap

    def __or__(self, other: _Start) -> _Start:
        return _Start(
            self.passes or other.passes,
            self.eol or other.eol,
            self.ref or other.ref,
            self.nul or other.nul,
            self.first | other.first,
        )

    def then(self, other: _Start) -> _Start:
        """This, then ``other`` where this passes (a sequence)."""
        if not self.passes:
            return self
        return _Start(other.passes, self.eol, self.ref, self.nul, self.first) | _Start(
            False, other.eol, other.ref, other.nul, other.first
        )

    @property
    def can_be_null(self) -> int:
        return 1 if self.passes or self.ref else 2 if self.eol else 0


_PASSES = _Start(passes=True)


def _start(node: Node) -> _Start:
    kind = node.kind
    children = node.children or []
    if kind in ("bol", "begbuf", "endbuf", "wordbeg", "wordend", "bound", "notbound"):
        return _PASSES
    if kind == "eol":
        return _Start(eol=True, first=frozenset(["\\n"]))
    if kind in ("backref", "never"):
        return _Start(ref=True)
    if kind in ("group", "plus"):
        return _start(children[0])
    if kind in ("star", "opt"):
        return _start(children[0]) | _PASSES
    if kind == "seq":
        facts = _PASSES
        for child in children:
            facts = facts.then(_start(child))
        return facts
    if kind == "alt":
        facts = _Start()
        for child in children:
            facts = facts | _start(child)
        return facts
    if kind == "nochar":
        return _Start()
    text = emit(node)  # one character
    nul = kind in ("any", "notword") or (kind == "set" and node.text.startswith("[^"))
    return _Start(nul=nul, first=frozenset([text]))


def _first_consumer(node: Node) -> Node | None:
    """The first thing ``node`` consumes, past zero-width items and group marks; None if
    that is not a plain one (a quantifier, an alternation, %w, a back-reference...)."""
    kind = node.kind
    children = node.children or []
    if kind in ("char", "set", "any"):
        return node
    if kind == "group" or (kind == "alt" and len(children) == 1):
        return _first_consumer(children[0])
    if kind == "seq":
        for child in children:
            if child.kind in ZERO_WIDTH:
                continue
            return _first_consumer(child)
    return None


def _simple(node: Node) -> bool:
    """No jumps inside: no quantifier and no real alternation."""
    children = node.children or []
    if node.kind in ("star", "plus", "opt") or (node.kind == "alt" and len(children) > 1):
        return False
    return all(_simple(child) for child in children)


def _overlap(one: str, others: frozenset[str], flags: int) -> bool:
    """Whether some character in LambdaMOO's (folded) alphabet matches ``one`` and any of
    ``others``, each a one-character pattern."""
    mine = _matching(one, flags)
    return any(mine & _matching(other, flags) for other in others)


@functools.lru_cache(maxsize=1024)
def _matching(one: str, flags: int) -> frozenset[str]:
    """The characters of LambdaMOO's alphabet (bytes; A-Z folded away unless case matters)
    that the one-character pattern ``one`` matches."""
    universe = "".join(chr(code) for code in range(256))
    if flags & regex.IGNORECASE:
        universe = universe.translate({code: None for code in range(ord("A"), ord("Z") + 1)})
    return frozenset(regex.findall(one, universe, flags))


def _mark_atomic(node: Node, follow: _Start, flags: int) -> None:
    """Mark the loops regexpr.c turns into ``update_failure_jump``s at run time: a ``*`` or
    ``+`` over a body with no jumps whose first item is a character, ``.`` or a set that
    nothing after the loop can begin with. That is meant to be an optimisation, but the
    fastmap of what follows treats %b, %B, %<, %> as if absent, so ``[^a]+%<`` never gives a
    character back to find a word start."""
    kind = node.kind
    children = node.children or []
    if kind == "seq":
        rest = follow  # what comes after each child, built from the right
        for child in reversed(children):
            _mark_atomic(child, rest, flags)
            rest = _start(child).then(rest)
    elif kind in ("alt", "group"):
        for child in children:
            _mark_atomic(child, follow, flags)
    elif kind == "opt":
        _mark_atomic(children[0], follow, flags)
    elif kind in ("star", "plus"):
        body = children[0]
        _mark_atomic(body, _start(body) | follow, flags)
        first = _first_consumer(body)
        if first is not None and _simple(body):
            node.atomic = not _overlap(emit(first), follow.first, flags)


def _tried(facts: _Start, reverse: bool) -> str:
    """A pattern for the starts LambdaMOO's ``re_search`` tries: with a fastmap (the pattern
    cannot match the empty string without ``$``) only where the fastmap holds the character;
    the end when it can match there (forward) or the fastmap holds NUL (reverse); and, going
    backwards, always the very start."""
    if facts.can_be_null == 1:
        return ""
    starts = [f"(?={one})" for one in sorted(facts.first)]
    if facts.nul if reverse else facts.can_be_null:
        starts.append(r"\Z")
    if reverse:
        starts.append(r"\A")
    return "(?:" + "|".join(starts or ["(?!)"]) + ")"


class MatchAborted(Exception):
    """LambdaMOO's ``MATCH_ABORTED``: a loop that would spin, or past ``MATCH_SECONDS``."""


@dataclass(frozen=True)
class _Finders:
    forward: Any  # a regex.Pattern
    rightmost: Any  # the rightmost position where it matches
    rightmost_before_end: Any  # the same, short of the end of the subject

    @classmethod
    def compile(cls, text: str, flags: int) -> _Finders:
        return cls(
            regex.compile(text, flags),
            regex.compile(r"\A(?s:.*)(?=(?:" + text + "))", flags),
            regex.compile(r"\A(?s:.*)(?=(?s:.))(?=(?:" + text + "))", flags),
        )

    def first(self, subject: str, reverse: bool, tries_end: bool, timeout: float) -> Any:
        """The first match in LambdaMOO's order of starts, or None."""
        if not reverse:
            return self.forward.search(subject, timeout=timeout)
        finder = self.rightmost if tries_end or not subject else self.rightmost_before_end
        where = finder.match(subject, timeout=timeout)
        if where is None:
            return None
        return self.forward.match(subject, where.end(), timeout=timeout)


_MAX_DETECTOR = 100_000  # characters; past this a spinning loop is not looked for


@dataclass(frozen=True)
class MooPattern:
    finders: _Finders
    spin_finders: tuple[_Finders, _Finders] | None  # when a loop can spin: forward, reverse
    tries_end: bool  # LambdaMOO tries the end of the subject in a reverse search


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str, case_matters: bool) -> MooPattern | None:
    """The pattern compiled, or None where LambdaMOO answers ``E_INVARG``."""
    try:
        tree = parse(pattern, case_matters)
        flags = regex.MULTILINE | regex.ASCII | (0 if case_matters else regex.IGNORECASE)
        _mark_atomic(tree, _PASSES, flags)
        finders = _Finders.compile(emit(tree), flags)
        facts = _start(tree)
        spin_finders = None
        if _spins(tree):
            detector = _emit_detector(tree)
            if len(detector) <= _MAX_DETECTOR:
                spin_finders = (
                    _Finders.compile(_tried(facts, False) + "(?:" + detector + ")", flags),
                    _Finders.compile(_tried(facts, True) + "(?:" + detector + ")", flags),
                )
    except (PatternError, regex.error):
        return None
    return MooPattern(finders, spin_finders, facts.can_be_null == 1 or facts.nul)


Span = tuple[int, int]


def search(pattern: MooPattern, subject: str, reverse: bool) -> tuple[Span, list[Span]] | None:
    """The first match (the rightmost start when ``reverse``) as 1-based closed spans:
    the whole match and groups 1 to 9, ``(0, -1)`` for a group that took no part.
    Raises ``MatchAborted`` past ``MATCH_SECONDS``."""
    deadline = time.monotonic() + MATCH_SECONDS

    def left() -> float:
        return max(deadline - time.monotonic(), 0.001)

    reverse = reverse and bool(subject)  # re_search runs forward over an empty subject
    try:
        if pattern.spin_finders is not None:
            spin_finders = pattern.spin_finders[1 if reverse else 0]
            spun = spin_finders.first(subject, reverse, pattern.tries_end, left())
            if spun is None:
                return None
            if spun.start("_spin") >= 0:
                raise MatchAborted
        found = pattern.finders.first(subject, reverse, pattern.tries_end, left())
    except TimeoutError:
        raise MatchAborted from None
    if found is None:
        return None
    groups: list[Span] = []
    for number in range(1, 10):
        if number <= pattern.finders.forward.groups and found.start(number) >= 0:
            groups.append((found.start(number) + 1, found.end(number)))
        else:
            groups.append((0, -1))
    return (found.start() + 1, found.end()), groups

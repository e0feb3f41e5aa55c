"""Transcripts: the plain-text format of what players type and must see. Pure, no I/O.

A transcript (a ``.moot`` file; ``tests/transcripts/`` has many) is played by ``moo script``,
which runs it over telnet and reports (``moo/cli/script.py``). This module is the format:
``parse_transcript(text) -> list[Step]`` reads it and ``bind`` substitutes the variables;
the runner then plays the steps.

The format: one instruction per line, read top to bottom::

    # TEXT            a comment; comment lines and blank lines are ignored
    > TEXT            send TEXT as one typed line
    < TEXT            expect a line equal to TEXT (trailing spaces are ignored)
    ~ REGEX           expect a line matching REGEX (a Python regular expression, re.search)
    ? TEXT            expect a line containing TEXT
    ! TEXT            TEXT must NOT arrive on this connection before the next expectation
    @connect NAME     open a connection called NAME (or switch back to it if it is open)
    @timeout SECONDS  how long each expectation waits, from here on (default: --timeout, 5)
    @wait SECONDS     pause (rarely needed: expectations already wait for their line)
    @close            close the current connection
    @expect-close     the server must close the current connection (within the timeout)

After ``>``, ``<``, ``~``, ``?`` and ``!`` comes one space, then the text, taken exactly
as written to the end of the line: ``<   brass lantern`` expects two leading spaces,
``> @go #12`` sends the ``#``. A bare ``>`` sends an empty line; a bare ``<`` expects one.
Only ``@`` directives may end in a ``# comment``. Indentation is ignored.

Connections. Each ``@connect NAME`` opens a new telnet connection (or, if ``NAME`` is
already open, makes it current again). Every following line acts on the current
connection. A script that starts sending or expecting before any ``@connect`` uses a
connection named ``main``. After ``@close`` or ``@expect-close`` there is no current
connection until the next ``@connect`` (which may reuse the name for a fresh connection).

Expectations. Each connection keeps the lines it has received in order. An expectation
reads forward from where the previous match on that connection left off, skipping lines
that do not match (servers send welcome banners, arrivals and other noise), until one
matches or its timeout passes (``--timeout``, 5 s by default, or the last ``@timeout``).
So write expectations in the order the lines arrive on that connection; order between
different connections is only the order in which the script runs them.

Forbidden text. ``! TEXT`` says no line containing ``TEXT`` may arrive on the current
connection from this point until the next expectation on it matches. It is checked when
that expectation matches, when the connection closes, and at the end of the script
(after waiting until the connection has been quiet for 0.1 s).

Variables. ``${NAME}`` in the text of a ``>``, ``<``, ``~``, ``?`` or ``!`` line is
replaced by the value from ``--var NAME=VALUE`` or, failing that, the environment
variable ``NAME``; an unknown name stops the script before it connects. In ``~`` lines
the value stands for itself (it is escaped, not read as a pattern). ``$${`` writes a
literal ``${``.

A small example (``moo script welcome.moot --port 7777 --var WIZARD_PASSWORD=...``)::

    # The wizard greets a newcomer.
    @timeout 3
    @connect wiz
    > connect Wizard ${WIZARD_PASSWORD}
    < *** Connected as Wizard ***
    @connect guest
    > create Visitor7 secret7
    < *** Connected as Visitor7 ***
    ~ ^Exits: .*north
    @connect wiz
    ? Visitor7 has connected.
    ! Traceback
    > say welcome
    < You say, "welcome"
    @connect guest
    < Wizard says, "welcome"
    > @quit
    @expect-close

What ``moo script`` prints for it is described in ``moo/cli/script.py``. Players live on in the
world's data, so a script meant to run twice against one world should use fresh names (or
``connect`` instead of ``create``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

DEFAULT_CONNECTION = "main"

_VARIABLE = re.compile(r"\$(\$?)\{([^}]*)\}")
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONNECTION_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_DIRECTIVE_COMMENT = re.compile(r"\s+#.*$")

ExpectKind = Literal["exact", "regex", "contains"]
_KINDS: dict[str, ExpectKind] = {"<": "exact", "~": "regex", "?": "contains"}
_DESCRIBE: dict[ExpectKind, str] = {
    "exact": "a line equal to",
    "regex": "a line matching",
    "contains": "a line containing",
}


class ScriptError(Exception):
    """The transcript itself is wrong: ``file:line: reason``."""

    def __init__(self, filename: str, line: int, reason: str) -> None:
        super().__init__(f"{filename}:{line}: {reason}")
        self.filename = filename
        self.line = line
        self.reason = reason


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True, slots=True)
class Connect:
    """``@connect NAME`` (or the implied ``main``): open NAME unless it is open."""

    line: int
    conn: str


@dataclass(frozen=True, slots=True)
class Send:
    """``> TEXT``: send one line."""

    line: int
    conn: str
    text: str


@dataclass(frozen=True, slots=True)
class Expect:
    """``<``, ``~`` or ``?``: skip received lines until one matches."""

    line: int
    conn: str
    kind: ExpectKind
    text: str
    timeout: float | None = None  # None: the runner's default

    def matches(self, received: str) -> bool:
        if self.kind == "exact":
            return received.rstrip() == self.text.rstrip()
        if self.kind == "regex":
            return re.search(self.text, received) is not None
        return self.text in received

    def describe(self) -> str:
        return f"{_DESCRIBE[self.kind]}: {self.text}"


@dataclass(frozen=True, slots=True)
class Forbid:
    """``! TEXT``: no line containing TEXT before the next match on ``conn``."""

    line: int
    conn: str
    text: str


@dataclass(frozen=True, slots=True)
class Wait:
    """``@wait SECONDS``."""

    line: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Close:
    """``@close``: close the connection (after checking pending ``!`` lines)."""

    line: int
    conn: str


@dataclass(frozen=True, slots=True)
class ExpectClose:
    """``@expect-close``: the server must close the connection within ``timeout``."""

    line: int
    conn: str
    timeout: float | None = None


Step = Connect | Send | Expect | Forbid | Wait | Close | ExpectClose


# --------------------------------------------------------------------------- parsing


def parse_transcript(text: str, filename: str = "<transcript>") -> list[Step]:
    """The steps of a transcript, each stamped with its line and connection.

    Pure. Raises ``ScriptError`` (file:line: reason) for an unknown directive, a
    malformed line, a bad variable reference or regular expression, or a line that
    needs a connection where none is open.
    """
    parser = _Parser()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        try:
            if line.startswith("@"):
                parser.directive(number, _DIRECTIVE_COMMENT.sub("", line))
            else:
                parser.instruction(number, line)
        except ValueError as error:
            raise ScriptError(filename, number, str(error)) from None
    return parser.steps


class _Parser:
    """The state a transcript builds up line by line; each method raises ValueError(reason)."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.current: str | None = None  # the connection lines act on
        self.timeout: float | None = None  # the last @timeout
        self.connected = False  # a connection was opened (so "main" is no longer implied)

    def directive(self, number: int, line: str) -> None:
        word, _, arg = line.partition(" ")
        arg = arg.strip()
        if word == "@connect":
            if not _CONNECTION_NAME.fullmatch(arg):
                raise ValueError("@connect needs a name (letters, digits, _ . -)")
            self.current, self.connected = arg, True
            self.steps.append(Connect(number, arg))
        elif word == "@timeout":
            seconds = _seconds(arg)
            if seconds is None or seconds == 0:
                raise ValueError(f"@timeout needs a number of seconds above 0, got {arg!r}")
            self.timeout = seconds
        elif word == "@wait":
            seconds = _seconds(arg)
            if seconds is None:
                raise ValueError(f"@wait needs a number of seconds, got {arg!r}")
            self.steps.append(Wait(number, seconds))
        elif word in ("@close", "@expect-close"):
            if arg:
                raise ValueError(f"{word} takes no argument, got {arg!r}")
            if self.current is None:
                raise ValueError(f"{word}: no connection is open here (use @connect first)")
            conn, self.current = self.current, None
            if word == "@close":
                self.steps.append(Close(number, conn))
            else:
                self.steps.append(ExpectClose(number, conn, self.timeout))
        else:
            known = "@connect, @timeout, @wait, @close, @expect-close"
            raise ValueError(f"unknown directive {word!r} (known: {known})")

    def instruction(self, number: int, line: str) -> None:
        marker, body = line[0], line[1:]
        if marker not in "><~?!":
            raise ValueError("a line must start with #, >, <, ~, ?, ! or @")
        if body and not body.startswith(" "):
            raise ValueError(f"put a space between {marker!r} and the text")
        body = body[1:]
        for match in _VARIABLE.finditer(body):
            if not match.group(1) and not VARIABLE_NAME.fullmatch(match.group(2)):
                raise ValueError(f"bad variable name in {match.group(0)!r}")
        if marker in "~?!" and not body:
            raise ValueError(f"{marker!r} needs some text after it")
        if marker == "~":
            try:
                re.compile(_VARIABLE.sub("x", body))
            except re.error as error:
                raise ValueError(f"bad regular expression: {error}") from None
        if self.current is None:
            if self.connected:  # and it has been closed since
                raise ValueError("no connection is open here (use @connect)")
            self.current, self.connected = DEFAULT_CONNECTION, True
            self.steps.append(Connect(number, DEFAULT_CONNECTION))
        conn = self.current
        if marker == ">":
            self.steps.append(Send(number, conn, body))
        elif marker == "!":
            self.steps.append(Forbid(number, conn, body))
        else:
            self.steps.append(Expect(number, conn, _KINDS[marker], body, self.timeout))


def _seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 <= value < float("inf") else None


def substitute(text: str, variables: Mapping[str, str], *, regex: bool = False) -> str:
    """Replace each ``${NAME}`` (``$${`` is a literal ``${``). KeyError names an unknown one."""

    def value(match: re.Match[str]) -> str:
        if match.group(1):
            return "${" + match.group(2) + "}"
        found = variables[match.group(2)]
        return re.escape(found) if regex else found

    return _VARIABLE.sub(value, text)


def bind(
    steps: list[Step], variables: Mapping[str, str], filename: str = "<transcript>"
) -> list[Step]:
    """The steps with variables substituted. Raises ``ScriptError`` naming an unknown one."""
    bound: list[Step] = []
    for step in steps:
        if isinstance(step, Send | Expect | Forbid):
            regex = isinstance(step, Expect) and step.kind == "regex"
            try:
                step = replace(step, text=substitute(step.text, variables, regex=regex))
            except KeyError as error:
                name = error.args[0]
                raise ScriptError(
                    filename,
                    step.line,
                    f"unknown variable ${{{name}}} (give --var {name}=... or set it "
                    "in the environment)",
                ) from None
        bound.append(step)
    return bound

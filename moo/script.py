"""Transcripts: play a plain-text script of what players type and must see (``moo script``).

``moo script FILE --host H --port P [--timeout S] [--var NAME=VALUE ...]`` connects over
telnet, sends the lines, checks the replies and exits 0 when every expectation was met,
1 when one was not (with a report of what arrived instead), 2 when the script itself is
wrong (its file and line, and why).

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

It prints ``ok: 7 expectations, 4 lines sent``, or a report naming the file and line, the
expectation, and every line that connection received since its previous match (each as
``  | line``), which usually shows at a glance what the server said instead. Players
live on in the world's data, so a script meant to run twice against one world should
use fresh names (or ``connect`` instead of ``create``).

How it is built: ``parse_transcript(text) -> list[Step]`` is pure (no I/O); ``bind``
substitutes the variables; ``run_transcript`` plays the steps with ``TelnetClient``
(``moo/net/telnet_client.py``) and returns a ``Result``; ``run_script_command`` is the
command-line wrapper.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from moo.net.telnet_client import TelnetClient

DEFAULT_CONNECTION = "main"
QUIET_SECONDS = 0.1  # how long a connection must be silent before a final "!" check
MAX_LISTED = 200  # received lines shown in a failure report (the most recent ones)

_VARIABLE = re.compile(r"\$(\$?)\{([^}]*)\}")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
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
            if not match.group(1) and not _VARIABLE_NAME.fullmatch(match.group(2)):
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


# --------------------------------------------------------------------------- running


@dataclass
class Failure:
    """Where and why the run stopped, with what the connection received instead."""

    line: int
    conn: str
    message: str
    received: list[str]
    since: str  # "line N" of the previous match, or "it opened"

    def report(self, filename: str) -> str:
        out = [f"{filename}:{self.line}: FAILED on connection {self.conn!r}", f"  {self.message}"]
        shown = self.received[-MAX_LISTED:]
        if not self.received:
            out.append(f"  nothing was received on {self.conn!r} since {self.since}")
        else:
            count = len(self.received)
            out.append(f"  {count} line(s) received on {self.conn!r} since {self.since}:")
            if len(shown) < count:
                out.append(f"  ... ({count - len(shown)} earlier lines not shown)")
            out.extend(f"  | {line}" for line in shown)
        return "\n".join(out)


@dataclass
class Result:
    expectations: int = 0
    sent: int = 0
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


class _Failed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass
class _Connection:
    name: str
    client: TelnetClient
    window: list[str] = field(default_factory=list)  # received since the previous match
    since: str = "it opened"
    forbids: list[Forbid] = field(default_factory=list)

    def fail(self, line: int, message: str) -> _Failed:
        return _Failed(Failure(line, self.name, message, list(self.window), self.since))

    def matched(self, line: int, until: str) -> None:
        """An expectation matched: check the ``!`` lines against the window, then reset."""
        for forbid in self.forbids:
            for received in self.window:
                if forbid.text in received:
                    raise self.fail(
                        forbid.line,
                        f"must not see: {forbid.text}\n  but it arrived before {until}: {received}",
                    )
        self.window.clear()
        self.forbids.clear()
        self.since = f"line {line}"

    async def read_until(self, deadline: float, quiet: float | None = None) -> str | None:
        """The next line; None at ``deadline``, after ``quiet`` seconds of silence, or closed."""
        left = max(0.0, deadline - time.monotonic())
        return await self.client.read_line(left if quiet is None else min(quiet, left))


async def run_transcript(
    steps: list[Step],
    host: str,
    port: int,
    timeout: float,
    variables: Mapping[str, str],
    *,
    filename: str = "<transcript>",
) -> Result:
    """Play ``steps`` against the server at ``host``:``port``.

    ``timeout`` is the default wait for each expectation. Returns a ``Result`` (with a
    ``Failure`` if an expectation was not met); raises ``ScriptError`` for an unknown
    variable before connecting anywhere. Every connection is closed on return.
    """
    run = _Run(host, port, timeout)
    try:
        for step in bind(steps, variables, filename):
            await run.play(step)
        for conn in list(run.conns.values()):
            await run.finish(conn, "the end of the script")
    except _Failed as failed:
        run.result.failure = failed.failure
    finally:
        for conn in run.conns.values():
            await conn.client.close()
    return run.result


class _Run:
    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.conns: dict[str, _Connection] = {}
        self.result = Result()

    def deadline(self, timeout: float | None) -> tuple[float, float]:
        wait = self.timeout if timeout is None else timeout
        return wait, time.monotonic() + wait

    async def play(self, step: Step) -> None:
        if isinstance(step, Wait):
            await asyncio.sleep(step.seconds)
        elif isinstance(step, Connect):
            if step.conn not in self.conns:
                self.conns[step.conn] = await self.connect(step)
        elif isinstance(step, Send):
            conn = self.conns[step.conn]
            if conn.client.closed:
                raise conn.fail(step.line, f"cannot send {step.text!r}: the server closed it")
            conn.client.send_line(step.text)
            await conn.client.drain()
            self.result.sent += 1
        elif isinstance(step, Forbid):
            self.conns[step.conn].forbids.append(step)
        elif isinstance(step, Expect):
            await self.expect(self.conns[step.conn], step)
        elif isinstance(step, ExpectClose):
            conn = self.conns[step.conn]
            wait, deadline = self.deadline(step.timeout)
            while (received := await conn.read_until(deadline)) is not None:
                conn.window.append(received)
            if not conn.client.closed:
                message = f"expected the server to close the connection\n  but {wait:g}s passed"
                raise conn.fail(step.line, message)
            conn.matched(step.line, "the server closed the connection")
            self.result.expectations += 1
            await conn.client.close()
            del self.conns[step.conn]
        else:
            await self.finish(self.conns[step.conn], "the connection was closed")

    async def connect(self, step: Connect) -> _Connection:
        try:
            client = await asyncio.wait_for(
                TelnetClient.connect(self.host, self.port), self.timeout
            )
        except (OSError, TimeoutError) as error:
            message = f"cannot connect to {self.host}:{self.port}: {error or 'timed out'}"
            raise _Failed(Failure(step.line, step.conn, message, [], "it opened")) from None
        return _Connection(step.conn, client)

    async def expect(self, conn: _Connection, step: Expect) -> None:
        wait, deadline = self.deadline(step.timeout)
        while (received := await conn.read_until(deadline)) is not None:
            if step.matches(received):
                conn.matched(step.line, f"line {step.line} matched")
                self.result.expectations += 1
                return
            conn.window.append(received)
        state = "the server closed the connection" if conn.client.closed else f"{wait:g}s passed"
        raise conn.fail(step.line, f"expected {step.describe()}\n  but {state}")

    async def finish(self, conn: _Connection, until: str) -> None:
        """Check pending ``!`` lines once the connection is quiet, then close it."""
        if conn.forbids:
            _, deadline = self.deadline(None)
            while (received := await conn.read_until(deadline, QUIET_SECONDS)) is not None:
                conn.window.append(received)
            conn.matched(0, until)
        await conn.client.close()
        del self.conns[conn.name]


# --------------------------------------------------------------------------- command line


def run_script_command(args: argparse.Namespace) -> int:
    """``moo script``: 0 all met, 1 an expectation failed, 2 the script or its options are wrong."""
    filename = str(args.file)
    try:
        text = args.file.read_text(encoding="utf-8")
    except OSError as error:
        print(f"moo script: cannot read {filename}: {error.strerror or error}", file=sys.stderr)
        return 2
    variables = dict(os.environ)
    for item in args.var:
        name, sep, value = item.partition("=")
        if not sep or not _VARIABLE_NAME.fullmatch(name):
            print(f"moo script: --var expects NAME=VALUE, got {item!r}", file=sys.stderr)
            return 2
        variables[name] = value
    try:
        steps = parse_transcript(text, filename)
        result = asyncio.run(
            run_transcript(steps, args.host, args.port, args.timeout, variables, filename=filename)
        )
    except ScriptError as error:
        print(f"moo script: {error}", file=sys.stderr)
        return 2
    if result.failure is not None:
        print(result.failure.report(filename), file=sys.stderr)
        return 1
    print(f"ok: {result.expectations} expectations, {result.sent} lines sent")
    return 0

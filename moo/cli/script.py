"""``moo script``: play a transcript against a server over telnet, check the replies, report.

``moo script FILE --host H --port P [--timeout S] [--var NAME=VALUE ...]`` connects over
telnet, sends the lines, checks the replies and exits 0 when every expectation was met,
1 when one was not (with a report of what arrived instead), 2 when the script itself is
wrong (its file and line, and why). The format of FILE, with an example, is in
``moo/transcript.py``.

It prints ``ok: 7 expectations, 4 lines sent`` (for that example), or a report naming the
file and line, the expectation, and every line that connection received since its
previous match (each as ``  | line``), which usually shows at a glance what the server
said instead.

How it is built: ``parse_transcript`` and ``bind`` (``moo/transcript.py``) turn the text
into steps; ``run_transcript`` plays the steps with ``TelnetClient``
(``moo/net/telnet_client.py``) and returns a ``Result``; ``run_script_command`` is the
command-line wrapper.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from moo.net.telnet_client import TelnetClient
from moo.transcript import (
    VARIABLE_NAME,
    Connect,
    Expect,
    ExpectClose,
    Forbid,
    ScriptError,
    Send,
    Step,
    Wait,
    bind,
    parse_transcript,
)

QUIET_SECONDS = 0.1  # how long a connection must be silent before a final "!" check
MAX_LISTED = 200  # received lines shown in a failure report (the most recent ones)


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
        if not sep or not VARIABLE_NAME.fullmatch(name):
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

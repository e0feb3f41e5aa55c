"""The $checkpointer over real telnet: every command, every announcement, restarts, failures.

Each test talks to ``python -m moo serve`` on port 0 through real sockets; nothing is mocked.

1. One module-scoped server (regular checkpoints on, the default hour) serves the tests
   that leave the schedule as they found it: permissions, trust, scheduling, cancelling,
   intervals and their refusals, notification settings, warnings, the alternate message,
   the busy reply, the history table and the stale warning at a wizard's login. Requested
   checkpoints are kept as a list until each runs or is cancelled, so every test that
   schedules one takes ``no_requests_left``, which cancels whatever it left (after a
   failure) and keeps the regular checkpoint next whatever order the tests run in.
2. Short-lived servers, each on its own data dir, for what changes the data dir itself: a
   restart that must keep the schedule, the trusted list, the players' settings and the
   history; a checkpoint that fails because the checkpoint directory is gone or is a file;
   a world whose records were lost (the "no history yet" announcement).

Time is never slept through: a warning two minutes ahead of a checkpoint scheduled two
minutes and three seconds out arrives about three seconds later. Only lower bounds on
elapsed time are asserted; upper bounds are only the ``expect`` timeouts.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from moo.net.telnet_client import TelnetClient
from moo.persist.records import Records, default_url
from tests.loopback.conftest import MARK, login, player, send_together, unique_name, wizard
from tests.server_process import ServerProcess

# ------------------------------------------------------------------------------ formats

WHEN = r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} UTC"
UNIT = r"(?:second|minute|hour|day)s?"
DUR = rf"(?:\d+(?:\.\d+)? seconds|\d+ {UNIT}(?: and \d+ {UNIT})?)"
P = r"^\[Checkpointer\]  "

STARTED = re.compile(
    rf"{P}Started at (?P<at>{WHEN}), it should take about (?P<took>{DUR})"
    rf" and cause (?P<lag>{DUR}) of lag\.$"
)
STARTED_NO_HISTORY = re.compile(
    rf"{P}Started at (?P<at>{WHEN}); there is no history yet to say how long it should take"
    r" or how much lag it causes\.$"
)
FINISHED = re.compile(
    rf"{P}Finished at (?P<at>{WHEN}) and took (?P<took>{DUR})\."
    r"  The DB size was (?P<size>[\d,]+) bytes\."
    rf"  It (?:grew|shrank) (?P<grown>[\d,]+) bytes? in approximately (?P<span>{DUR})"
    r" \((?P<rate>[\d,]+ bytes?/(?:second|minute|hour|day))\)\."
    rf"  The checkpoint caused (?P<lag>{DUR}) of lag\.$"
)
FINISHED_FIRST = re.compile(
    rf"{P}Finished at (?P<at>{WHEN}) and took (?P<took>{DUR})\."
    rf"  The DB size was (?P<size>[\d,]+) bytes\.  The checkpoint caused (?P<lag>{DUR}) of lag\.$"
)
FAILED = re.compile(
    rf"{P}The checkpoint started at (?P<at>{WHEN}) FAILED: (?P<error>.+)\."
    rf"  The next try is at (?P<retry>{WHEN})\.$"
)
WARNING = re.compile(rf"{P}A checkpoint will start in (?P<lead>{DUR}) \(at (?P<at>{WHEN})\)\.$")
STALE = re.compile(
    rf"{P}WARNING: no checkpoint has succeeded for (?P<for>{DUR})"
    rf" \(the last one finished at (?P<at>{WHEN})\)\.$"
)
NEVER_SAVED = "[Checkpointer]  WARNING: no checkpoint of this world has ever succeeded."
DONE = re.compile(
    r"^Checkpoint done: (?P<objects>\d+) objects, (?P<bytes>\d+) bytes in [\d.]+ s;"
    r" longest stall [\d.]+ ms\.$"
)
SCHEDULED = re.compile(rf"^Checkpoint scheduled for (?P<at>{WHEN}) \(in (?P<in>{DUR})\)\.$")
ALREADY = re.compile(
    rf"^A checkpoint is already scheduled before then: at (?P<at>{WHEN}) \((?P<why>.+)\)\.$"
)
CANCELLED = re.compile(
    rf"^Cancelled the checkpoint at (?P<at>{WHEN})\.(?: The next one is at (?P<next>{WHEN})\.)?$"
)
NEXT = re.compile(rf"^Next checkpoint: in (?P<in>{DUR}) \(at (?P<at>{WHEN})\): (?P<why>.+)\.$")
BUSY = re.compile(
    rf"^A checkpoint is being written right now; it should finish at (?P<at>{WHEN})"
    rf" \(in about (?P<in>{DUR})\)\.$"
)
ROW = re.compile(
    rf"^(?P<when>{WHEN})\s+(?P<why>\w+)\s+(?P<who>\S+)\s+(?P<took>[\d.]+s|-)\s+(?P<size>[\d,]+)"
    r"\s+(?:(?P<growth>[+-][\d,]+)\s+)?(?P<lag>[\d.]+ms|-)  (?P<status>ok|FAILED: .+)$"
)
HEADER = re.compile(r"^When\s+Why\s+Who\s+Took\s+Size\s+Growth\s+Lag\s+Status$")

SORRY = "Sorry, only wizards and players the checkpointer trusts may schedule checkpoints."
ONLY_A_NUMBER = (
    "'10' is only a number: add a unit (10 minutes) or a clock time (10am, 10:00)."
    " Say a delay, like 10 minutes, 1h30m, an hour and a half, half an hour or 90 seconds;"
    " or a time, like 3pm, 15:30, at 3:30 pm, tomorrow 9am or friday at noon"
    " (server time, at most 366 days ahead)."
)
ACCEPTED_TAIL = "(server time, at most 366 days ahead)."
NOTIFY_ON = "Checkpoint notification is on."
NOTIFY_OFF = "Checkpoint notification is off (you see the short message instead)."
NO_WARNING = "You get no advance warning of checkpoints."
REGULAR_OFF = {"persist": {"checkpoint_interval_seconds": 0}}


def epoch(shown: str) -> float:
    """The moment a "Sat Nov 21 15:30:00 2026 UTC" string names (the servers run in UTC)."""
    return datetime.strptime(shown, "%a %b %d %H:%M:%S %Y %Z").replace(tzinfo=UTC).timestamp()


def match(pattern: re.Pattern[str], line: str) -> re.Match[str]:
    found = pattern.search(line)
    assert found is not None, f"{line!r} does not match {pattern.pattern!r}"
    return found


async def next_line(client: TelnetClient) -> re.Match[str]:
    """@status-checkpoint's first line, parsed."""
    return match(NEXT, (await client.command("@status-checkpoint", MARK))[0])


async def checkpoint_now(client: TelnetClient) -> tuple[re.Match[str], list[str]]:
    """``@checkpoint now``, then wait for the requester's summary (which comes last).

    Returns the summary, parsed, and every line received meanwhile (the announcements).
    """
    mark = len(client.lines)
    assert await client.command("@checkpoint now", MARK) == ["Checkpoint started."]
    done = match(DONE, await client.expect(DONE, 10))
    return done, client.lines[mark:]


def only(pattern: re.Pattern[str], lines: list[str]) -> re.Match[str]:
    """The one line of ``lines`` that matches ``pattern``, parsed."""
    found = [m for m in map(pattern.search, lines) if m is not None]
    assert len(found) == 1, f"{pattern.pattern!r} matched {len(found)} of:\n" + "\n".join(lines)
    return found[0]


async def ensure_regular_next(wiz: TelnetClient) -> re.Match[str]:
    """The module server's next checkpoint is the regular one (earlier tests cleaned up)."""
    upcoming = await next_line(wiz)
    assert upcoming["why"] == "the regular interval", upcoming.string
    return upcoming


async def cancel_requests(wiz: TelnetClient) -> list[str]:
    """``@checkpoint cancel`` each requested checkpoint, earliest first, until the next one
    is not a request (the regular one is never cancelled); the times cancelled."""
    cancelled: list[str] = []
    while (upcoming := await next_line(wiz))["why"].startswith("requested by "):
        assert len(cancelled) < 20, f"requests never ran out: cancelled {cancelled}"
        reply = match(CANCELLED, (await wiz.command("@checkpoint cancel", MARK))[0])
        assert reply["at"] == upcoming["at"], (reply.string, upcoming.string)
        cancelled.append(reply["at"])
    return cancelled


# ------------------------------------------------------------------------------ servers


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Telnet only, regular checkpoints every hour (the default)."""
    proc = ServerProcess(tmp_path_factory.mktemp("checkpointer") / "data", ssh=False).start()
    yield proc
    proc.stop()


@pytest.fixture
def launch() -> Iterator[Callable[..., ServerProcess]]:
    """Start short-lived servers; every one still running is stopped at teardown."""
    started: list[ServerProcess] = []

    def start(data_dir: Path, extra_config: dict[str, object] | None = None) -> ServerProcess:
        proc = ServerProcess(data_dir, extra_config or {}, ssh=False).start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


class Clients:
    """The telnet clients a test opens, all closed at its end (passed or failed)."""

    def __init__(self) -> None:
        self.opened: list[TelnetClient] = []

    async def login(
        self, port: int, name: str, password: str, *, create: bool = True
    ) -> TelnetClient:
        client = await login(port, name, password, create=create)
        self.opened.append(client)
        return client

    async def player(self, server: ServerProcess, prefix: str = "p") -> tuple[TelnetClient, str]:
        client, name = await player(server, prefix)
        self.opened.append(client)
        return client, name

    async def wizard(self, server: ServerProcess) -> TelnetClient:
        client = await wizard(server)
        self.opened.append(client)
        return client

    async def close_all(self) -> None:
        while self.opened:
            await self.opened.pop().close()


@pytest.fixture
async def connect() -> AsyncIterator[Clients]:
    clients = Clients()
    yield clients
    await clients.close_all()


@pytest.fixture
async def no_requests_left(server: ServerProcess) -> AsyncIterator[None]:
    """For a test that schedules checkpoints on the module server: whatever it left
    scheduled (when it failed before cancelling) is cancelled afterwards, so the tests
    after it still find the regular checkpoint next."""
    yield
    wiz = await wizard(server)
    try:
        await cancel_requests(wiz)
    finally:
        await wiz.close()


# ------------------------------------------------------------------- who may do what


async def test_plain_player_may_not_schedule_or_manage(
    server: ServerProcess, connect: Clients, no_requests_left: None
) -> None:
    wiz = await connect.wizard(server)
    before = await ensure_regular_next(wiz)
    plain, _ = await connect.player(server, "plain")
    for command in (
        "@checkpoint",
        "@checkpoint now",
        "@checkpoint cancel",
        "@checkpoint in 5 minutes",
        "@checkpoint at 3pm",
        "@checkpoint interval 2 hours",
        "@checkpoint failed-interval 10 minutes",
    ):
        assert await plain.command(command, MARK) == [SORRY], command
    for action in ("trust", "distrust", "message"):
        assert await plain.command(f"@checkpoint {action} Wizard", MARK) == [
            f"Sorry, @checkpoint {action} is for wizards only."
        ]
    # Nothing was scheduled, cancelled or changed by the refused commands.
    after = await next_line(wiz)
    assert (after["at"], after["why"]) == (before["at"], before["why"])
    status = await wiz.command("@status-checkpoint", MARK)
    assert "Interval: 1 hour; after a failed checkpoint: 5 minutes." in status
    # Everyone may see and choose.
    assert await plain.command("@notify-checkpoint", MARK) == [NOTIFY_ON, NO_WARNING]
    status = await plain.command("@status-checkpoint", MARK)
    assert match(NEXT, status[0])["at"] == before["at"]
    table = await plain.command("@list-checkpoints", MARK)
    assert HEADER.match(table[0]) and all(ROW.match(row) for row in table[1:]), table


async def test_wizard_trusts_and_distrusts_a_player(
    server: ServerProcess, connect: Clients, no_requests_left: None
) -> None:
    wiz = await connect.wizard(server)
    await ensure_regular_next(wiz)
    helper, name = await connect.player(server, "trusty")
    assert await wiz.command(f"@checkpoint trust {name}", MARK) == [
        f"{name} may now schedule and cancel checkpoints."
    ]
    await helper.expect("The checkpointer now trusts you: see 'help checkpoints'.")

    # A trusted player schedules, is told what is next, and cancels.
    scheduled = match(SCHEDULED, (await helper.command("@checkpoint in 20 minutes", MARK))[0])
    assert scheduled["in"] == "20 minutes"
    assert abs(epoch(scheduled["at"]) - (time.time() + 1200)) < 5
    upcoming = await next_line(helper)
    assert (upcoming["at"], upcoming["why"]) == (scheduled["at"], f"requested by {name}")
    cancelled = match(CANCELLED, (await helper.command("@checkpoint cancel", MARK))[0])
    assert cancelled["at"] == scheduled["at"] and cancelled["next"] is not None
    assert (await next_line(helper))["why"] == "the regular interval"

    # ... checkpoints now and hears the result, but may not manage the checkpointer.
    done, _ = await checkpoint_now(helper)
    assert int(done["objects"]) > 10 and int(done["bytes"]) > 1000
    for action in ("trust", "distrust", "message"):
        assert await helper.command(f"@checkpoint {action} {name}", MARK) == [
            f"Sorry, @checkpoint {action} is for wizards only."
        ]

    assert await wiz.command(f"@checkpoint distrust {name}", MARK) == [
        f"{name} may no longer schedule or cancel checkpoints."
    ]
    assert await helper.command("@checkpoint in 20 minutes", MARK) == [SORRY]
    assert await helper.command("@checkpoint cancel", MARK) == [SORRY]
    assert await wiz.command("@checkpoint trust nobody-by-this-name", MARK) == [
        'There is no player named "nobody-by-this-name".'
    ]


# ------------------------------------------------------------------------- scheduling


async def test_schedule_at_in_and_in_a_minute_then_cancel(
    server: ServerProcess, connect: Clients, no_requests_left: None
) -> None:
    wiz = await connect.wizard(server)
    regular = await ensure_regular_next(wiz)
    assert 0 < epoch(regular["at"]) - time.time() <= 3600, regular.string
    sched, name = await connect.player(server, "sched")
    await wiz.command(f"@checkpoint trust {name}", MARK)

    # at <clock time> half an hour ahead: added (the regular one is later).
    target = datetime.now(UTC) + timedelta(minutes=30)
    reply = (await sched.command(f"@checkpoint at {target:%H:%M:%S}", MARK))[0]
    at_half_hour = match(SCHEDULED, reply)
    assert at_half_hour["in"].startswith(("29 minutes", "30 minutes")), reply
    assert abs(epoch(at_half_hour["at"]) - target.replace(microsecond=0).timestamp()) < 1

    # Not added when one is already scheduled before then.
    later = datetime.now(UTC) + timedelta(minutes=45)
    assert match(ALREADY, (await sched.command(f"@checkpoint at {later:%H:%M}", MARK))[0]).group(
        "at", "why"
    ) == (at_half_hour["at"], f"requested by {name}")
    assert match(
        ALREADY, (await sched.command("@checkpoint in an hour and a half", MARK))[0]
    ).group("at", "why") == (at_half_hour["at"], f"requested by {name}")

    # Plain @checkpoint: in one minute, which is earlier, so it is added.
    reply = (await sched.command("@checkpoint", MARK))[0]
    in_a_minute = match(SCHEDULED, reply)
    assert re.fullmatch(r"1 minute|59\.\d+ seconds", in_a_minute["in"]), reply
    assert abs(epoch(in_a_minute["at"]) - (time.time() + 60)) < 5
    upcoming = await next_line(wiz)
    assert (upcoming["at"], upcoming["why"]) == (in_a_minute["at"], f"requested by {name}")
    assert (
        match(ALREADY, (await sched.command("@checkpoint in 5 minutes", MARK))[0])["at"]
        == (in_a_minute["at"])
    )

    # Cancel it: only that one goes; the half-hour one was kept, so it is next again.
    cancelled = match(CANCELLED, (await sched.command("@checkpoint cancel", MARK))[0])
    assert cancelled["at"] == in_a_minute["at"]
    assert cancelled["next"] == at_half_hour["at"]
    upcoming = await next_line(wiz)
    assert (upcoming["at"], upcoming["why"]) == (at_half_hour["at"], f"requested by {name}")

    # Cancel that one too: the regular one is next again.
    cancelled = match(CANCELLED, (await sched.command("@checkpoint cancel", MARK))[0])
    assert cancelled["at"] == at_half_hour["at"]
    assert cancelled["next"] == regular["at"]
    assert (await next_line(wiz)).group("at", "why") == (regular["at"], "the regular interval")

    # A wizard schedules and cancels too.
    assert match(ALREADY, (await wiz.command("@checkpoint in 1h30m", MARK))[0]).group(
        "at", "why"
    ) == (regular["at"], "the regular interval")
    scheduled = match(SCHEDULED, (await wiz.command("@checkpoint in 10 minutes", MARK))[0])
    assert (await next_line(wiz))["why"] == "requested by Wizard"
    cancelled = match(CANCELLED, (await wiz.command("@checkpoint cancel", MARK))[0])
    assert cancelled["at"] == scheduled["at"] and cancelled["next"] == regular["at"]

    # Cancelling the regular one moves it on by an interval; a checkpoint resets that.
    cancelled = match(CANCELLED, (await wiz.command("@checkpoint cancel", MARK))[0])
    assert cancelled["at"] == regular["at"]
    assert cancelled["next"] is not None
    assert epoch(cancelled["next"]) - epoch(regular["at"]) == 3600
    upcoming = await next_line(wiz)
    assert (upcoming["at"], upcoming["why"]) == (cancelled["next"], "the regular interval")
    await checkpoint_now(wiz)
    upcoming = await next_line(wiz)
    assert upcoming["why"] == "the regular interval"
    assert abs(epoch(upcoming["at"]) - (time.time() + 3600)) < 5

    await wiz.command(f"@checkpoint distrust {name}", MARK)


async def test_a_scheduled_checkpoint_runs_after_its_warning(
    server: ServerProcess, connect: Clients, no_requests_left: None
) -> None:
    wiz = await connect.wizard(server)
    await ensure_regular_next(wiz)
    watcher, _ = await connect.player(server, "watcher")
    assert await watcher.command("@notify-checkpoint warn 2 seconds", MARK) == [
        NOTIFY_ON,
        "You are warned 2 seconds before each checkpoint.",
    ]
    # A later request first: running the earlier one must not drop it.
    later = match(SCHEDULED, (await wiz.command("@checkpoint in 10 minutes", MARK))[0])
    began = time.monotonic()
    scheduled = match(SCHEDULED, (await wiz.command("@checkpoint in 4 seconds", MARK))[0])

    warning = match(WARNING, await watcher.expect(WARNING, 10))
    assert time.monotonic() - began >= 1.5
    assert (warning["lead"], warning["at"]) == ("2 seconds", scheduled["at"])
    started = match(STARTED, await watcher.expect(STARTED, 10))
    assert time.monotonic() - began >= 3.5
    assert epoch(started["at"]) >= epoch(scheduled["at"])
    match(FINISHED, await watcher.expect(FINISHED, 10))

    # The requested one is done: it is in the history, by its requester, and gone; only
    # the later request is left, and cancelling it makes the regular one next.
    rows = await wiz.command("@list-checkpoints 1", MARK)
    assert len(rows) == 2
    row = match(ROW, rows[1])
    assert (row["why"], row["who"], row["status"]) == ("manual", "Wizard", "ok")
    upcoming = await next_line(wiz)
    assert (upcoming["at"], upcoming["why"]) == (later["at"], "requested by Wizard")
    cancelled = match(CANCELLED, (await wiz.command("@checkpoint cancel", MARK))[0])
    assert cancelled["at"] == later["at"]
    assert (await next_line(wiz))["why"] == "the regular interval"
    assert await watcher.command("@notify-checkpoint warn off", MARK) == [NOTIFY_ON, NO_WARNING]


async def test_warn_two_minutes_arrives_two_minutes_ahead(
    server: ServerProcess, connect: Clients, no_requests_left: None
) -> None:
    wiz = await connect.wizard(server)
    await ensure_regular_next(wiz)
    warned, _ = await connect.player(server, "warned")
    unwarned, _ = await connect.player(server, "unwarned")
    assert await warned.command("@notify-checkpoint warn 2 minutes", MARK) == [
        NOTIFY_ON,
        "You are warned 2 minutes before each checkpoint.",
    ]
    seen_before = len(unwarned.lines)
    began = time.monotonic()
    reply = (await wiz.command("@checkpoint in 2 minutes 3 seconds", MARK))[0]
    scheduled = match(SCHEDULED, reply)
    assert scheduled["in"] == "2 minutes and 3 seconds", reply

    warning = match(WARNING, await warned.expect(WARNING, 10))
    assert time.monotonic() - began >= 2.0, "the warning came too early"
    assert (warning["lead"], warning["at"]) == ("2 minutes", scheduled["at"])
    await unwarned.command("look", MARK)
    assert not [line for line in unwarned.lines[seen_before:] if "[Checkpointer]" in line]

    cancelled = match(CANCELLED, (await wiz.command("@checkpoint cancel", MARK))[0])
    assert cancelled["at"] == scheduled["at"]
    await warned.command("@notify-checkpoint warn off", MARK)


# -------------------------------------------------------------------------- intervals


async def test_intervals_change_and_bad_ones_are_refused(
    server: ServerProcess, connect: Clients, no_requests_left: None
) -> None:
    wiz = await connect.wizard(server)
    regular = await ensure_regular_next(wiz)
    for command in (
        "@checkpoint interval 10",
        "@checkpoint failed-interval 10",
        "@checkpoint in 10",
        "@checkpoint at 10",
    ):
        assert await wiz.command(command, MARK) == [ONLY_A_NUMBER], command
    for command in ("@checkpoint interval 5 seconds", "@checkpoint failed-interval 9s"):
        assert await wiz.command(command, MARK) == ["An interval must be at least 10 seconds."]
    for command, start in (
        ("@checkpoint in soon", "I can't read 'soon' as a delay. Say a delay, like"),
        ("@checkpoint interval", "Say when. Say a delay, like"),
        ("@checkpoint in 0 minutes", "'0 minutes' is not a delay: it must be more than zero."),
        ("@checkpoint at yesterday", "'yesterday' is in the past"),
        ("@checkpoint at someday maybe", "I can't read 'someday maybe' as a time."),
    ):
        reply = await wiz.command(command, MARK)
        assert len(reply) == 1 and reply[0].startswith(start), (command, reply)
        assert reply[0].endswith(ACCEPTED_TAIL), reply
    assert (await wiz.command("@checkpoint sometime", MARK))[0].startswith(
        "Usage: @checkpoint [now | cancel | in <interval> | at <time> |"
    )
    assert (await next_line(wiz)).group("at", "why") == (regular["at"], "the regular interval")

    # A longer interval moves the regular checkpoint by the difference.
    answer = (await wiz.command("@checkpoint interval 2 hours", MARK))[0]
    moved = re.fullmatch(
        rf"The interval between checkpoints is now 2 hours\. The next checkpoint is at ({WHEN})\.",
        answer,
    )
    assert moved is not None, answer
    assert epoch(moved[1]) - epoch(regular["at"]) == 3600
    answer = (await wiz.command("@checkpoint failed-interval a quarter of an hour", MARK))[0]
    assert answer == (
        "The interval after a failed checkpoint is now 15 minutes."
        f" The next checkpoint is at {moved[1]}."
    )
    status = await wiz.command("@status-checkpoint", MARK)
    assert "Interval: 2 hours; after a failed checkpoint: 15 minutes." in status
    assert match(NEXT, status[0])["at"] == moved[1]

    assert (await wiz.command("@checkpoint interval 1 hour", MARK))[0] == (
        "The interval between checkpoints is now 1 hour."
        f" The next checkpoint is at {regular['at']}."
    )
    await wiz.command("@checkpoint failed-interval 5 minutes", MARK)
    status = await wiz.command("@status-checkpoint", MARK)
    assert "Interval: 1 hour; after a failed checkpoint: 5 minutes." in status


# ---------------------------------------------------------------------- notification


async def test_notify_settings(server: ServerProcess, connect: Clients) -> None:
    client, _ = await connect.player(server, "notify")
    assert await client.command("@notify-checkpoint", MARK) == [NOTIFY_ON, NO_WARNING]
    assert await client.command("@notify-checkpoint off", MARK) == [NOTIFY_OFF, NO_WARNING]
    assert await client.command("@notify-checkpoint warn", MARK) == [
        NOTIFY_OFF,
        "You are warned 1 minute before each checkpoint.",
    ]
    assert await client.command("@notify-ch warn 90 seconds", MARK) == [
        NOTIFY_OFF,
        "You are warned 1 minute and 30 seconds before each checkpoint.",
    ]
    assert await client.command("@notify-checkpoint on", MARK) == [
        NOTIFY_ON,
        "You are warned 1 minute and 30 seconds before each checkpoint.",
    ]
    assert await client.command("@notify-checkpoint warn 10", MARK) == [ONLY_A_NUMBER]
    assert await client.command("@notify-checkpoint warn none", MARK) == [NOTIFY_ON, NO_WARNING]
    assert await client.command("@notify-checkpoint loudly", MARK) == [
        "Usage: @notify-checkpoint [on | off | warn [<time> | off]]"
    ]


async def test_players_with_notification_off_see_the_short_message(
    server: ServerProcess, connect: Clients
) -> None:
    wiz = await connect.wizard(server)
    await ensure_regular_next(wiz)
    on, _ = await connect.player(server, "hears")
    off, _ = await connect.player(server, "quiet")
    assert await off.command("@notify-checkpoint off", MARK) == [NOTIFY_OFF, NO_WARNING]
    assert await wiz.command("@checkpoint message The world is being saved.", MARK) == [
        'Players with checkpoint notification off will see: "The world is being saved."'
    ]
    mark = len(off.lines)
    done, seen = await checkpoint_now(wiz)
    assert only(FINISHED, seen)["size"].replace(",", "") == done["bytes"]
    started = match(STARTED, await on.expect(STARTED, 10))
    finished = match(FINISHED, await on.expect(FINISHED, 10))
    assert epoch(finished["at"]) >= epoch(started["at"])
    assert finished.string == only(FINISHED, seen).string
    await off.command("look", MARK)
    heard = [line for line in off.lines[mark:] if "saved" in line or "[Checkpointer]" in line]
    assert heard == ["The world is being saved."]

    assert await wiz.command("@checkpoint message", MARK) == [
        "Players with checkpoint notification off will see nothing."
    ]
    mark = len(off.lines)
    await checkpoint_now(wiz)
    await on.expect(FINISHED, 10)
    await off.command("look", MARK)
    heard = [line for line in off.lines[mark:] if "saved" in line or "[Checkpointer]" in line]
    assert heard == []


async def test_a_request_while_writing_says_when_it_should_finish(
    server: ServerProcess, connect: Clients
) -> None:
    wiz = await connect.wizard(server)
    # One write: the second command runs while the first one's checkpoint is being written.
    first, second, status = await send_together(
        wiz, ["@checkpoint now", "@checkpoint now", "@status-checkpoint"], timeout=5.0
    )
    assert first == ["Checkpoint started."]
    assert len(second) == 1
    busy = match(BUSY, second[0])
    assert abs(epoch(busy["at"]) - time.time()) < 60
    progress = [line for line in status if line.startswith("In progress:")]
    assert len(progress) == 1
    assert re.fullmatch(
        rf"In progress: yes, started {DUR} ago\. A checkpoint is being written right now;"
        rf" it should finish at {WHEN} \(in about {DUR}\)\.",
        progress[0],
    ), progress
    deadline = time.monotonic() + 10
    while "In progress: no." not in await wiz.command("@status-checkpoint", MARK):
        assert time.monotonic() < deadline, "the checkpoint never finished"
        await asyncio.sleep(0.1)
    assert [line for line in wiz.lines if DONE.search(line)], "no summary for the requester"


# ---------------------------------------------------------------------- status, history


async def test_status_lists_what_the_checkpointer_knows(
    server: ServerProcess, connect: Clients
) -> None:
    client, _ = await connect.player(server, "status")
    status = await client.command("@status-checkpoint", MARK)
    upcoming = match(NEXT, status[0])
    assert upcoming["why"] == "the regular interval"
    assert re.fullmatch(rf"Last saved: {DUR} ago \(at {WHEN}; reason: \w+\)\.", status[1]), status
    assert status[2] == "In progress: no."
    assert status[3] == "Interval: 1 hour; after a failed checkpoint: 5 minutes."
    assert re.fullmatch(
        rf"Recent checkpoints take about {DUR} and cause {DUR} of lag\.", status[4]
    ), status
    size = re.fullmatch(
        r"World size at the last checkpoint: ([\d,]+) bytes \(([\d,]+) objects\)\.", status[5]
    )
    assert size is not None, status
    table = await client.command("@list-checkpoints 1", MARK)
    assert match(ROW, table[1])["size"] == size[1]


async def test_list_checkpoints(server: ServerProcess, connect: Clients) -> None:
    wiz = await connect.wizard(server)
    await checkpoint_now(wiz)  # at least two ok rows in a row: a growth to check
    await checkpoint_now(wiz)
    client, _ = await connect.player(server, "lister")
    table = await client.command("@list-checkpoints", MARK)
    assert HEADER.match(table[0]), table
    rows = [match(ROW, row) for row in table[1:]]
    assert 1 <= len(rows) <= 10
    assert rows[-1]["why"] == "initial" or len(rows) == 10
    moments = [epoch(row["when"]) for row in rows]
    assert moments == sorted(moments, reverse=True)
    compared = 0
    for newer, older in itertools.pairwise(rows):
        if newer["growth"] is not None and older["status"] == "ok":
            grown = int(newer["size"].replace(",", "")) - int(older["size"].replace(",", ""))
            assert int(newer["growth"].replace(",", "")) == grown
            compared += 1
    assert compared >= 1, table
    assert len(await client.command("@list-checkpoints 1", MARK)) == 2
    for bad in ("0", "101", "many"):
        assert await client.command(f"@list-checkpoints {bad}", MARK) == [
            "Usage: @list-checkpoints [<how many, 1 to 100>]"
        ]


async def test_list_checkpoints_n_shows_the_same_rows(
    server: ServerProcess, connect: Clients
) -> None:
    """A checkpoint's growth is its own: showing fewer rows must not blank it."""
    wiz = await connect.wizard(server)
    await checkpoint_now(wiz)
    await checkpoint_now(wiz)
    table = await wiz.command("@list-checkpoints 3", MARK)
    assert match(ROW, table[1])["growth"] is not None, table
    assert await wiz.command("@list-checkpoints 1", MARK) == table[:2]
    assert await wiz.command("@list-checkpoints 2", MARK) == table[:3]


async def test_list_checkpoints_columns_line_up_with_the_header(
    server: ServerProcess, connect: Clients
) -> None:
    """Each value starts under its column's heading."""
    client, _ = await connect.player(server, "columns")
    table = await client.command("@list-checkpoints", MARK)
    header, last = table[0], table[-1]
    row = match(ROW, last)
    for column, value in (("Why", row["why"]), ("Who", row["who"]), ("Status", row["status"])):
        at = header.index(column)
        assert last[at:].startswith(value), (
            f"{column!r} is at column {at} in the header but {value!r} is at column"
            f" {last.find(value, 20)}:\n{header}\n{last}"
        )


async def test_wizards_are_warned_at_login_when_saving_is_stale(
    server: ServerProcess, connect: Clients
) -> None:
    wiz = await connect.wizard(server)
    assert await wiz.command("@property $checkpointer.stale_after 1", MARK) == [
        "Checkpointer.stale_after set to 1."
    ]
    try:
        deadline = time.monotonic() + 10
        while not STALE.search((await wiz.command("@status-checkpoint", MARK))[-1]):
            assert time.monotonic() < deadline, "@status-checkpoint never showed the warning"
            await asyncio.sleep(0.2)
        await wiz.close()

        wiz = await connect.wizard(server)
        stale = match(STALE, await wiz.expect(STALE, 5))
        last = match(ROW, (await wiz.command("@list-checkpoints 1", MARK))[1])
        assert epoch(stale["at"]) >= epoch(last["when"])

        plain, _ = await connect.player(server, "unalarmed")
        await plain.command("look", MARK)
        assert not [line for line in plain.lines if "WARNING" in line]
    finally:
        if wiz.closed or wiz.writer.is_closing():
            wiz = await connect.wizard(server)
        assert await wiz.command("@property $checkpointer.stale_after 0", MARK) == [
            "Checkpointer.stale_after set to 0."
        ]
    status = await wiz.command("@status-checkpoint", MARK)
    assert not [line for line in status if "WARNING" in line], status


# ------------------------------------------------------------------- restart, failure


async def test_a_restart_keeps_schedule_trust_settings_and_history(
    tmp_path: Path, launch: Callable[..., ServerProcess], connect: Clients
) -> None:
    data = tmp_path / "data"
    first = launch(data)
    wiz = await connect.wizard(first)
    trusted_name, reader_name = unique_name("keeper"), unique_name("reader")
    trusted = await connect.login(first.telnet_port, trusted_name, "secret")
    reader = await connect.login(first.telnet_port, reader_name, "secret")
    await wiz.command(f"@checkpoint trust {trusted_name}", MARK)
    scheduled = match(SCHEDULED, (await trusted.command("@checkpoint in 30 minutes", MARK))[0])
    await reader.command("@notify-checkpoint off", MARK)
    reader_settings = await reader.command("@notify-checkpoint warn 5 minutes", MARK)
    assert reader_settings == [NOTIFY_OFF, "You are warned 5 minutes before each checkpoint."]
    await wiz.command("@checkpoint message Saving...", MARK)
    await wiz.command("@checkpoint interval 2 hours", MARK)
    await checkpoint_now(wiz)
    status = await wiz.command("@status-checkpoint", MARK)
    upcoming = match(NEXT, status[0])
    assert (upcoming["at"], upcoming["why"]) == (scheduled["at"], f"requested by {trusted_name}")
    history = await wiz.command("@list-checkpoints", MARK)
    assert [match(ROW, row)["why"] for row in history[1:]] == ["manual", "initial"]
    await connect.close_all()
    assert first.stop() == 0

    second = launch(data)
    wiz = await connect.wizard(second)
    status_after = await wiz.command("@status-checkpoint", MARK)
    after = match(NEXT, status_after[0])
    assert (after["at"], after["why"]) == (upcoming["at"], upcoming["why"])
    assert "Interval: 2 hours; after a failed checkpoint: 5 minutes." in status_after
    history_after = await wiz.command("@list-checkpoints", MARK)
    assert history_after[0] == history[0]
    shutdown = match(ROW, history_after[1])
    assert (shutdown["why"], shutdown["who"], shutdown["status"]) == ("shutdown", "server", "ok")
    assert history_after[2:] == history[1:]

    reader = await connect.login(second.telnet_port, reader_name, "secret", create=False)
    assert await reader.command("@notify-checkpoint", MARK) == reader_settings
    trusted = await connect.login(second.telnet_port, trusted_name, "secret", create=False)
    assert match(ALREADY, (await trusted.command("@checkpoint in 45 minutes", MARK))[0]).group(
        "at", "why"
    ) == (scheduled["at"], f"requested by {trusted_name}")
    cancelled = match(CANCELLED, (await trusted.command("@checkpoint cancel", MARK))[0])
    assert cancelled["at"] == scheduled["at"]

    # The reader's 5 minutes of warning still work: a checkpoint 5 minutes and 2 seconds out.
    began = time.monotonic()
    soon = match(SCHEDULED, (await trusted.command("@checkpoint in 5 minutes 2 seconds", MARK))[0])
    warning = match(WARNING, await reader.expect(WARNING, 10))
    assert time.monotonic() - began >= 1.0, "the warning came too early"
    assert (warning["lead"], warning["at"]) == ("5 minutes", soon["at"])
    assert (
        match(CANCELLED, (await trusted.command("@checkpoint cancel", MARK))[0])["at"]
        == (soon["at"])
    )

    mark = len(reader.lines)
    await checkpoint_now(trusted)
    await wiz.expect(FINISHED, 10)
    await reader.command("look", MARK)
    heard = [line for line in reader.lines[mark:] if "Sav" in line or "[Checkpointer]" in line]
    assert heard == ["Saving..."]


def _move_away(checkpoints: Path) -> None:
    checkpoints.rename(checkpoints.with_name("checkpoints-away"))


def _file_in_place(checkpoints: Path) -> None:
    _move_away(checkpoints)
    checkpoints.write_text("not a directory\n")


def _restore(checkpoints: Path) -> None:
    away = checkpoints.with_name("checkpoints-away")
    if away.exists():
        if checkpoints.is_file():
            checkpoints.unlink()
        away.rename(checkpoints)


@pytest.mark.parametrize(
    ("breakage", "error"),
    [(_move_away, "No such file or directory"), (_file_in_place, "Not a directory")],
    ids=["directory-missing", "file-in-its-place"],
)
async def test_a_failed_checkpoint_retries_after_the_failed_interval(
    tmp_path: Path,
    launch: Callable[..., ServerProcess],
    connect: Clients,
    breakage: Callable[[Path], None],
    error: str,
) -> None:
    """Root ignores permissions, so the directory is taken away: gone (ENOENT), or replaced
    by a regular file (ENOTDIR, which also defeats removing the temp file afterwards)."""
    data = tmp_path / "data"
    proc = launch(data)
    checkpoints = data / "checkpoints"
    wiz = await connect.wizard(proc)
    bystander, _ = await connect.player(proc, "bystander")
    reply = (await wiz.command("@checkpoint failed-interval 7 minutes", MARK))[0]
    assert reply.startswith("The interval after a failed checkpoint is now 7 minutes.")
    try:
        breakage(checkpoints)
        assert await wiz.command("@checkpoint now", MARK) == ["Checkpoint started."]
        failed = match(FAILED, await bystander.expect(FAILED, 10))
        assert error in failed["error"]
        assert abs(epoch(failed["retry"]) - (time.time() + 420)) < 10
        assert (await wiz.expect(FAILED, 10)) == failed.string
        assert error in await wiz.expect("Checkpoint FAILED: ", 10)

        status = await wiz.command("@status-checkpoint", MARK)
        upcoming = match(NEXT, status[0])
        assert upcoming["why"] == "a retry after a failed checkpoint"
        assert re.fullmatch(r"6 minutes(?: and \d+ seconds?)?|7 minutes", upcoming["in"]), status
        assert abs(epoch(upcoming["at"]) - epoch(failed["retry"])) <= 2
        assert match(re.compile(r"reason: (\w+)\)"), status[1])[1] == "initial"
        assert "In progress: no." in status

        records = Records.open(default_url(data))
        try:
            newest = records.recent_checkpoints_sync(1)[0]
        finally:
            records.close()
        assert (newest.status, newest.reason, newest.requested_by) == ("failed", "manual", "Wizard")
        assert newest.error is not None and error in newest.error
        row = match(ROW, (await wiz.command("@list-checkpoints 1", MARK))[1])
        assert row["status"] == f"FAILED: {newest.error}"
    finally:
        _restore(checkpoints)

    await checkpoint_now(wiz)
    match(FINISHED, await bystander.expect(FINISHED, 10))
    upcoming = await next_line(wiz)
    assert upcoming["why"] == "the regular interval"
    assert abs(epoch(upcoming["at"]) - (time.time() + 3600)) < 10


async def test_a_world_without_records_starts_with_no_history(
    tmp_path: Path, launch: Callable[..., ServerProcess], connect: Clients
) -> None:
    data = tmp_path / "data"
    first = launch(data, REGULAR_OFF)
    await connect.wizard(first)  # a SIGTERM just after "listening" can beat its handlers
    await connect.close_all()
    assert first.stop() == 0
    for records in data.glob("moo.sqlite*"):  # the checkpoint files stay: the world is saved
        records.unlink()
    proc = launch(data, REGULAR_OFF)
    wiz = await connect.wizard(proc)
    await wiz.expect(NEVER_SAVED, 5)
    status = await wiz.command("@status-checkpoint", MARK)
    assert status == [
        "Next checkpoint: none scheduled (regular checkpoints are off).",
        "Last saved: never.",
        "In progress: no.",
        "Interval: 1 hour; after a failed checkpoint: 5 minutes.",
        NEVER_SAVED,
    ]
    assert await wiz.command("@list-checkpoints", MARK) == [
        "No checkpoints have been recorded yet."
    ]
    assert await wiz.command("@checkpoint cancel", MARK) == ["No checkpoint is scheduled."]
    assert await wiz.command("@checkpoint interval 2 hours", MARK) == [
        "The interval between checkpoints is now 2 hours."
    ]
    scheduled = match(SCHEDULED, (await wiz.command("@checkpoint", MARK))[0])
    assert await wiz.command("@checkpoint cancel", MARK) == [
        f"Cancelled the checkpoint at {scheduled['at']}."
    ]

    done, seen = await checkpoint_now(wiz)
    only(STARTED_NO_HISTORY, seen)
    finished = only(FINISHED_FIRST, seen)
    assert finished["size"].replace(",", "") == done["bytes"]
    status = await wiz.command("@status-checkpoint", MARK)
    assert re.fullmatch(rf"Last saved: {DUR} ago \(at {WHEN}; reason: manual\)\.", status[1])
    assert not [line for line in status if "WARNING" in line], status

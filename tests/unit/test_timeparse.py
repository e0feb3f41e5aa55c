"""Time parsing: our duration grammar, dateparser behind it, refusals, and the display forms."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from moo.checkpoint.timeparse import (
    ACCEPTED_FORMS,
    TimeParseError,
    format_duration,
    format_when,
    parse_duration,
    parse_when,
    warm_up,
)
from moo.errors import VerbError

UTC_ZONE = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
ZONES = [UTC_ZONE, NEW_YORK, BERLIN]


def at(tz: ZoneInfo, day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=tz)


# ----------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10 minutes", timedelta(minutes=10)),
        ("10 mins", timedelta(minutes=10)),
        ("10m", timedelta(minutes=10)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("1 hour 30 minutes", timedelta(hours=1, minutes=30)),
        ("1 hour and 30 minutes", timedelta(hours=1, minutes=30)),
        ("an hour", timedelta(hours=1)),
        ("an hour and a half", timedelta(hours=1, minutes=30)),
        ("half an hour", timedelta(minutes=30)),
        ("a minute", timedelta(minutes=1)),
        ("90 seconds", timedelta(seconds=90)),
        ("90s", timedelta(seconds=90)),
        ("1.5 hours", timedelta(hours=1, minutes=30)),
        ("2 days", timedelta(days=2)),
        ("1d2h", timedelta(days=1, hours=2)),
        ("a quarter of an hour", timedelta(minutes=15)),
        ("quarter hour", timedelta(minutes=15)),
        ("three quarters of an hour", timedelta(minutes=45)),
        ("1 and a half hours", timedelta(hours=1, minutes=30)),
        ("2 weeks", timedelta(days=14)),
        ("0.1 hours", timedelta(minutes=6)),
        ("in 10 minutes", timedelta(minutes=10)),
        ("In An Hour And A Half", timedelta(hours=1, minutes=30)),
        ("  10   MINUTES  ", timedelta(minutes=10)),
        ("10 minutes from now", timedelta(minutes=10)),
        ("366 days", timedelta(days=366)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["10", "3", "", "   ", "soon-ish", "0 minutes", "-5 minutes", "400 days", "367 days",
     "5 minutes ago", "half", "3pm", "10 months", "minutes", "1h and"],
)  # fmt: skip
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(TimeParseError) as caught:
        parse_duration(text)
    assert ACCEPTED_FORMS in str(caught.value)


def test_time_parse_error_is_a_verb_error() -> None:
    assert issubclass(TimeParseError, VerbError)


def test_bare_number_message_says_what_to_add() -> None:
    with pytest.raises(TimeParseError, match="'10' is only a number"):
        parse_duration("10")


# ----------------------------------------------------------------------------- when


@pytest.mark.parametrize("tz", ZONES, ids=str)
@pytest.mark.parametrize(
    ("text", "day", "hour", "minute"),
    [
        ("3pm", 21, 15, 0),
        ("15:30", 21, 15, 30),
        ("at 3:30 pm", 21, 15, 30),
        ("3:30 PM", 21, 15, 30),
        ("13:30", 22, 13, 30),  # earlier today: tomorrow
        ("14:00", 22, 14, 0),  # exactly now: tomorrow
        ("noon", 22, 12, 0),
        ("at noon", 22, 12, 0),
        ("midnight", 22, 0, 0),
        ("tomorrow 9am", 22, 9, 0),
        ("friday at noon", 27, 12, 0),  # 2026-11-21 is a Saturday
        ("10 minutes", 21, 14, 10),
        ("in 10 minutes", 21, 14, 10),
        ("an hour and a half", 21, 15, 30),
        ("half an hour", 21, 14, 30),
        ("1h30m", 21, 15, 30),
    ],
)
def test_parse_when(tz: ZoneInfo, text: str, day: int, hour: int, minute: int) -> None:
    now = at(tz, 21, 14)
    got = parse_when(text, now=now, tz=tz)
    expected = at(tz, day, hour, minute)
    assert got == expected
    assert got.tzinfo is tz
    assert got.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("tz", ZONES, ids=str)
def test_parse_when_seconds(tz: ZoneInfo) -> None:
    now = at(tz, 21, 14)
    assert parse_when("90 seconds", now=now, tz=tz) == now + timedelta(seconds=90)
    assert parse_when("90s", now=now, tz=tz) == now + timedelta(seconds=90)


def test_parse_when_converts_now_from_another_zone() -> None:
    now_in_utc = at(NEW_YORK, 21, 14).astimezone(UTC_ZONE)
    assert parse_when("3pm", now=now_in_utc, tz=NEW_YORK) == at(NEW_YORK, 21, 15)


def test_parse_when_late_evening_rolls_past_midnight() -> None:
    now = at(NEW_YORK, 21, 23, 59)
    assert parse_when("midnight", now=now, tz=NEW_YORK) == at(NEW_YORK, 22, 0)
    assert parse_when("tomorrow 9am", now=now, tz=NEW_YORK) == at(NEW_YORK, 22, 9)


def test_parse_when_across_the_dst_change() -> None:
    # New York moves to EDT at 2026-03-08 02:00.
    now = at(NEW_YORK, 7, 14, month=3)
    tomorrow_nine = parse_when("tomorrow 9am", now=now, tz=NEW_YORK)
    assert tomorrow_nine == at(NEW_YORK, 8, 9, month=3)
    assert tomorrow_nine.utcoffset() == timedelta(hours=-4)
    assert parse_when("13:30", now=now, tz=NEW_YORK) == at(NEW_YORK, 8, 13, 30, month=3)
    # A delay is elapsed time: 24 hours later is 15:00 EDT.
    assert parse_when("24 hours", now=now, tz=NEW_YORK) == at(NEW_YORK, 8, 15, month=3)
    # 02:30 does not exist that night; it is shown as the real instant, 03:30 EDT.
    assert format_when(parse_when("2:30am", now=now, tz=NEW_YORK), NEW_YORK) == (
        "Sun Mar  8 03:30:00 2026 EDT"
    )


def test_parse_when_with_a_named_zone_is_an_instant() -> None:
    now = at(BERLIN, 21, 14)
    assert parse_when("3pm EST", now=now, tz=BERLIN) == at(BERLIN, 21, 21)
    assert parse_when("13:30 UTC", now=now, tz=BERLIN) == at(BERLIN, 21, 14, 30)
    assert parse_when("12:30 UTC", now=now, tz=BERLIN) == at(BERLIN, 22, 13, 30)


@pytest.mark.parametrize("tz", ZONES, ids=str)
@pytest.mark.parametrize(
    "text",
    ["10", "3", "5 minutes ago", "yesterday", "", "soon-ish", "0 minutes", "-5 minutes",
     "400 days", "in 2 years", "today 1pm", "at"],
)  # fmt: skip
def test_parse_when_refuses(tz: ZoneInfo, text: str) -> None:
    with pytest.raises(TimeParseError) as caught:
        parse_when(text, now=at(tz, 21, 14), tz=tz)
    assert ACCEPTED_FORMS in str(caught.value)


def test_parse_when_past_message_shows_the_moment() -> None:
    with pytest.raises(TimeParseError, match=r"is in the past \(Fri Nov 20 14:00:00 2026 EST\)"):
        parse_when("yesterday", now=at(NEW_YORK, 21, 14), tz=NEW_YORK)


def test_parse_when_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_when("3pm", now=datetime(2026, 11, 21, 14), tz=UTC_ZONE)


def test_warm_up_returns_seconds() -> None:
    took = warm_up()
    assert isinstance(took, float)
    assert took >= 0.0


# ------------------------------------------------------------------------- display


def test_format_when_is_ctime_with_the_zone() -> None:
    assert format_when(at(UTC_ZONE, 21, 15, 30), UTC_ZONE) == "Sat Nov 21 15:30:00 2026 UTC"
    assert format_when(at(UTC_ZONE, 21, 15, 30), NEW_YORK) == "Sat Nov 21 10:30:00 2026 EST"
    assert format_when(at(UTC_ZONE, 1, 15, 30, month=7), NEW_YORK).endswith(" EDT")


def test_format_when_refuses_naive() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_when(datetime(2026, 11, 21, 15, 30), UTC_ZONE)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.0, "0 seconds"),
        (0.03, "0.03 seconds"),
        (0.004, "0 seconds"),
        (1.0, "1 second"),
        (1.5, "1.5 seconds"),
        (45.0, "45 seconds"),
        (59.999, "1 minute"),
        (79.0, "1 minute and 19 seconds"),
        (79.6, "1 minute and 20 seconds"),
        (125 * 60.0, "2 hours and 5 minutes"),
        (2 * 3600 + 5 * 60 + 40.0, "2 hours and 5 minutes"),
        (16 * 3600.0, "16 hours"),
        (16 * 3600 + 30.0, "16 hours"),
        (86400.0, "1 day"),
        (3 * 86400 + 2 * 3600 + 59.0, "3 days and 2 hours"),
        (-3.0, "0 seconds"),
    ],
)
def test_format_duration(seconds: float, expected: str) -> None:
    assert format_duration(seconds) == expected


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_format_duration_refuses_non_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        format_duration(bad)

"""Intervals and times typed by players, read in English; durations and moments shown back.

Pure: no I/O, no clock. The caller passes ``now`` and the server's zone.

How ``parse_when(text, now=..., tz=...)`` reads a point in time:

1. Normalise: lower case, single spaces, drop a leading "at ". Empty text and bare numbers
   ("10", "3") are refused here: dateparser reads a bare 10 as October and 3 as March.
2. Our own duration grammar (``parse_duration``): "10 minutes", "1h30m", "an hour and a
   half", "half an hour"... If the whole text is a duration, the answer is ``now`` + it,
   added in UTC so a DST change does not move it.
3. Otherwise dateparser, with future preference and ``now`` as the relative base.
4. Clock-only text ("3pm", "15:30", "noon") is set to its next occurrence by us, not by
   dateparser (see quirk 2).
5. Anything at or before ``now``, or more than 366 days ahead, is refused.

Every refusal is a ``TimeParseError`` (a ``VerbError``) whose message ends with
``ACCEPTED_FORMS``.

Why we hand-write the duration grammar: dateparser 1.5 returns None for "an hour and a
half", "half an hour" and "a quarter of an hour". Without future preference it reads
"10 minutes" as ten minutes *ago*. The grammar is one regex and about 40 lines.

Why the settings differ from the obvious {TIMEZONE: tz, TO_TIMEZONE: tz, aware base}.
Measured on dateparser 1.5.0 with now = 2026-11-21 14:00:

1. An aware RELATIVE_BASE in a non-UTC zone makes every clock-only text return None
   ("3pm" in America/New_York). pytz's ``utcoffset()`` raises on the aware value inside
   ``_correct_for_time_frame``, and dateparser swallows the error.
2. With a naive base and TIMEZONE set to a non-UTC zone, the future roll for clock-only
   text treats the base as UTC. In New York "13:30" gave today 13:30, which is in the past.
   In Berlin "14:30" gave tomorrow.
3. With TIMEZONE set to a DST zone, relative days are an hour off across the change:
   "tomorrow 9am" on 2026-03-07 in New York gave 10:00 EDT.

So dateparser gets the server's naive wall-clock time as RELATIVE_BASE, with
TIMEZONE "UTC". With that setting it applies no offsets: plain wall-clock arithmetic, the
same whatever the machine's TZ. RETURN_AS_TIMEZONE_AWARE and TO_TIMEZONE are left unset.
A naive result is wall-clock time in ``tz``, and we attach the ZoneInfo ourselves. A result
that carries a zone came from text that named one ("3pm EST"). It is an exact instant in
UTC, and we convert it.

Other quirks: "5 minutes ago" and "yesterday" stay in the past even with future preference
(step 5 refuses them). "tomorrow" keeps the current time of day. "3 o'clock" and
"quarter past 3" return None.

Cost, measured here: ``import dateparser`` takes 66-74 ms. The first parse takes another
~135 ms (it loads the language data lazily). ``warm_up()`` in a fresh process took
190-260 ms; after it, ``parse_when`` takes about 0.65 ms. The import is done
lazily, so a process that never parses a time (``moo checkpoint ...``, unit tests of other
modules) does not pay the 70 ms. The server calls ``warm_up()`` at start, so no player pays
the ~200 ms.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from moo.errors import VerbError

__all__ = [
    "ACCEPTED_FORMS",
    "TimeParseError",
    "format_duration",
    "format_when",
    "parse_duration",
    "parse_when",
    "warm_up",
]

ACCEPTED_FORMS = (
    "Say a delay, like 10 minutes, 1h30m, an hour and a half, half an hour or 90 seconds;"
    " or a time, like 3pm, 15:30, at 3:30 pm, tomorrow 9am or friday at noon"
    " (server time, at most 366 days ahead)."
)

MAX_AHEAD = timedelta(days=366)


class TimeParseError(VerbError):
    """Text that is not an accepted delay or time; the message shows the accepted forms."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason} {ACCEPTED_FORMS}")


# ------------------------------------------------------------------------- durations

_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_UNIT = r"(?:weeks?|wks?|w|days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)(?![a-z])"
_FRACTION = {"half": Decimal("0.5"), "quarter": Decimal("0.25"), "three quarters": Decimal("0.75")}
_PART = re.compile(
    rf"""
    (?:an?\s+)?(?P<frac>half|quarter|three\s+quarters)\s+(?:of\s+)?(?:an?\s+)?(?P<funit>{_UNIT})
    | (?: (?P<num>[-+]?(?:\d+(?:\.\d+)?|\.\d+))\s* | (?P<word>an?|one)\s+ )
      (?:and\s+an?\s+(?P<pre>half|quarter)\s+)?
      (?P<unit>{_UNIT})
      (?:\s+and\s+an?\s+(?P<post>half|quarter))?
    """,
    re.VERBOSE,
)
_SEPARATOR = re.compile(r"\s*,?\s*(?:and\s+)?")
_BARE_NUMBER = re.compile(r"[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)")


def _normalise(text: str) -> str:
    return " ".join(text.lower().split()).rstrip(".")


def _unit_seconds(unit: str) -> int:
    return _UNIT_SECONDS[unit[0]]


def _match_duration(text: str) -> timedelta | None:
    """The duration ``text`` (normalised) spells, or None if it is not duration-shaped.

    Raises TimeParseError for a duration that is zero, negative or over 366 days.
    """
    body = text.removeprefix("in ").removesuffix(" from now")
    total = Decimal(0)
    negative = False
    pos, parts = 0, 0
    while pos < len(body):
        separator = _SEPARATOR.match(body, pos) if parts else None
        if separator:
            pos = separator.end()
        match = _PART.match(body, pos)
        if match is None or match.end() == pos:
            return None
        if match["frac"]:
            total += _FRACTION[" ".join(match["frac"].split())] * _unit_seconds(match["funit"])
        else:
            amount = Decimal(match["num"]) if match["num"] else Decimal(1)
            negative = negative or amount < 0
            extra = match["pre"] or match["post"]
            if extra:
                amount += _FRACTION[extra]
            total += amount * _unit_seconds(match["unit"])
        pos, parts = match.end(), parts + 1
    if not parts:
        return None
    if negative or total <= 0:
        raise TimeParseError(f"'{text}' is not a delay: it must be more than zero.")
    delay = timedelta(microseconds=int((total * 1_000_000).to_integral_value()))
    if delay > MAX_AHEAD:
        raise TimeParseError(f"'{text}' is too long: at most 366 days.")
    return delay


def _refuse_bare(text: str, raw: str) -> None:
    if not text:
        raise TimeParseError("Say when.")
    if _BARE_NUMBER.fullmatch(text):
        raise TimeParseError(
            f"'{raw.strip()}' is only a number: add a unit (10 minutes) or a clock time"
            " (10am, 10:00)."
        )


def parse_duration(text: str) -> timedelta:
    """A positive delay of at most 366 days, read by our own grammar (no dateparser).

    Numbers with units, in any mix: "10 minutes", "10 mins", "10m", "1h30m",
    "1 hour and 30 minutes", "1.5 hours", "1d2h", "2 weeks". Words: "an hour",
    "a minute", "an hour and a half", "half an hour", "a quarter of an hour",
    "quarter hour". An optional leading "in " and trailing " from now".
    Case-insensitive. Raises TimeParseError for anything else, including bare numbers.
    """
    normal = _normalise(text)
    _refuse_bare(normal, text)
    delay = _match_duration(normal)
    if delay is None:
        raise TimeParseError(f"I can't read '{text.strip()}' as a delay.")
    return delay


# ---------------------------------------------------------------------------- times

_CLOCK = r"(?:\d{1,2}(?::\d{2}){1,2}(?:\s*[ap]\.?m\.?)?|\d{1,2}\s*[ap]\.?m\.?|noon|midnight)"
_CLOCK_ONLY = re.compile(_CLOCK)
_CLOCK_AND_ZONE = re.compile(rf"{_CLOCK}\s*(?:[a-z]{{2,5}}|[+-]\d{{2}}:?\d{{2}}|z)")


def _dateparse(text: str, base: datetime) -> datetime | None:
    """dateparser's reading of ``text``, relative to the naive wall-clock ``base``."""
    import dateparser  # lazily: ~70 ms, see the module docstring

    settings = {"PREFER_DATES_FROM": "future", "RELATIVE_BASE": base, "TIMEZONE": "UTC"}
    result: datetime | None = dateparser.parse(text, languages=["en"], settings=settings)
    return result


def _next_wall_clock(wall: datetime, today: date, tz: ZoneInfo, now: datetime) -> datetime:
    """The first moment after ``now`` whose wall-clock time in ``tz`` is ``wall``'s."""
    moment = datetime.combine(today, wall.time(), tzinfo=tz)
    if moment <= now:
        moment = datetime.combine(today + timedelta(days=1), wall.time(), tzinfo=tz)
    return moment


def parse_when(text: str, *, now: datetime, tz: ZoneInfo) -> datetime:
    """The moment ``text`` names: aware, in ``tz``, after ``now`` and at most 366 days ahead.

    A delay ("10 minutes", "in an hour and a half") counts from ``now``. A clock time
    ("3pm", "15:30", "at 3:30 pm", "noon", "midnight") is its next occurrence, today or
    tomorrow. Other phrases ("tomorrow 9am", "friday at noon") are read by dateparser in
    the server's time. Raises TimeParseError for empty text, bare numbers, unreadable text,
    moments in the past and moments too far ahead; ValueError if ``now`` is naive.
    """
    if now.tzinfo is None:
        raise ValueError("parse_when needs an aware now")
    now_utc = now.astimezone(UTC)
    local = now.astimezone(tz)
    normal = _normalise(text).removeprefix("at ")
    _refuse_bare(normal, text)

    delay = _match_duration(normal)
    if delay is not None:
        return (now_utc + delay).astimezone(tz)

    found = _dateparse(normal, local.replace(tzinfo=None))
    if found is None:
        raise TimeParseError(f"I can't read '{text.strip()}' as a time.")
    if found.tzinfo is None:  # wall-clock time in tz
        if _CLOCK_ONLY.fullmatch(normal):
            moment = _next_wall_clock(found, local.date(), tz, now_utc)
        else:
            moment = found.replace(tzinfo=tz)
    else:  # the text named a zone: an exact instant
        moment = found.astimezone(UTC)
        if _CLOCK_AND_ZONE.fullmatch(normal):
            moment -= timedelta(days=2)
            while moment <= now_utc:
                moment += timedelta(days=1)
    moment = moment.astimezone(UTC).astimezone(tz)  # normalises a wall time in a DST gap

    if moment <= now_utc:
        raise TimeParseError(f"'{text.strip()}' is in the past ({format_when(moment, tz)}).")
    if moment - now_utc > MAX_AHEAD:
        raise TimeParseError(
            f"'{text.strip()}' is too far ahead ({format_when(moment, tz)}): at most 366 days."
        )
    return moment


def warm_up() -> float:
    """Import dateparser and parse once, so no player pays for it; returns seconds taken."""
    started = time.perf_counter()
    _dateparse("tomorrow 9am", datetime(2026, 1, 1, 12, 0))
    return time.perf_counter() - started


# --------------------------------------------------------------------------- display


def format_when(moment: datetime, tz: ZoneInfo) -> str:
    """``moment`` in ``tz``, ctime style with the zone: "Sat Nov 21 15:30:00 2026 UTC".

    Raises ValueError for a naive ``moment``.
    """
    if moment.tzinfo is None:
        raise ValueError("format_when needs an aware datetime")
    shown = moment.astimezone(tz)
    return f"{shown.ctime()} {shown.tzname()}"


_DISPLAY_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def format_duration(seconds: float) -> str:
    """A span for people, in its two largest adjacent units, lower units cut off.

    "0.03 seconds", "45 seconds", "1 minute and 19 seconds", "2 hours and 5 minutes",
    "16 hours", "3 days and 2 hours". A negative span (a clock stepped back) shows as
    "0 seconds". Raises ValueError for NaN or infinity.
    """
    if not math.isfinite(seconds):
        raise ValueError(f"not a duration: {seconds!r}")
    seconds = max(0.0, seconds)
    if round(seconds, 2) < 60 and round(seconds, 2) != round(seconds):
        return f"{round(seconds, 2):.2f}".rstrip("0").rstrip(".") + " seconds"
    rest = round(seconds)
    counts: list[tuple[str, int]] = []
    for unit, size in _DISPLAY_UNITS:
        counts.append((unit, rest // size))
        rest %= size
    for index, (unit, n) in enumerate(counts):
        if n or unit == "second":
            text = _count(n, unit)
            if index + 1 < len(counts) and counts[index + 1][1]:
                text += " and " + _count(counts[index + 1][1], counts[index + 1][0])
            return text
    raise AssertionError("unreachable")

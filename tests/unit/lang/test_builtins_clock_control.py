"""Conformance: time, ctime (LambdaMOO 1.8.1 ``numbers.c``) and raise (``execute.c``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from moo.lang.builtins import BUILTINS
from moo.lang.errors import MooRaise
from moo.world.values import Err
from tests.unit.lang.builtin_task import BuiltinTask, check, o, run

E = Err


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_time_is_now() -> None:
    before = int(time.time())
    now = run("time")
    assert isinstance(now, int)
    assert before <= now <= int(time.time())


CTIME = [
    (0, "Thu Jan  1 00:00:00 1970 UTC"),  # the day's leading zero is a space
    (86400 * 9, "Sat Jan 10 00:00:00 1970 UTC"),
    (1_000_000_000, "Sun Sep  9 01:46:40 2001 UTC"),
    (1_234_567_890, "Fri Feb 13 23:31:30 2009 UTC"),
    (-1, "Wed Dec 31 23:59:59 1969 UTC"),
    (2_147_483_647, "Tue Jan 19 03:14:07 2038 UTC"),
]


@pytest.mark.parametrize(("seconds", "expected"), CTIME)
def test_ctime(utc: None, seconds: int, expected: str) -> None:
    check("ctime", (seconds,), expected)


def test_ctime_uses_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "EST5EDT")
    time.tzset()
    try:
        check("ctime", (0,), "Wed Dec 31 19:00:00 1969 EST")
    finally:
        monkeypatch.undo()
        time.tzset()


def test_ctime_without_argument_is_now(utc: None) -> None:
    text = run("ctime")
    assert isinstance(text, str) and text.endswith(" UTC") and len(text) == 28


@pytest.mark.parametrize("value", ["0", 0.0, o(0), []])
def test_ctime_types(value: Any) -> None:
    check("ctime", (value,), E.E_TYPE)


def test_ctime_out_of_range() -> None:
    check("ctime", (10**30,), E.E_INVARG)


RAISE: list[tuple[tuple[Any, ...], Any, str, Any]] = [
    ((E.E_PERM,), E.E_PERM, "Permission denied", 0),
    ((E.E_PERM, "no way"), E.E_PERM, "no way", 0),
    ((E.E_PERM, "no way", [1, 2]), E.E_PERM, "no way", [1, 2]),
    (("oops",), "oops", "oops", 0),
    ((42,), 42, "42", 0),
    ((1.5,), 1.5, "1.5", 0),
    ((o(3),), o(3), "#3", 0),
    (([1, 2],), [1, 2], "{list}", 0),
]


@pytest.mark.parametrize(("args", "code", "message", "value"), RAISE)
def test_raise(args: tuple[Any, ...], code: Any, message: str, value: Any) -> None:
    with pytest.raises(MooRaise) as caught:
        BUILTINS["raise"].function(BuiltinTask(), *args)
    assert caught.value.code == code
    assert caught.value.message == message
    assert caught.value.value == value


@pytest.mark.parametrize("message", [1, o(1), ["x"], E.E_PERM])
def test_raise_message_must_be_a_string(message: Any) -> None:
    check("raise", (E.E_PERM, message), E.E_TYPE)

"""Writing LambdaMOO textdumps (moo/textdump/writer.py): what the reader read is written
back as the same text, LambdaCore-17May04 byte for byte, and what no textdump can hold is
refused, never written half."""

from __future__ import annotations

import pytest

from moo.textdump.model import PropVal
from moo.textdump.reader import read_textdump
from moo.textdump.writer import write_textdump
from tests.unit.lang.test_lambdacore_verbs import lambdacore
from tests.unit.test_textdump_reader import small


def test_lambdacore_is_written_back_byte_for_byte() -> None:
    text = lambdacore().read_text(encoding="latin-1")
    assert write_textdump(read_textdump(text)) == text


def test_a_small_dump_round_trips() -> None:
    assert write_textdump(read_textdump(small())) == small()


def test_floats_are_written_as_lambdamoo_writes_them() -> None:
    dump = read_textdump(small())
    system = dump.objects[0]
    assert system is not None
    system.propvals[0] = PropVal([0.1, 1e300, -2.5, 3.0], 2, 5)
    text = write_textdump(dump)
    # C's printf("%.19g") gives these same digits
    assert "9\n0.1000000000000000056\n9\n1.000000000000000053e+300\n9\n-2.5\n9\n3\n" in text
    again = read_textdump(text).objects[0]
    assert again is not None and again.propvals[0].value == [0.1, 1e300, -2.5, 3.0]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": 1}, "cannot hold a dict"),
        ("two\nlines", "cannot hold a line break"),
        ([1, [True]], "cannot hold a bool"),
    ],
)
def test_what_no_textdump_holds_is_refused(value: object, message: str) -> None:
    dump = read_textdump(small())
    system = dump.objects[0]
    assert system is not None
    system.propvals[0] = PropVal(value, 2, 5)
    with pytest.raises(ValueError, match=message):
        write_textdump(dump)


def test_a_program_line_that_is_only_a_dot_is_refused() -> None:
    dump = read_textdump(small())
    dump.programs[(0, 0)] = ["return 1;", ".", "return 2;"]
    with pytest.raises(ValueError, match="would end the program early"):
        write_textdump(dump)

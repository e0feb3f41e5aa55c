"""Every pure builtin of LambdaMOO 1.8.1 is registered, with 1.8.1's argument counts
(``/work/shared/data/lambdamoo-1.8.1-builtins.txt``, copied here so the test stands alone)."""

from __future__ import annotations

import pytest

from moo.lang.builtins import BUILTINS

# (name, min_args, max_args or None for any number)
PURE_BUILTINS: list[tuple[str, int, int | None]] = [
    ("abs", 1, 1),
    ("acos", 1, 1),
    ("asin", 1, 1),
    ("atan", 1, 2),
    ("binary_hash", 1, 1),
    ("ceil", 1, 1),
    ("cos", 1, 1),
    ("cosh", 1, 1),
    ("crypt", 1, 2),
    ("ctime", 0, 1),
    ("decode_binary", 1, 2),
    ("encode_binary", 0, None),
    ("equal", 2, 2),
    ("exp", 1, 1),
    ("floatstr", 2, 3),
    ("floor", 1, 1),
    ("index", 2, 3),
    ("is_member", 2, 2),
    ("length", 1, 1),
    ("listappend", 2, 3),
    ("listdelete", 2, 2),
    ("listinsert", 2, 3),
    ("listset", 3, 3),
    ("log", 1, 1),
    ("log10", 1, 1),
    ("match", 2, 3),
    ("max", 1, None),
    ("min", 1, None),
    ("raise", 1, 3),
    ("random", 0, 1),
    ("rindex", 2, 3),
    ("rmatch", 2, 3),
    ("setadd", 2, 2),
    ("setremove", 2, 2),
    ("sin", 1, 1),
    ("sinh", 1, 1),
    ("sqrt", 1, 1),
    ("strcmp", 2, 2),
    ("string_hash", 1, 1),
    ("strsub", 3, 4),
    ("substitute", 2, 2),
    ("tan", 1, 1),
    ("tanh", 1, 1),
    ("time", 0, 0),
    ("tofloat", 1, 1),
    ("toint", 1, 1),
    ("toliteral", 1, 1),
    ("tonum", 1, 1),
    ("toobj", 1, 1),
    ("tostr", 0, None),
    ("trunc", 1, 1),
    ("typeof", 1, 1),
    ("value_bytes", 1, 1),
    ("value_hash", 1, 1),
]


@pytest.mark.parametrize(("name", "low", "high"), PURE_BUILTINS)
def test_registered_with_lambdamoo_argument_counts(name: str, low: int, high: int | None) -> None:
    entry = BUILTINS[name]
    assert entry.name == name
    assert (entry.min_args, entry.max_args) == (low, high)
    assert entry.accepts(low)
    assert not entry.accepts(low - 1) if low > 0 else True
    if high is not None:
        assert entry.accepts(high) and not entry.accepts(high + 1)
    else:
        assert entry.accepts(low + 50)

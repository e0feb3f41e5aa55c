"""The lines a server prints for its callers (``telnet listening on ...``) leave in one
write each: a front and its engine share stdout, and with unbuffered output (the
PYTHONUNBUFFERED this machine sets) ``print`` wrote text and newline apart, so another
process's line landed between them and a waiting test missed its line."""

from __future__ import annotations

import pytest

from moo.cli import _print


class Recorder:
    def __init__(self) -> None:
        self.writes: list[str] = []
        self.flushes = 0

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        self.flushes += 1


def test_a_line_is_one_write_with_its_newline(monkeypatch: pytest.MonkeyPatch) -> None:
    out = Recorder()
    monkeypatch.setattr("sys.stdout", out)
    _print("metrics listening on 127.0.0.1:40000")
    assert out.writes == ["metrics listening on 127.0.0.1:40000\n"]
    assert out.flushes == 1

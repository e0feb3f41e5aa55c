"""Escape and exhaustion attempts typed at a real server through ``;``: each ends in a MOO
error (or an ordinary value), never a Python traceback, a hung or crashed server, or a
swollen one: the server's RSS stays within a few MB of where it started."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.loopback.conftest import MARK, wizard
from tests.server_process import ServerProcess

RSS_GROWTH_LIMIT_MB = 16

# (what is typed, what its answer must contain)
ATTEMPTS = [
    (';s = "x"; while (1) s = s + s; endwhile', "Resource limit exceeded"),
    (";l = {1}; while (1) l = {@l, @l}; endwhile", "Resource limit exceeded"),
    (";l = {1}; for i in [1..40] l = {l, l}; endfor; return toliteral(l);", "Resource limit"),
    (";l = {1}; for i in [1..40] l = {l, l}; endfor; return l;", "too large to show"),
    (";l = {1}; for i in [1..40] l = {l, l}; endfor; return tostr(l);", '=> "{list}"'),
    (";l = {}; for i in [1..20000] l = {l}; endfor; return length(toliteral(l));", "=> 40002"),
    (';s = "xxxxxxxxxx"; while (1) s = strsub(s, "x", "xx"); endwhile', "Resource limit"),
    (';x = "a"; while (1) x = tostr(x, x); endwhile', "Resource limit exceeded"),
    (";while (1) endwhile", "Task ran out of ticks"),
    (";__import__ = 1; return __import__;", "=> 1"),
    (";__builtins__ = {}; return __builtins__;", "=> {}"),
    (";return #0.__class__;", "Property not found"),
    (";return #0.__dict__;", "Property not found"),
    (";return #0:__globals__();", "Verb not found"),
    (";x = 1; return x.__class__;", "Type mismatch"),
    (";return " + "(" * 300 + "1" + ")" * 300 + ";", "Line 1:"),
    (";return " + "{" * 300 + "}" * 300 + ";", "Line 1:"),
    (';return eval("return 6 * 7;");', "=> {1, 42}"),
    (';return eval("__import__(\\"os\\")");', "=> {0, "),
    (";return 1e308 * 10.0;", "Floating-point arithmetic error"),
    (";return 2147483647 + 1;", "=> -2147483648"),
    (';return "' + "x" * 3000 + '";', '=> "xxx'),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("limits") / "data", ssh=False).start()
    yield proc
    proc.stop()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def test_escape_and_exhaustion_attempts_end_in_moo_errors(server: ServerProcess) -> None:
    wiz = await wizard(server)
    assert await wiz.command(";1", MARK) == ["=> 1"]  # warm: the language is loaded
    assert server.pid is not None
    before = rss_mb(server.pid)
    for line, expected in ATTEMPTS:
        answer = await wiz.command(line, MARK, timeout=30)
        text = "\n".join(answer)
        assert expected in text, (line[:80], answer[:4])
        assert "Traceback (most recent call last)" not in text
        assert "Something went wrong" not in text, (line[:80], answer)
    assert await wiz.command(";1 + 1", MARK) == ["=> 2"]
    growth = rss_mb(server.pid) - before
    assert growth < RSS_GROWTH_LIMIT_MB, f"the server grew {growth:.1f} MB"
    assert "Traceback" not in "".join(server.stderr_lines)
    await wiz.close()

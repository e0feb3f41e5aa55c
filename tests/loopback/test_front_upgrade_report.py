"""What a hot upgrade behind a front tells the wizard: the truth of a front-backed upgrade.

No socket moves and nobody is closed (the front holds every connection), so the report
says how many connections stayed on the front and how long the world was frozen, never
"level N" or "N session(s) carried" (0: misleading), and nobody is told to reconnect,
not even when the replacement cannot read this session-state version (a single-process
server's level 2, which closes everyone). Real processes: ``moo serve`` (a front and its
engine) and ``@hot-upgrade`` over telnet.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.loopback.conftest import BEGIN, MARK, player, wizard
from tests.loopback.upgrade_helpers import program
from tests.server_process import ServerProcess

LOADED = re.compile(
    r"^Replacement version \S+ loaded in [\d.]+ s; it takes the world over at the freeze; "
    r"the 2 connection\(s\) stay on the front\.$"
)
DONE = re.compile(
    r"^Upgrade done: version \S+ \(pid \d+\) now runs the world behind the front; the world "
    r"was frozen [\d.]+ ms, and the 2 connection\(s\) on the front stayed connected "
    r"throughout\.$"
)
MISLEADING = ("session(s) carried", "level 1", "level 2", "handing over at level", "reconnect")


async def test_an_engine_upgrade_says_the_players_stayed_on_the_front(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", ssh=False).start()
    try:
        wiz = await wizard(server)
        bob, _ = await player(server, "bob")
        # the current program, then one that cannot read this session-state version
        for to in ("", " to " + program("moo_variant.py", "--no-sessions")):
            seen = len(wiz.lines)
            wiz.send_line("@hot-upgrade" + to)
            await wiz.expect(LOADED, timeout=60)
            await wiz.expect(DONE, timeout=60)
            said = await bob.command("say still here", MARK, begin=BEGIN, timeout=30)
            assert said == ['You say, "still here"']
            told = wiz.lines[seen:]
            for words in MISLEADING:
                assert not any(words in line for line in told), (words, told)
            assert not any("reconnect" in line for line in bob.lines), bob.lines
        status = await wiz.command("@hot-upgrade status", MARK, begin=BEGIN, timeout=20)
        rows = [line for line in status if line.startswith("  ")]
        assert len(rows) == 2, status
        for row in rows:
            detail = re.search(r" ok +.*\((.*)\)$", row)
            assert detail is not None, row
            assert re.fullmatch(r"engine replaced behind the front, frozen [\d.]+ ms", detail[1])
        for client in (wiz, bob):
            await client.close()
    finally:
        server.stop()


COLD = re.compile(
    r"^Upgrade done: version \S+ \(pid \d+\) started cold behind the front after a final "
    r"checkpoint; everyone stayed connected\.$"
)


async def test_a_cold_started_engine_says_how_the_upgrade_went(tmp_path: Path) -> None:
    """A replacement that takes nothing over (level 3) starts cold once the old engine has
    stopped: the requester is told it is done, as after a hot one, and players stay."""
    server = ServerProcess(tmp_path / "data", ssh=False).start()
    try:
        wiz = await wizard(server)
        bob, _ = await player(server, "bob")
        wiz.send_line("@hot-upgrade to " + program("moo_variant.py", "--restart-only"))
        await wiz.expect(COLD, timeout=90)
        said = await bob.command("say still here", MARK, begin=BEGIN, timeout=30)
        assert said == ['You say, "still here"']
        assert not any("reconnect" in line for line in bob.lines), bob.lines
        status = await wiz.command("@hot-upgrade status", MARK, begin=BEGIN, timeout=20)
        assert status[0].startswith("Running version "), status  # the program asked for
        assert status[0].endswith("moo_variant.py --restart-only"), status
        for client in (wiz, bob):
            await client.close()
    finally:
        server.stop()

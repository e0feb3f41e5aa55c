"""A ``;`` that suspended shows its ``=> value`` to the player who typed it when it ends,
after a real restart too (the task restored from the world), over real telnet."""

from __future__ import annotations

import re
from pathlib import Path

from tests.loopback.conftest import MARK, wizard
from tests.loopback.test_saved_tasks import value
from tests.server_process import ServerProcess

WAITS = ';notify(player, tostr("waiting as ", task_id())); x = suspend(); return {"back", x * 2};'


async def test_a_restored_eval_shows_its_value_to_the_player(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", ssh=False).start()
    try:
        wiz = await wizard(server)
        said = await wiz.command(WAITS, MARK)
        waiting = re.fullmatch(r"waiting as (\d+)", said[0]) if len(said) == 1 else None
        assert waiting is not None, said  # and no value yet: it waits
        await wiz.close()
        server.stop()  # the final checkpoint holds the task
        server.start()
        wiz = await wizard(server)
        assert await value(wiz, f"resume({waiting.group(1)}, 21)") == "0"
        await wiz.expect('=> {"back", 42}', timeout=10)  # as it would without the restart
        assert await value(wiz, "queued_tasks()") == "{}"
        await wiz.close()
    finally:
        server.stop()

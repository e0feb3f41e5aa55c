"""A ``;`` task that suspended shows its ``=> value`` when it ends, whether it went on in
the same server or was restored from the world after a restart: the saved record says it
is a ``;`` task (``QueuedTask.origin``). A record written before it said so (no
``origin``) loads, and goes on as a command did then (nothing shown)."""

from __future__ import annotations

from pathlib import Path

import msgspec

from moo.lang.saving import TASK_ID_BITS
from moo.world.codec import decoder, encoder
from moo.world.tasks import QueuedTask
from tests.unit.lang.test_suspended_tasks import Server, server_with
from tests.unit.lang.test_task_helpers import WIZARD, FakeServices
from tests.unit.lang.test_task_scheduling import until

WAITS = "x = suspend(); return x + 1;"


def told(server: Server) -> list[str]:
    services = server.scheduler.services
    assert isinstance(services, FakeServices)
    return services.to(WIZARD)


def waiting_id(server: Server) -> int:
    [task_id] = server.world.tasks
    assert 0 < task_id < 2**TASK_ID_BITS
    return task_id


async def test_a_restored_eval_shows_its_value_as_one_never_restarted_does(
    tmp_path: Path,
) -> None:
    plain, _ = server_with({})
    plain.eval(WAITS)
    plain.eval(f"resume({waiting_id(plain)}, 41)")
    await until(lambda: bool(told(plain)))
    assert told(plain) == ["=> 42"]

    server, _ = server_with({})
    server.eval(WAITS)
    task_id = waiting_id(server)
    assert server.world.tasks[task_id].origin == "eval"
    server = await server.restart(tmp_path)
    server.eval(f"resume({task_id}, 41)")
    await until(lambda: bool(told(server)))
    assert told(server) == ["=> 42"]
    assert server.world.tasks == {} and server.scheduler.waiting == {}


async def test_a_restored_eval_waiting_in_a_verb_shows_the_verbs_value(tmp_path: Path) -> None:
    server, tw = server_with({"wait": "suspend(0); return {this, 7};"})
    server.eval(f"#{tw.box}:wait()")
    server = await server.restart(tmp_path)
    await until(lambda: bool(told(server)))
    assert told(server) == [f"=> {{#{tw.box}, 7}}"]


async def test_a_restored_eval_that_waits_again_is_still_one(tmp_path: Path) -> None:
    server, _ = server_with({})
    server.eval("suspend(0);\nsuspend();\nreturn 5;")  # a line each: each can be saved
    task_id = waiting_id(server)
    server = await server.restart(tmp_path)
    await until(lambda: server.world.tasks.get(task_id, None) is not None and not told(server))
    record = server.world.tasks[task_id]
    await until(lambda: server.world.tasks.get(task_id) is not record)  # saved again
    assert server.world.tasks[task_id].origin == "eval" and not told(server)
    server = await server.restart(tmp_path)
    server.eval(f"resume({task_id})")
    await until(lambda: bool(told(server)))
    assert told(server) == ["=> 5"]


async def test_a_restored_fork_shows_no_value(tmp_path: Path) -> None:
    server, tw = server_with({"wait": 'suspend(); this.name = "done"; return 3;'})
    server.eval(f"fork (0) #{tw.box}:wait(); endfork")
    await until(lambda: any(r.origin == "fork" for r in server.world.tasks.values()))
    task_id = waiting_id(server)
    server = await server.restart(tmp_path)
    server.eval(f"resume({task_id})")
    await until(lambda: server.world.objects[tw.box].name == "done")
    assert told(server) == [] and server.world.tasks == {}


async def test_a_record_saved_before_origin_was_kept_loads_and_shows_nothing(
    tmp_path: Path,
) -> None:
    server, _ = server_with({})
    server.eval(WAITS)
    task_id = waiting_id(server)
    record = server.world.tasks[task_id]
    old = msgspec.msgpack.decode(encoder.encode(record))
    assert old[-1] == "eval"  # ``origin`` is the last field: an older server wrote one less
    loaded = decoder(QueuedTask).decode(msgspec.msgpack.encode(old[:-1]))
    assert loaded.origin == "" and loaded.frames == record.frames
    server.world.queue_task(loaded)
    server = await server.restart(tmp_path)
    assert server.scheduler.waiting[task_id].kind == "command"  # as it was restored then
    server.eval(f"resume({task_id}, 1)")
    await until(lambda: not server.scheduler.waiting)
    assert told(server) == [] and server.world.tasks == {}

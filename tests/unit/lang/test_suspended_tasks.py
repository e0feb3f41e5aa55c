"""Suspended tasks are world data: saved at the suspend (with the task's changes), dropped
when they go on, and resumed after a restart (the world through a checkpoint file, a new
scheduler) with the same result as without one."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from moo.lang.entries import run_eval
from moo.lang.scheduler import Scheduler
from moo.persist import snapshot
from moo.world.model import MOO_IMPL, VerbDef
from moo.world.tasks import SUSPENDED
from moo.world.values import Err, ObjRef
from moo.world.world import World
from tests.unit.lang.test_task_helpers import WIZARD, FakeServices, TaskWorld, make
from tests.unit.lang.test_task_scheduling import until

INNER = """x = 0;
for i in [1..5]
  x = x + i;
  suspend(0);
endfor
return x;"""
OUTER = "return this:inner() + 100;"


class Server:
    """A world and its scheduler: the one running now."""

    def __init__(self, world: World, scheduler: Scheduler) -> None:
        self.world = world
        self.scheduler = scheduler

    def eval(self, source: str) -> Any:
        outcome = run_eval(self.scheduler, WIZARD, source)
        assert outcome.status in ("done", "suspended"), outcome.lines()
        return outcome.value

    def crash(self) -> None:
        """The process is gone: nothing queued in memory runs any more."""
        for task in self.scheduler.waiting.values():
            if task.timer is not None:
                task.timer.cancel()
        self.scheduler.waiting.clear()

    async def restart(self, tmp_path: Path) -> Server:
        """Crash, then a new server from a checkpoint of this world, its tasks restored."""
        self.crash()
        path = tmp_path / "ckpt.mck"
        await snapshot.SnapshotWriter(self.world, path, 0).write()
        world, _ = snapshot.load(path)
        scheduler = Scheduler(world, FakeServices())
        scheduler.restore_saved()
        return Server(world, scheduler)


async def step_until(check: Any) -> None:
    """Let the loop run one step at a time until ``check()``: a task that suspends for 0
    seconds goes on one step later, so no state between two steps is missed."""
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


def server_with(verbs: dict[str, str]) -> tuple[Server, TaskWorld]:
    tw = make()
    for names, source in verbs.items():
        verb = VerbDef(names, WIZARD, "rxd", "this", "none", "this", MOO_IMPL, source)
        tw.world.add_verb(tw.box, verb)
    return Server(tw.world, tw.scheduler), tw


def name_of(server: Server, oid: int) -> str:
    return server.world.objects[oid].name


async def test_a_suspended_loop_in_a_called_verb_resumes_with_the_same_result(
    tmp_path: Path,
) -> None:
    run = "#{box}.name = tostr(#{box}:outer());"
    plain, tw = server_with({"inner": INNER, "outer": OUTER})
    plain.eval(run.format(box=tw.box))
    await until(lambda: name_of(plain, tw.box) != "box")
    assert name_of(plain, tw.box) == "115" and plain.world.tasks == {}

    server, tw = server_with({"inner": INNER, "outer": OUTER})
    server.eval(run.format(box=tw.box))
    [record] = server.world.tasks.values()
    assert record.kind == SUSPENDED and len(record.frames) == 3
    assert record.frames[2].variables == {"x": 1, "i": 1}
    # as LambdaMOO's: the innermost frame, its programmer, the line it waits on
    row = [record.id, int(record.start), 0, 15_000, ObjRef(WIZARD), ObjRef(tw.box), "inner", 4]
    assert server.scheduler.queued(WIZARD) == [[*row, ObjRef(tw.box)]]
    server = await server.restart(tmp_path)
    assert server.scheduler.queued(WIZARD) == [[*row, ObjRef(tw.box)]]
    await step_until(lambda: server.world.tasks[record.id].frames[2].variables["i"] == 3)
    server = await server.restart(tmp_path)  # again, now from a resumed frame
    await until(lambda: name_of(server, tw.box) != "box")
    assert name_of(server, tw.box) == "115" and server.world.tasks == {}


async def test_resume_gives_a_value_to_a_restored_task(tmp_path: Path) -> None:
    server, tw = server_with({"wait": "x = 20; y = suspend(); return x + y;"})
    server.eval(f"#{tw.box}.name = tostr(#{tw.box}:wait());")
    [task_id] = server.world.tasks
    assert server.world.tasks[task_id].start == -1
    server = await server.restart(tmp_path)
    assert server.eval(f"resume({task_id}, 22)") == 0
    await until(lambda: name_of(server, tw.box) != "box")
    assert name_of(server, tw.box) == "42" and server.world.tasks == {}


async def test_a_restored_suspended_task_can_be_killed(tmp_path: Path) -> None:
    server, tw = server_with({"wait": 'suspend(); this.name = "ran";'})
    server.eval(f"#{tw.box}:wait()")
    [task_id] = server.world.tasks
    server = await server.restart(tmp_path)
    assert server.eval(f"kill_task({task_id}); return queued_tasks();") == []
    assert server.world.tasks == {} and name_of(server, tw.box) == "box"


async def test_an_error_after_the_restart_reaches_the_callers_handler(tmp_path: Path) -> None:
    server, tw = server_with(
        {
            "inner": "suspend(0);\nreturn 1 / 0;",
            "outer": 'try\n  return this:inner();\nexcept e (E_DIV)\n  return "caught";\nendtry',
        }
    )
    server.eval(f"#{tw.box}.name = #{tw.box}:outer();")
    server = await server.restart(tmp_path)
    await until(lambda: name_of(server, tw.box) != "box")
    assert name_of(server, tw.box) == "caught"


async def test_loops_ifs_and_finally_go_on_where_they_were(tmp_path: Path) -> None:
    source = """out = {};
n = 0;
while outer (1)
  n = n + 1;
  for x in ({"a", "b", "c"})
    if (x == "b")
      try
        x = "B";
        suspend(0);
        out = {@out, x};
      finally
        out = {@out, "f"};
      endtry
    else
      out = {@out, x};
    endif
  endfor
  if (n == 2)
    break outer;
  endif
endwhile
this.name = toliteral(out);"""
    expected = '{"a", "B", "f", "c", "a", "B", "f", "c"}'
    plain, tw = server_with({"go": source})
    plain.eval(f"#{tw.box}:go()")
    await until(lambda: name_of(plain, tw.box) != "box")
    assert name_of(plain, tw.box) == expected

    server, tw = server_with({"go": source})
    server.eval(f"#{tw.box}:go()")
    restarts = 0
    while server.world.tasks:  # a restart at each suspend: the record there then
        before = list(server.world.tasks.values())
        server = await server.restart(tmp_path)
        restarts += 1
        now = server
        await step_until(lambda: list(now.world.tasks.values()) != before)  # noqa: B023
    assert restarts == 2
    assert name_of(server, tw.box) == expected


async def test_a_forked_task_that_suspends_is_resumed(tmp_path: Path) -> None:
    server, tw = server_with(
        {
            "go": "y = 7;\nfork (0)\n  z = y * 2;\n  suspend(0);\n"
            "  this.name = tostr(z + y);\nendfork"
        }
    )
    server.eval(f"#{tw.box}:go()")
    await step_until(lambda: any(r.kind == SUSPENDED for r in server.world.tasks.values()))
    server = await server.restart(tmp_path)
    await until(lambda: name_of(server, tw.box) != "box")
    assert name_of(server, tw.box) == "21"


async def test_a_task_whose_verb_was_reprogrammed_is_dropped_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, tw = server_with({"inner": INNER, "outer": OUTER})
    server.eval(f"#{tw.box}:outer()")
    [task_id] = server.world.tasks
    server.world.set_verb_program(tw.box, 0, "return 0;")
    with caplog.at_level(logging.WARNING, logger="moo.lang.saved_tasks"):
        server = await server.restart(tmp_path)
    assert f"dropped queued task {task_id} (#-1:Input to EVAL" in caplog.text
    assert f"#{tw.box}:inner was reprogrammed or removed since" in caplog.text
    assert server.world.tasks == {} and server.scheduler.waiting == {}


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("`suspend(0) ! ANY';", "catch expression"),
        ("x = {suspend(0), suspend(0)};", "more than one call that can wait"),
        ("x = {this:ok(), suspend(0)};", "statement on line 1 makes more than one call"),
        ("try\n  1;\nfinally\n  suspend(0);\nendtry", "finally block"),
    ],
)
async def test_what_cannot_be_resumed_waits_in_memory_only(
    source: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    server, tw = server_with({"go": source + '\nthis.name = "went on";', "ok": "return 1;"})
    with caplog.at_level(logging.INFO, logger="moo.lang.saving"):
        server.eval(f"#{tw.box}:go()")
    assert "is suspended in memory only (a restart ends it)" in caplog.text
    assert why in caplog.text
    assert server.world.tasks == {}
    await until(lambda: name_of(server, tw.box) == "went on")


async def test_while_the_world_refuses_changes_a_saved_task_waits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, tw = server_with({"wait": 'suspend(0);\nthis.name = "went on";'})
    server.world.refuse_changes("upgrading")
    with caplog.at_level(logging.WARNING, logger="moo.lang.saving"):
        outcome = run_eval(server.scheduler, WIZARD, "suspend(3600)")
    assert outcome.status == "suspended" and server.world.tasks == {}
    assert "is suspended in memory only (a restart ends it): upgrading" in caplog.text
    server.world.accept_changes("upgrading")
    server.eval(f"kill_task({outcome.task_id})")
    server.eval(f"#{tw.box}:wait()")
    [task_id] = server.world.tasks
    server.world.refuse_changes("upgrading")
    await asyncio.sleep(0.05)
    assert name_of(server, tw.box) == "box" and task_id in server.scheduler.waiting
    outcome = run_eval(server.scheduler, WIZARD, f"kill_task({task_id})")
    assert outcome.status == "error" and outcome.value == Err.E_INVARG
    server.world.accept_changes("upgrading")
    await until(lambda: name_of(server, tw.box) == "went on", timeout=3)
    assert server.world.tasks == {}


async def test_a_verb_reprogrammed_after_the_restore_ends_the_task_with_a_traceback(
    tmp_path: Path,
) -> None:
    server, tw = server_with({"inner": INNER, "outer": OUTER})
    server.eval(f"#{tw.box}:outer()")
    server = await server.restart(tmp_path)
    server.world.set_verb_program(tw.box, 1, "return 0;")  # outer, before its turn
    services = server.scheduler.services
    assert isinstance(services, FakeServices)
    await until(lambda: not server.scheduler.waiting and not server.world.tasks, timeout=5)
    told = "\n".join(services.to(WIZARD))
    assert "The task cannot go on" in told and "reprogrammed or removed since" in told


async def test_an_eval_one_liner_is_saved_by_which_call_waits(tmp_path: Path) -> None:
    server, tw = server_with({"step": "this.name = tostr(toint(this.name) + 1);"})
    server.world.rename(tw.box, "0")
    server.eval(f"for i in [1..3] #{tw.box}:step(); suspend(0); endfor")
    assert len(server.world.tasks) == 1  # the one suspend() on the line, not the verb call
    server = await server.restart(tmp_path)
    await until(lambda: not server.world.tasks and not server.scheduler.waiting)
    assert name_of(server, tw.box) == "3"


async def test_an_uncaught_error_after_the_restart_has_the_whole_traceback(
    tmp_path: Path,
) -> None:
    server, tw = server_with(
        {"inner": "suspend(0);\nreturn 1 / 0;", "outer": "return this:inner();"}
    )
    server.eval(f"#{tw.box}:outer()")
    server = await server.restart(tmp_path)
    services = server.scheduler.services
    assert isinstance(services, FakeServices)
    await until(lambda: bool(services.to(WIZARD)))
    assert services.to(WIZARD) == [
        f"#{tw.box}:inner, line 2:  Division by zero",
        f"... called from #{tw.box}:outer, line 1",
        "... called from #-1:Input to EVAL, line 1",
        "(End of traceback)",
    ]


async def test_a_task_waiting_in_a_condition_or_a_loop_head_goes_on(tmp_path: Path) -> None:
    source = """out = {};
n = 0;
while (this:more(n))
  n = n + 1;
  if (n == 1)
    out = {@out, "one"};
  elseif (this:check(n))
    out = {@out, "checked"};
  else
    out = {@out, "other"};
  endif
endwhile
for x in (this:items())
  out = {@out, x};
endfor
for i in [this:first()..2]
  out = {@out, i};
endfor
this.name = toliteral(out);"""
    verbs = {
        "go": source,
        "more": "suspend(0);\nreturn args[1] < 3;",
        "check": "suspend(0);\nreturn args[1] == 2;",
        "items": 'suspend(0);\nreturn {"a", "b"};',
        "first": "suspend(0);\nreturn 1;",
    }
    expected = '{"one", "checked", "other", "a", "b", 1, 2}'
    plain, tw = server_with(verbs)
    plain.eval(f"#{tw.box}:go()")
    await until(lambda: name_of(plain, tw.box) != "box")
    assert name_of(plain, tw.box) == expected

    server, tw = server_with(verbs)
    server.eval(f"#{tw.box}:go()")
    restarts = 0
    while server.world.tasks:  # a restart at each suspend
        before = list(server.world.tasks.values())
        server = await server.restart(tmp_path)
        restarts += 1
        now = server
        await step_until(lambda: list(now.world.tasks.values()) != before)  # noqa: B023
    assert restarts == 8  # more() four times, check() twice, items(), first()
    assert name_of(server, tw.box) == expected


async def test_a_task_suspended_in_a_directly_called_verb_is_saved() -> None:
    outer = "for i in [1..3]\n  this:inner();\nendfor"  # the 3rd call is direct (site filled)
    server, tw = server_with({"inner": "suspend(0);\nreturn 1;", "outer": outer})
    server.eval(f"#{tw.box}:outer();")

    def second_saved() -> bool:
        return any(r.frames[1].variables.get("i") == 3 for r in server.world.tasks.values())

    await step_until(second_saved)
    [record] = server.world.tasks.values()
    assert len(record.frames) == 3  # the eval, outer at i = 3, inner in suspend()

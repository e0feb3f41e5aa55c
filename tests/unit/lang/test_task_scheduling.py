"""fork, suspend, resume, read, kill_task and queued_tasks on a real asyncio loop."""

from __future__ import annotations

import asyncio
from typing import Any

from moo.commands.context import ConnectedPlayer
from moo.lang.builtins import BUILTINS
from moo.lang.errors import MooRaise
from moo.lang.task import Task
from moo.world.values import Err, ObjRef
from tests.unit.lang.test_task_helpers import WIZARD, make


def bi(task: Task, name: str, *args: Any) -> Any:
    return BUILTINS[name].function(task, *args)


async def until(check: Any, timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_fork_runs_later_as_its_own_task_with_its_own_budget() -> None:
    tw = make()
    ran: list[Any] = []

    def forked(task: Any) -> None:
        ran.append((task.id, task.ticks_left, task.frame.programmer, task.frame.this))
        task.set_prop(ObjRef(tw.box), "name", "forked")

    def body(task: Task) -> Any:
        child = task.fork(0, forked)
        task.set_prop(ObjRef(tw.box), "name", "parent")
        return [task.id, child, bi(task, "queued_tasks")]

    outcome = tw.run(tw.prog, body)
    parent_id, child_id, queued = outcome.value
    assert ran == []  # not yet: after the parent, on the loop
    assert tw.world.objects[tw.box].name == "parent"
    assert [row[0] for row in queued] == [child_id]
    await until(lambda: ran)
    assert ran == [(child_id, 15_000, tw.prog, ObjRef(-1))]
    assert child_id != parent_id
    assert tw.world.objects[tw.box].name == "forked"


async def test_fork_checks_its_delay() -> None:
    tw = make()
    assert tw.run(tw.prog, lambda t: t.fork(-1, lambda _t: None)).value == Err.E_INVARG
    assert tw.run(tw.prog, lambda t: t.fork("1", lambda _t: None)).value == Err.E_TYPE


async def test_forked_task_traceback_goes_to_the_player() -> None:
    tw = make()

    def forked(task: Any) -> None:
        raise MooRaise(Err.E_DIV)

    tw.run(tw.prog, lambda t: t.fork(0, forked))
    await until(lambda: tw.services.to(tw.prog))
    assert tw.services.to(tw.prog) == [
        "#-1:Input to EVAL, line 0:  Division by zero",
        "(End of traceback)",
    ]


async def test_killing_a_forked_task_before_it_runs() -> None:
    tw = make()
    ran: list[int] = []

    def body(task: Task) -> Any:
        child = task.fork(0.01, lambda t: ran.append(1))
        return child

    child = tw.run(tw.prog, body).value
    assert tw.bi(tw.pleb, "kill_task", child) == Err.E_PERM
    assert tw.bi(tw.prog, "kill_task", 99999) == Err.E_INVARG
    assert tw.bi(tw.prog, "kill_task", child) == 0
    await asyncio.sleep(0.05)
    assert ran == []


async def test_suspend_commits_so_far_then_resumes_after_the_delay() -> None:
    tw = make()

    def body(task: Task) -> Any:
        task.set_prop(ObjRef(tw.box), "name", "before")
        task.notify(tw.prog, "one")
        value = bi(task, "suspend", 0.01)
        task.set_prop(ObjRef(tw.box), "name", "after")
        task.notify(tw.prog, "two")
        return value

    batches = len(tw.batches)
    outcome = tw.run(tw.prog, body)
    assert outcome.status == "suspended"
    assert tw.world.objects[tw.box].name == "before"
    assert len(tw.batches) == batches + 1  # committed at the suspend
    assert tw.services.to(tw.prog) == ["one"]  # and its output delivered
    await until(lambda: tw.world.objects[tw.box].name == "after")
    assert tw.services.to(tw.prog) == ["one", "two"]
    assert len(tw.batches) == batches + 2


async def test_resume_gives_a_value_and_checks_permissions() -> None:
    tw = make()
    got: list[Any] = []

    def body(task: Task) -> Any:
        got.append(bi(task, "suspend"))
        got.append(task.ticks_left)

    suspended = tw.run(tw.prog, body)
    assert suspended.status == "suspended"
    rows = tw.bi(tw.prog, "queued_tasks")
    assert [row[0] for row in rows] == [suspended.task_id]
    assert tw.bi(tw.pleb, "queued_tasks") == []  # others' tasks are not listed
    assert len(tw.bi(WIZARD, "queued_tasks")) == 1  # but a wizard sees them all
    assert tw.bi(tw.pleb, "resume", suspended.task_id, 5) == Err.E_PERM
    assert tw.bi(tw.prog, "resume", 424242) == Err.E_INVARG
    assert tw.bi(tw.prog, "resume", suspended.task_id, "hello") == 0
    await until(lambda: len(got) == 2)
    assert got == ["hello", 15_000]  # resumed with the background budget


async def test_suspend_argument_errors() -> None:
    tw = make()
    assert tw.bi(tw.prog, "suspend", "x") == Err.E_TYPE
    assert tw.bi(tw.prog, "suspend", -1) == Err.E_INVARG


async def test_kill_a_suspended_task() -> None:
    tw = make()
    after: list[int] = []

    def body(task: Task) -> Any:
        bi(task, "suspend")
        after.append(1)

    suspended = tw.run(tw.prog, body)
    assert tw.bi(WIZARD, "kill_task", suspended.task_id) == 0
    await asyncio.sleep(0.02)
    assert after == []
    assert tw.bi(tw.prog, "queued_tasks") == []
    assert tw.bi(tw.prog, "resume", suspended.task_id) == Err.E_INVARG


async def test_a_task_kills_itself() -> None:
    tw = make()
    outcome = tw.run(tw.prog, lambda t: bi(t, "kill_task", t.id))
    assert outcome.status == "killed"


async def test_read_takes_the_players_next_line() -> None:
    tw = make()
    tw.services.connected[tw.prog] = ConnectedPlayer(tw.prog, 1.0, 0.0, "telnet")
    got: list[str] = []

    def body(task: Task) -> Any:
        got.append(bi(task, "read"))

    assert tw.run(tw.prog, body).status == "suspended"
    tw.services.type_line(tw.prog, "a typed line")
    await until(lambda: got)
    assert got == ["a typed line"]


async def test_read_permissions() -> None:
    tw = make()
    assert tw.bi(tw.prog, "read") == Err.E_INVARG  # not connected
    assert tw.bi(tw.pleb, "read", ObjRef(tw.prog)) == Err.E_PERM

"""Task ids are random, as LambdaMOO's (``new_task_id`` in its tasks.c: ``RANDOM()``, not
0), and never one a live task holds: an id a verb kept (to ``kill_task`` or ``resume``
it later) names no other task, even after a restart (a new scheduler over the world,
which keeps no finished task)."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import msgspec

from moo.lang.entries import run_eval
from moo.lang.saving import TASK_ID_BITS
from moo.lang.scheduler import Scheduler
from moo.lang.task import Task
from moo.world.tasks import SUSPENDED, QueuedTask
from tests.unit.lang.test_saved_forks import reload
from tests.unit.lang.test_task_helpers import WIZARD, FakeServices, make
from tests.unit.lang.test_task_scheduling import until


class Scripted(random.Random):
    """Draws the given numbers, in order."""

    def __init__(self, draws: list[int]) -> None:
        super().__init__(0)
        self.draws = list(draws)

    def getrandbits(self, k: int, /) -> int:
        assert k == TASK_ID_BITS
        return self.draws.pop(0)


def run(scheduler: Scheduler, source: str) -> Any:
    outcome = run_eval(scheduler, WIZARD, source)
    assert outcome.status == "done", outcome.lines()
    return outcome.value


def test_ids_after_a_restart_are_not_those_of_tasks_that_ran_before() -> None:
    tw = make()
    before = [run(tw.scheduler, "task_id()") for _ in range(50)]
    restarted = Scheduler(tw.world, FakeServices())  # the world keeps no finished task
    after = [run(restarted, "task_id()") for _ in range(50)]
    assert not set(before) & set(after)
    assert len(set(before + after)) == 100
    assert all(0 < i < 2**TASK_ID_BITS for i in before + after)  # a MOO int anywhere


async def test_a_new_id_is_none_a_waiting_running_or_saved_task_holds() -> None:
    tw = make()
    queued = run(tw.scheduler, "fork ticket (3600) endfork; return ticket;")
    saved = QueuedTask(
        id=777, kind=SUSPENDED, start=-1, owner=WIZARD, player=WIZARD, fork=-1, frames=[]
    )
    tw.world.queue_task(saved)  # saved, not (yet) restored: a restore would queue it as 777

    def body(task: Task) -> int:
        tw.scheduler.random = Scripted([0, queued, 777, task.id, 4242])
        return tw.scheduler.new_task(WIZARD, "eval").id

    outcome = tw.run(WIZARD, body)
    assert outcome.status == "done" and outcome.value == 4242


async def test_queued_tasks_lists_tasks_in_the_order_they_were_queued_not_by_id() -> None:
    tw = make()
    tw.scheduler.random = Scripted([900, 30, 500, 7, 100])  # the eval and its forks
    run(tw.scheduler, "fork (3600) endfork; fork (60) endfork; fork (7200) endfork;")
    rows = run(tw.scheduler, "queued_tasks()")
    assert [row[0] for row in rows] == [30, 500, 7]


async def test_restored_tasks_due_together_run_in_the_order_they_were_queued(
    tmp_path: Path,
) -> None:
    tw = make()
    tw.scheduler.random = Scripted([5000, 900, 30])  # the eval, then its forks
    box = f"#{tw.box}"
    second = f'{box}.name = {box}.name + "b";'
    run(tw.scheduler, f'fork (3600) {box}.name = "a"; endfork fork (3600) {second} endfork')
    assert list(tw.world.tasks) == [900, 30]
    due = time.time() - 1  # both due while the server was down, at the same time
    for record in list(tw.world.tasks.values()):
        tw.world.queue_task(msgspec.structs.replace(record, start=due))
    tw.scheduler.waiting.clear()  # the old server is gone
    world, scheduler, _ = await reload(tw.world, tmp_path)
    assert list(world.tasks) == [900, 30]  # a checkpoint keeps the order they were queued in
    assert scheduler.restore_saved() == 2
    await until(lambda: not world.tasks)
    assert world.objects[tw.box].name == "ab"  # not by id: 30 would have run first

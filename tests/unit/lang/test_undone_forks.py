"""A server bug (a Python exception) undoes a task's transaction, and with it the records
of the forks it queued and of the tasks it ended: the scheduler's memory follows, so that
what runs is what a restart (or a checkpoint) would run.

- the forks the failed transaction queued are cancelled (they would run, yet a restart
  would lose them);
- the records it dropped of tasks that end anyway (a fork that failed as it started,
  a task it killed) are dropped again (a restart would bring them back);
- the same when a ``;`` task is over and its command's transaction is undone after it
  (the journal cannot write the command's changes).

The failing verb is a Python stand-in (``TaskWorld.verb``) that raises ``RuntimeError``
after MOO code forked, as a bug in a builtin or in the server would."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from moo.lang.task_api import Frame
from moo.world.model import MOO_IMPL, VerbDef
from moo.world.tasks import FORK
from tests.unit.lang.test_saved_forks import reload
from tests.unit.lang.test_task_helpers import WIZARD, TaskWorld, make

FORKS = """fork (0)
  this.name = "forked";
endfork
fork (3600)
  this.name = "later";
endfork"""


def boom(_task: Any, _frame: Frame) -> Any:
    raise RuntimeError("a server bug")


def world_with_verbs() -> TaskWorld:
    tw = make()
    verb = VerbDef("forks", WIZARD, "rxd", "this", "none", "this", MOO_IMPL, FORKS)
    tw.world.add_verb(tw.box, verb)
    tw.verb(tw.box, "boom", boom)
    return tw


async def settle() -> None:
    """Let every fork due now run (a fork (0) starts one loop step after it is queued)."""
    for _ in range(5):
        await asyncio.sleep(0.01)


async def test_the_forks_of_a_failed_task_are_cancelled_with_their_records(
    tmp_path: Path,
) -> None:
    tw = world_with_verbs()
    outcome = tw.eval(WIZARD, f"#{tw.box}:forks(); #{tw.box}:boom();")
    assert outcome.status == "failed"
    assert tw.world.tasks == {}  # the undone transaction took the records
    assert tw.scheduler.waiting == {}  # and memory agrees
    assert tw.eval(WIZARD, "queued_tasks()").value == []
    await settle()
    assert tw.world.objects[tw.box].name == "box"  # the fork (0) never ran
    _, scheduler, _ = await reload(tw.world, tmp_path)
    assert scheduler.restore_saved() == 0  # a restart runs nothing either


async def test_the_forks_are_cancelled_when_the_task_runs_in_a_commands_transaction() -> None:
    tw = world_with_verbs()  # ``;`` runs in its command's transaction: it fails with it
    with pytest.raises(RuntimeError), tw.world.transaction():
        tw.eval(WIZARD, f"#{tw.box}:forks(); #{tw.box}:boom();")
    assert tw.world.tasks == {} and tw.scheduler.waiting == {}
    await settle()
    assert tw.world.objects[tw.box].name == "box"


async def test_forks_queued_before_a_suspend_stay_queued_and_the_task_leaves_no_record() -> None:
    tw = world_with_verbs()  # the forks' transaction committed at the suspend
    outcome = tw.eval(WIZARD, f"#{tw.box}:forks(); suspend(0); #{tw.box}:boom();")
    assert outcome.status == "suspended"
    await settle()
    assert tw.services.to(WIZARD)[-1].startswith("Something went wrong")
    assert tw.world.objects[tw.box].name == "forked"
    [later] = tw.world.tasks.values()  # not the failed task's: it dropped it as it went on
    assert later.kind == FORK and list(tw.scheduler.waiting) == [later.id]


async def test_a_fork_that_fails_as_it_starts_leaves_no_record() -> None:
    tw = world_with_verbs()
    outcome = tw.eval(WIZARD, f"fork (0) #{tw.box}:boom(); endfork")
    assert outcome.status == "done" and len(tw.world.tasks) == 1
    await settle()
    assert tw.services.to(WIZARD)[-1].startswith("Something went wrong")
    assert tw.world.tasks == {}  # its DropTask was undone with the rest: dropped again
    assert tw.scheduler.waiting == {}


async def test_a_task_killed_in_a_failed_transaction_leaves_no_record() -> None:
    tw = world_with_verbs()
    outcome = tw.eval(WIZARD, "fork ticket (3600) endfork; return ticket;")
    ticket = outcome.value
    assert list(tw.world.tasks) == [ticket]
    failed = tw.eval(WIZARD, f"kill_task({ticket}); #{tw.box}:boom();")
    assert failed.status == "failed"
    assert tw.world.tasks == {} and tw.scheduler.waiting == {}  # killed, in both


async def test_a_kill_undone_with_its_commands_transaction_is_dropped_after_it() -> None:
    tw = world_with_verbs()
    ticket = tw.eval(WIZARD, "fork ticket (3600) endfork; return ticket;").value
    with pytest.raises(RuntimeError), tw.world.transaction():
        tw.eval(WIZARD, f"kill_task({ticket}); #{tw.box}:boom();")
    assert list(tw.world.tasks) == [ticket]  # the command's transaction brought it back
    await asyncio.sleep(0)  # the scheduler drops it once the command is over
    assert tw.world.tasks == {} and tw.scheduler.waiting == {}


async def test_forks_go_when_the_commands_transaction_is_undone_after_the_task_is_over() -> None:
    tw = world_with_verbs()  # ``;`` finished; then the command's commit fails (a full disk)
    with pytest.raises(OSError), tw.world.transaction():
        outcome = tw.eval(WIZARD, f"#{tw.box}:forks();")
        assert outcome.status == "done" and len(tw.scheduler.waiting) == 2
        raise OSError(28, "No space left on device")
    assert tw.world.tasks == {} and tw.scheduler.waiting == {}
    await settle()
    assert tw.world.objects[tw.box].name == "box"  # the fork (0) never ran


async def test_a_kill_undone_with_the_command_after_the_task_is_over_is_dropped_again() -> None:
    tw = world_with_verbs()
    ticket = tw.eval(WIZARD, "fork ticket (3600) endfork; return ticket;").value
    with pytest.raises(OSError), tw.world.transaction():
        assert tw.eval(WIZARD, f"kill_task({ticket});").status == "done"
        raise OSError(28, "No space left on device")
    assert list(tw.world.tasks) == [ticket]  # the undone transaction brought it back
    await asyncio.sleep(0)
    assert tw.world.tasks == {} and tw.scheduler.waiting == {}

"""Queued forks are world data: recorded when queued, dropped when started or killed,
carried by a snapshot and the journal, and queued again by a new scheduler."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from moo.errors import CheckpointError
from moo.lang.entries import run_eval
from moo.lang.scheduler import Scheduler
from moo.persist import snapshot
from moo.world import mutations as m
from moo.world.codec import decoder, encoder
from moo.world.model import MOO_IMPL, VerbDef
from moo.world.tasks import FORK
from moo.world.world import World
from tests.unit.lang.test_task_helpers import WIZARD, FakeServices, TaskWorld, make
from tests.unit.lang.test_task_scheduling import until

VERB = """x = 5;
label = "tick";
fork ticket (3600)
  this.name = tostr(label, x, " ", ticket == task_id());
endfork
fork (7200)
  this.name = "second";
endfork
return ticket;"""


def add_verb(tw: TaskWorld, source: str, names: str = "go") -> None:
    verb = VerbDef(names, WIZARD, "rxd", "this", "none", "this", MOO_IMPL, source)
    tw.world.add_verb(tw.box, verb)


def run(tw: TaskWorld, source: str) -> Any:
    outcome = tw.eval(WIZARD, source)
    assert outcome.status == "done", outcome.lines()
    return outcome.value


async def reload(world: World, tmp_path: Path) -> tuple[World, Scheduler, FakeServices]:
    """The world through a checkpoint file, and a new scheduler over it (a restart)."""
    path = tmp_path / "ckpt.mck"
    await snapshot.SnapshotWriter(world, path, 0).write()
    snapshot.verify(path)
    loaded, _ = snapshot.load(path)
    services = FakeServices()
    return loaded, Scheduler(loaded, services), services


async def test_a_queued_fork_is_recorded_and_dropped_when_it_starts() -> None:
    tw = make()
    run(tw, 'fork (0) #0.name = "ran"; endfork')
    [record] = tw.world.tasks.values()
    assert record.kind == FORK and record.fork == 0 and record.owner == WIZARD
    assert record.frames[0].source.endswith('fork (0) #0.name = "ran"; endfork')
    assert any(isinstance(r, m.QueueTask) for batch in tw.batches for r in batch)
    await until(lambda: tw.world.objects[0].name == "ran")
    assert tw.world.tasks == {}
    assert isinstance(tw.batches[-1][0], m.DropTask)  # in the started task's transaction
    assert tw.batches[-1][1:] == [m.SetField(0, "name", "ran")]


async def test_forks_of_a_verb_survive_a_restart_with_their_variables(tmp_path: Path) -> None:
    tw = make()
    add_verb(tw, VERB)
    ticket = run(tw, f"#{tw.box}:go()")
    first, second = tw.world.tasks  # in the order they were queued
    assert first == ticket
    saved = tw.world.tasks[ticket].frames[0]
    assert saved.source == ""  # named by its verb and hash, not copied
    assert saved.variables["x"] == 5 and saved.variables["ticket"] == ticket
    start = tw.world.tasks[ticket].start
    assert time.time() + 3590 < start < time.time() + 3610
    tw.scheduler.waiting.clear()  # the old server is gone

    world, scheduler, _ = await reload(tw.world, tmp_path)
    assert list(world.tasks) == [ticket, second]
    assert scheduler.restore_saved() == 2
    assert scheduler.restore_saved() == 0  # once
    rows = scheduler.queued(WIZARD)
    assert [(row[0], row[1]) for row in rows] == [(ticket, int(start)), (second, rows[1][1])]
    assert rows[0][5].id == tw.box and rows[0][6] == "go" and rows[0][8].id == tw.box
    assert [row[7] for row in rows] == [3, 6]  # the lines of the fork statements
    assert scheduler.new_task(WIZARD, "eval").id not in (ticket, second)  # held ids

    # the same, with the first fork's hour passed while the server was down
    record = world.tasks[ticket]
    world.queue_task(msgspec.structs.replace(record, start=time.time() - 1))
    world, scheduler, _ = await reload(world, tmp_path)
    scheduler.restore_saved()
    await until(lambda: world.objects[tw.box].name != "box")
    assert world.objects[tw.box].name == "tick5 1"
    assert list(world.tasks) == [second]


async def test_a_fork_whose_time_passed_runs_at_start(tmp_path: Path) -> None:
    tw = make()
    run(tw, 'fork (3600) #0.name = "late"; endfork')
    [record] = tw.world.tasks.values()
    tw.world.queue_task(msgspec.structs.replace(record, start=time.time() - 60))
    world, scheduler, _ = await reload(tw.world, tmp_path)
    scheduler.restore_saved()
    await until(lambda: world.objects[0].name == "late")
    assert world.tasks == {}


async def test_a_fork_of_a_reprogrammed_verb_is_dropped_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tw = make()
    add_verb(tw, VERB)
    ticket = run(tw, f"#{tw.box}:go()")
    tw.world.set_verb_program(tw.box, 0, "return 2;")
    world, scheduler, _ = await reload(tw.world, tmp_path)
    with caplog.at_level(logging.WARNING, logger="moo.lang.saved_tasks"):
        assert scheduler.restore_saved() == 0
    assert f"dropped queued task {ticket} (#{tw.box}:go, player #{WIZARD})" in caplog.text
    assert "reprogrammed or removed since" in caplog.text
    assert world.tasks == {} and scheduler.waiting == {}


async def test_kill_task_drops_the_record_and_a_restored_task_can_be_killed(
    tmp_path: Path,
) -> None:
    tw = make()
    add_verb(tw, VERB)
    ticket = run(tw, f"#{tw.box}:go()")
    _, second = tw.world.tasks
    assert run(tw, f"kill_task({second})") == 0
    assert list(tw.world.tasks) == [ticket]
    tw.scheduler.waiting.clear()
    world, scheduler, _ = await reload(tw.world, tmp_path)
    scheduler.restore_saved()
    outcome = run_eval(scheduler, WIZARD, f"kill_task({ticket}); return queued_tasks();")
    assert outcome.status == "done" and outcome.value == []
    assert world.tasks == {}


async def test_an_undone_transaction_undoes_the_record() -> None:
    tw = make()
    with pytest.raises(RuntimeError), tw.world.transaction():
        outcome = tw.eval(WIZARD, 'fork (3600) #0.name = "x"; endfork')
        assert outcome.status == "done" and len(tw.world.tasks) == 1
        raise RuntimeError("undo")
    assert tw.world.tasks == {}


async def test_journal_records_replay_the_queue() -> None:
    tw = make()
    base = World()
    records: list[bytes] = []
    tw.world.add_observer(lambda batch: records.extend(encoder.encode(r) for r in batch))
    add_verb(tw, VERB)
    ticket = run(tw, f"#{tw.box}:go()")
    _, second = tw.world.tasks
    run(tw, f"kill_task({ticket})")
    record_decoder = decoder(m.Mutation)
    for data in records:
        base.apply(record_decoder.decode(data))
    assert base.tasks == {second: tw.world.tasks[second]}


async def test_snapshot_format_one_without_tasks_two_with_and_damage_is_found(
    tmp_path: Path,
) -> None:
    tw = make()
    path = tmp_path / "a.mck"
    await snapshot.SnapshotWriter(tw.world, path, 0).write()
    assert snapshot.verify(path).format == snapshot.TASKLESS_FORMAT
    run(tw, 'fork (60) #0.name = "x"; endfork')
    await snapshot.SnapshotWriter(tw.world, path, 0).write()
    header = snapshot.verify(path)
    assert header.format == snapshot.FORMAT_VERSION == 2 and header.tasks_length > 0
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="queued tasks checksum mismatch"):
        snapshot.verify(path)
    with pytest.raises(CheckpointError, match="queued tasks checksum mismatch"):
        snapshot.load(path)
    path.write_bytes(bytes(data[:-3]))
    with pytest.raises(CheckpointError, match="truncated or padded"):
        snapshot.verify(path)


async def test_while_the_world_refuses_changes_forks_wait_and_new_ones_are_not_saved(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tw = make()
    run(tw, 'fork (0) #0.name = "ran"; endfork')
    tw.world.refuse_changes("upgrading")  # a hot upgrade's freeze
    with caplog.at_level(logging.WARNING, logger="moo.lang.saving"):
        outcome = tw.eval(WIZARD, "fork t (3600) endfork return t;")
    assert outcome.status == "done" and outcome.value in tw.scheduler.waiting
    assert f"task {outcome.value} is queued in memory only (a restart ends it): upgrading" in (
        caplog.text
    )
    [task_id] = tw.world.tasks
    task = tw.scheduler.waiting[task_id]
    await until(lambda: task.timer is not None and task.timer.when() > 0)
    await asyncio.sleep(0.05)
    assert tw.world.objects[0].name != "ran" and task_id in tw.scheduler.waiting  # postponed
    tw.world.accept_changes("upgrading")
    await until(lambda: tw.world.objects[0].name == "ran", timeout=3)
    assert tw.world.tasks == {}


async def test_a_fork_whose_object_is_gone_is_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tw = make()
    add_verb(tw, VERB)
    ticket = run(tw, f"#{tw.box}:go()")
    tw.world.recycle(tw.box)
    world, scheduler, _ = await reload(tw.world, tmp_path)
    with caplog.at_level(logging.WARNING, logger="moo.lang.saved_tasks"):
        assert scheduler.restore_saved() == 0
    assert f"dropped queued task {ticket} " in caplog.text
    assert f"its verb's object #{tw.box} is gone" in caplog.text
    assert world.tasks == {}


async def test_a_fork_of_a_renamed_verb_still_runs(tmp_path: Path) -> None:
    tw = make()
    add_verb(tw, VERB)
    ticket = run(tw, f"#{tw.box}:go()")
    tw.world.set_verb_info(tw.box, 0, owner=WIZARD, perms="rxd", names="went")
    record = tw.world.tasks[ticket]
    tw.world.queue_task(msgspec.structs.replace(record, start=time.time() - 1))
    world, scheduler, _ = await reload(tw.world, tmp_path)
    assert scheduler.restore_saved() == 2  # the same program: it is found by its hash
    await until(lambda: world.objects[tw.box].name != "box")
    assert world.objects[tw.box].name == "tick5 1"


def test_the_saving_modules_are_imported_with_the_scheduler_not_as_it_first_serves() -> None:
    """Importing them (and the compiler with them) took ~70 ms; done lazily in
    ``restore_saved``, it fell in a hot upgrade's handoff, with every player waiting."""
    code = (
        "import sys\n"
        "from moo.lang.scheduler import Scheduler\n"
        "from moo.world.loader import build_core_world\n"
        "from tests.unit.lang.test_task_helpers import FakeServices\n"
        "assert 'moo.lang.saved_tasks' not in sys.modules\n"
        "Scheduler(build_core_world(), FakeServices())\n"
        "assert 'moo.lang.saved_tasks' in sys.modules and 'moo.lang.compiler' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

"""The durable world under crashes, damage and full disks: nothing acknowledged is ever lost.

Everything here is real: ``python -m moo serve`` stopped with SIGTERM or killed with
SIGKILL, checkpoint and journal files damaged on disk, the SQLite records, and an
RLIMIT_FSIZE that makes writes fail with EFBIG the way a full disk does. Worlds are
compared by digest (``@digest`` is ``World.digest()``, like Redis ``DEBUG DIGEST``).

1. The digest survives a clean restart (the final checkpoint) and a crash (journal alone).
2. SIGKILL at seeded random points while a builder streams changes: 24 trials over the
   three fsync policies, each policy on one data dir reused from crash to crash; two
   trials in three request a checkpoint first (one of those kills as soon as its temp
   file appears), and each policy must see a kill cut a checkpoint short. Each restart
   needs no --force-recover; every checkpoint file verifies; the world is exactly the
   first k commands sent, k at least the number of replies received; and every kept
   checkpoint is exactly the oldest one plus the journal up to its position (snapshots
   written while the world changes are point-in-time).
3. A torn journal tail is cut, logged, and everything before it kept.
4. A damaged newest checkpoint is skipped (logged) for the previous one plus the journal.
5. Journal damage followed by good records refuses a start unless --force-recover; that
   start keeps what precedes the damage, and a later crash must not lose it. Damage only
   in records a verified checkpoint already holds must not block a start; a missing
   stretch of journal must.
6. A checkpoint that hits the file size limit fails, is recorded as failed, and leaves the
   previous generation intact and no temp file; a journal that hits it makes the world
   refuse changes with a clear message instead of losing them.
7. Fuzz: 500 damaged copies of a checkpoint load as CheckpointError or as the same world.
8. Journal fsync and write failures, in-process on real files; two servers on one dir.
9. Server-run records say which runs stopped cleanly, and the log says when one did not.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from moo.config import FSYNC_POLICIES as CONFIG_FSYNC_POLICIES
from moo.config import Persist
from moo.errors import CheckpointError, WorldError
from moo.net.telnet_client import TelnetClient
from moo.persist import journal as jr
from moo.persist import journal_format as jf
from moo.persist import snapshot
from moo.persist.records import Records, ServerRun, default_url
from moo.persist.recovery import Recovered, RecoveryError, list_checkpoints, recover
from moo.persist.store import Store
from moo.world import mutations as m
from moo.world.loader import build_core_world
from moo.world.world import World
from tests.loopback.conftest import BEGIN, MARK, login, send_together, wizard
from tests.server_process import ServerProcess
from tests.unit.test_checkpoint_cli import flip
from tests.waits import until

SEED = 20_251_121
NO_COMMAND_BUDGET = {
    "commands_per_second": 1e6,
    "command_burst": 1_000_000,
    "max_pending_lines": 100_000,
}


def server_config(**persist: object) -> dict[str, object]:
    """extra_config: no scheduled checkpoints, three generations kept, no command budget."""
    return {
        "persist": {"checkpoint_interval_seconds": 0, "keep_checkpoints": 3, **persist},
        "limits": NO_COMMAND_BUDGET,
    }


# ----------------------------------------------------------------------------- helpers


def log_of(server: ServerProcess) -> str:
    return "".join(server.stderr_lines)


def kill9(server: ServerProcess) -> None:
    """SIGKILL: no final checkpoint, no journal close, no run record update."""
    server.kill()
    assert server.wait_exit() == -signal.SIGKILL


def temp_files(directory: Path) -> dict[str, int]:
    """Checkpoint temp files and their mtimes (a kill may leave one; the next reuses it)."""
    found = {}
    for path in directory.glob("*.tmp"):
        try:
            found[path.name] = path.stat().st_mtime_ns
        except FileNotFoundError:
            continue
    return found


@asynccontextmanager
async def wizard_on(server: ServerProcess) -> AsyncIterator[TelnetClient]:
    client = await wizard(server)
    try:
        yield client
    finally:
        await client.close()


async def digest_of(client: TelnetClient) -> str:
    lines = await client.command("@digest", MARK)
    match = re.fullmatch(r"World digest: ([0-9a-f]{64}) \(\d+ objects\)", lines[0])
    assert match, lines
    return match.group(1)


async def checkpoint_now(client: TelnetClient) -> str:
    """``@checkpoint now`` and the line that reports how it ended."""
    assert await client.command("@checkpoint now", MARK) == ["Checkpoint started."]
    return await client.expect(re.compile(r"^Checkpoint (done|FAILED)"), timeout=30)


@contextmanager
def records_of(data: Path) -> Iterator[Records]:
    records = Records.open(default_url(data))
    try:
        yield records
    finally:
        records.close()


def runs_of(data: Path) -> list[ServerRun]:
    """Every server run recorded in ``data``, newest first."""
    found: list[ServerRun] = []
    with records_of(data) as records:
        run = records.previous_run_sync(2**62)
        while run is not None:
            found.append(run)
            run = records.previous_run_sync(run.id)
    return found


def newest_segment(data: Path) -> Path:
    return jf.list_segments(data / "journal")[-1][1]


def frames(segment: Path) -> list[tuple[int, int]]:
    """(offset, size) of each frame in a journal segment (the format in journal_format.py)."""
    data = segment.read_bytes()
    found = []
    offset = 0
    while offset < len(data):
        assert data[offset : offset + 2] == jf.FRAME_MAGIC, f"no frame at {offset}"
        size = jf.FRAME_HEAD + int.from_bytes(data[offset + 2 : offset + 6], "big")
        found.append((offset, size))
        offset += size
    assert offset == len(data), "the segment ends inside a frame"
    return found


def whole_frames_end(data: bytes) -> int:
    """Where the whole frames at the start of a segment's bytes end."""
    offset = 0
    while offset + jf.FRAME_HEAD <= len(data):
        end = offset + jf.FRAME_HEAD + int.from_bytes(data[offset + 2 : offset + 6], "big")
        if end > len(data):
            break
        offset = end
    return offset


def recovered(data: Path, scratch: Path) -> Recovered:
    """Recover a copy of ``data`` in-process (the server's own recovery, on its own files)."""
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "checkpoints").mkdir(parents=True)
    for _generation, path in list_checkpoints(data / "checkpoints"):
        os.link(path, scratch / "checkpoints" / path.name)
    shutil.copytree(data / "journal", scratch / "journal")
    return recover(scratch / "checkpoints", scratch / "journal", build_core_world)


def check_points_in_time(data: Path) -> None:
    """Each checkpoint holds exactly the oldest one plus the journal up to its position.

    A snapshot that caught a change made after its start (a missed copy-before-write)
    fails here even where replaying the rest of the journal would hide it.
    """
    loaded = [snapshot.load(path) for _, path in list_checkpoints(data / "checkpoints")]
    (world, oldest), *later = loaded
    due = sorted((header.journal_position, header.digest) for _, header in later)
    for lsn, records in jf.read_journal(data / "journal", oldest.journal_position, jf.ReadReport()):
        while due and due[0][0] < lsn:
            position, digest = due.pop(0)
            assert world.digest() == digest, f"the checkpoint at {position} is not that moment"
        for record in records:
            world.apply(record)
    for position, digest in due:
        assert world.digest() == digest, f"the checkpoint at {position} is not that moment"


PERSIST = Persist(fsync="no", checkpoint_interval_seconds=0, keep_checkpoints=3)


async def open_store(data: Path, *, force: bool = False, persist: Persist = PERSIST) -> Store:
    """What ``moo serve`` does first: recover (or build and checkpoint a new world)."""
    store = Store.open(data, persist, build_core_world, force=force)
    if store.recovered.fresh:
        outcome = await store.checkpoint("initial", "server")
        assert outcome.ok, outcome.error
    return store


def crash(store: Store) -> None:
    """Leave a store as kill -9 would: no final checkpoint, the run never marked stopped."""
    store.journal.close()
    store.records.close()


def make(world: World, *names: str) -> None:
    """One committed transaction (one journal frame) per new thing."""
    for name in names:
        world.create(world.sys("thing"), 2, name)


def names_in(world: World) -> set[str]:
    return {obj.name for obj in world.objects.values()}


# ------------------------------------------------------ 1. restart and crash by digest


async def build_a_little(client: TelnetClient, tag: str) -> None:
    steps = [
        (f"@create $thing named {tag}relic", "You now have"),
        (f"@describe {tag}relic as Made in the {tag} run.", "Description of"),
        (f"@property {tag}relic.weight 3", "Property"),
        (f"@property {tag}relic.weight 4", f"{tag}relic.weight set to 4."),
        (f"@dig {tag}hatch to {tag}vault", f"{tag}vault"),
        (f"@create $thing named {tag}spare", "You now have"),
        (f"@recycle {tag}spare", f"{tag}spare"),
    ]
    for line, reply in steps:
        lines = await client.command(line, MARK)
        assert lines and lines[0].startswith(reply), (line, lines)


async def test_the_digest_survives_a_clean_restart_and_a_crash(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = server_config(fsync="everysec")
    first = ServerProcess(data, extra_config=config, ssh=False).start()
    try:
        async with wizard_on(first) as wiz:
            await build_a_little(wiz, "first")
            saved = await digest_of(wiz)
    finally:
        assert first.stop() == 0
    with records_of(data) as records:
        final = records.recent_checkpoints_sync(1)[0]
    assert (final.reason, final.status, final.world_digest) == ("shutdown", "ok", saved)
    assert final.path is not None and snapshot.verify(Path(final.path)).digest == saved

    second = ServerProcess(data, extra_config=config, ssh=False).start()
    try:
        async with wizard_on(second) as wiz:
            assert await digest_of(wiz) == saved
            await build_a_little(wiz, "second")
            changed = await digest_of(wiz)
            assert changed != saved
    finally:
        kill9(second)
    newest = list_checkpoints(data / "checkpoints")[-1][1]
    assert snapshot.verify(newest).digest == saved, "the second run's changes are journal-only"

    third = ServerProcess(data, extra_config=config, ssh=False).start()
    try:
        async with wizard_on(third) as wiz:
            assert await digest_of(wiz) == changed
            assert await wiz.command("look secondrelic", MARK) == [
                "secondrelic",
                "Made in the second run.",
            ]
    finally:
        assert third.stop() == 0
    replayed = re.search(r"; (\d+) journal transaction\(s\) replayed", log_of(third))
    assert replayed and int(replayed.group(1)) >= 7, log_of(third)


# ----------------------------------------------- 2. kill -9 at random points, 24 trials

FSYNC_POLICIES = list(CONFIG_FSYNC_POLICIES)
# 8 per policy in the suite (24 in all); bench/crash_trials.py runs many more.
TRIALS_PER_POLICY = int(os.environ.get("MOO_CRASH_TRIALS_PER_POLICY", "8"))
DRIVER = "Driver"
DRIVER_PASSWORD = "driver-secret"
WINDOW = 8  # commands in flight, so the server is appending when the kill lands
MAX_COMMANDS = 3000
PADDING = 1500  # objects of ~1 KB each: a checkpoint of ~1.6 MB takes a moment
PAD_ALIASES = ",".join(f"alias{i:04d}" for i in range(100))
ITEM = re.compile(r"t(\d+)i(\d+)")
# When the kill lands: among journal appends only; at a random moment after @checkpoint now;
# or just after the checkpoint's temp file appears (surely mid-checkpoint).
KILL_MODES = ("appending", "checkpointing", "writing")


@dataclass(frozen=True)
class Template:
    data: Path
    counter: int


@asynccontextmanager
async def driver_on(server: ServerProcess, *, create: bool = False) -> AsyncIterator[TelnetClient]:
    client = await login(server.telnet_port, DRIVER, DRIVER_PASSWORD, create=create)
    try:
        yield client
    finally:
        await client.close()


async def build_template(data: Path) -> Template:
    server = ServerProcess(data, extra_config=server_config(fsync="no"), ssh=False).start()
    try:
        async with wizard_on(server) as wiz, driver_on(server, create=True) as driver:
            pads = await send_together(
                wiz, [f"@create $thing named pad{i},{PAD_ALIASES}" for i in range(PADDING)]
            )
            assert all(reply[0].startswith("You now have pad") for reply in pads)
            made = await wiz.command(f"@make-builder {DRIVER}", MARK)
            assert made[0].endswith("is now a builder."), made
            created = await driver.command("@create $thing named counter", MARK)
            found = re.search(r"\(#(\d+)\)", created[0])
            assert found, created
            counter = int(found.group(1))
            assert await driver.command(f"@property #{counter}.n 0", MARK) == [
                "Property counter.n added with value 0."
            ]
            await driver.command(f"@describe #{counter} as start", MARK)
    finally:
        assert server.stop() == 0
    return Template(data, counter)


@pytest.fixture(scope="module")
def crash_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """A stopped server's data dir: a padded world, a builder, and a counter it owns."""
    return asyncio.run(build_template(tmp_path_factory.mktemp("template") / "data"))


@dataclass
class Driver:
    """A builder streaming ``@property``, ``@create``, ``@describe``; notes every reply."""

    client: TelnetClient
    trial: int
    counter: int
    sent: int = 0
    replies: list[list[str]] = field(default_factory=list)

    def value(self, step: int) -> int:
        return self.trial * 1_000_000 + step + 1

    def item(self, step: int) -> str:
        return f"t{self.trial}i{step}"

    def text(self, step: int) -> str:
        return f"t{self.trial}d{step}"

    def line(self, index: int) -> str:
        step, kind = divmod(index, 3)
        if kind == 0:
            return f"@property #{self.counter}.n {self.value(step)}"
        if kind == 1:
            return f"@create $thing named {self.item(step)}"
        return f"@describe #{self.counter} as {self.text(step)}"

    def check_reply(self, index: int) -> None:
        step, kind = divmod(index, 3)
        reply = self.replies[index]
        if kind == 0:
            ok = reply == [f"counter.n set to {self.value(step)}."]
        elif kind == 1:
            pattern = rf"You now have {self.item(step)} \(#\d+\), a kind of Generic Thing \(#5\)\."
            ok = len(reply) == 1 and re.fullmatch(pattern, reply[0]) is not None
        else:
            ok = reply == [f"Description of counter (#{self.counter}) set."]
        assert ok, f"{self.line(index)!r} was answered {reply!r}"

    def state_after(self, count: int, before: tuple[int, str]) -> tuple[int, str, set[str]]:
        """(counter.n, counter's description, this trial's items) after the first ``count``."""
        props, creates, describes = (count + 2) // 3, (count + 1) // 3, count // 3
        n = self.value(props - 1) if props else before[0]
        text = self.text(describes - 1) if describes else before[1]
        return n, text, {self.item(step) for step in range(creates)}

    async def run(self) -> None:
        """Stream commands, WINDOW in flight, until the server goes away."""
        block: list[str] | None = None
        while True:
            while (
                not self.client.closed
                and self.sent < MAX_COMMANDS
                and self.sent - len(self.replies) < WINDOW
            ):
                self.client.send_line(self.line(self.sent))
                self.sent += 1
            try:
                line = await self.client.read_line(15)
            except ConnectionError:
                return
            if line is None:
                if self.client.closed:
                    return
                raise AssertionError("the server stopped answering the driver")
            if line == BEGIN:
                block = []
            elif line == MARK and block is not None:
                self.replies.append(block)
                block = None
            elif block is not None:
                block.append(line)


@dataclass
class CrashChain:
    """One data dir, crashed again and again; what must have survived so far."""

    data: Path
    scratch: Path
    config: dict[str, object]
    counter: int
    n: int = 0
    text: str = "start"
    items: set[str] = field(default_factory=set)
    digest: str | None = None  # of the world recovered (offline) after the last kill

    async def check_live(self, wiz: TelnetClient, driver: TelnetClient) -> None:
        """The restarted server holds exactly the world recovered from the same files."""
        if self.digest is not None:
            assert await digest_of(wiz) == self.digest
        lines = await driver.command(f"@examine #{self.counter}", MARK)
        assert f"  .n = {self.n}" in lines, lines
        assert f'  .description = "{self.text}"' in lines, lines

    async def trial(self, number: int, rng: random.Random) -> bool:
        """Drive, kill -9 at a random moment, check. True if the kill cut a checkpoint short."""
        server = ServerProcess(self.data, extra_config=self.config, ssh=False).start()
        assert server.process is not None
        try:
            if number > 0:
                await until(
                    lambda: "ended without a clean stop" in log_of(server), "the crash warning"
                )
            async with wizard_on(server) as wiz, driver_on(server) as talker:
                await self.check_live(wiz, talker)
                driver = Driver(talker, number, self.counter)
                task = asyncio.create_task(driver.run())
                try:
                    await self.until_the_kill(KILL_MODES[number % len(KILL_MODES)], wiz, rng)
                finally:
                    server.kill()
                    await asyncio.wait_for(task, 30)  # every reply sent before the server died
        finally:
            server.kill()
            server.wait_exit()
        with records_of(self.data) as records:  # still "running": the kill cut it short
            interrupted = any(c.status == "running" for c in records.recent_checkpoints_sync(3))
        self.check_disk(driver)
        return interrupted

    async def until_the_kill(self, mode: str, wiz: TelnetClient, rng: random.Random) -> None:
        if mode == "appending":
            await asyncio.sleep(rng.uniform(0.005, 0.15))
            return
        checkpoints = self.data / "checkpoints"
        stale = temp_files(checkpoints)
        await asyncio.sleep(rng.uniform(0.0, 0.05))
        wiz.send_line("@checkpoint now")
        if mode == "checkpointing":
            await asyncio.sleep(rng.uniform(0.0, 0.12))
            return
        generations = list_checkpoints(checkpoints)
        await until(  # a checkpoint too quick to see ends with a new generation instead
            lambda: (
                temp_files(checkpoints).items() - stale.items()
                or list_checkpoints(checkpoints) != generations
            ),
            "the checkpoint's temp file",
            poll=0.001,
        )
        await asyncio.sleep(rng.uniform(0.0, 0.005))

    def check_disk(self, driver: Driver) -> None:
        for _generation, path in list_checkpoints(self.data / "checkpoints"):
            snapshot.verify(path)  # a kill never leaves a damaged generation behind
        check_points_in_time(self.data)
        newest = recovered(self.data, self.scratch)
        assert not [note for note in newest.notes if "skipped" in note], newest.notes
        world = newest.world
        for index in range(len(driver.replies)):
            driver.check_reply(index)
        counter = world.objects[self.counter]
        seen = (counter.props["n"], counter.props["description"])
        items = [found for obj in world.objects.values() if (found := ITEM.fullmatch(obj.name))]
        names = {found[0] for found in items}
        assert len(names) == len(items), "an item exists twice"
        mine = {found[0] for found in items if int(found[1]) == driver.trial}
        assert names - mine == self.items, "items of earlier trials changed"
        acknowledged = len(driver.replies)
        for count in range(acknowledged, driver.sent + 1):
            if driver.state_after(count, (self.n, self.text)) == (*seen, mine):
                break
        else:
            raise AssertionError(
                f"the recovered world is not the first k commands for any k from "
                f"{acknowledged} (replies received) to {driver.sent} (sent): counter.n="
                f"{seen[0]}, description {seen[1]!r}, {len(mine)} items"
            )
        self.n, self.text = seen
        self.items |= mine
        self.digest = world.digest()


@pytest.mark.parametrize("fsync", FSYNC_POLICIES)
async def test_kill_9_at_random_points_loses_nothing_acknowledged(
    crash_template: Template, tmp_path: Path, fsync: str
) -> None:
    data = tmp_path / "data"
    shutil.copytree(crash_template.data, data)
    chain = CrashChain(
        data,
        tmp_path / "scratch",
        server_config(fsync=fsync, slice_ms=0.2),
        crash_template.counter,
    )
    interrupted = 0
    for number in range(TRIALS_PER_POLICY):
        seed = SEED + 100 * FSYNC_POLICIES.index(fsync) + number
        try:
            interrupted += await chain.trial(number, random.Random(seed))
        except (AssertionError, RuntimeError, CheckpointError) as error:
            raise AssertionError(f"fsync={fsync} trial {number} seed {seed}: {error}") from error
    assert interrupted > 0, "no kill landed while a checkpoint was being written"

    server = ServerProcess(data, extra_config=chain.config, ssh=False).start()
    try:
        async with wizard_on(server) as wiz, driver_on(server) as talker:
            await chain.check_live(wiz, talker)
    finally:
        assert server.stop() == 0
    assert runs_of(data)[0].clean is True


# ------------------------------------------------------------------- 3. torn journal tail


async def test_a_torn_journal_tail_is_cut_and_everything_before_it_kept(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = server_config(fsync="always")
    first = ServerProcess(data, extra_config=config, ssh=False).start()
    try:
        async with wizard_on(first) as wiz:
            await wiz.command("@create $thing named scroll", MARK)
            await wiz.command("@describe scroll as Intact text.", MARK)
            before = await digest_of(wiz)
            await wiz.command("@describe scroll as Torn away.", MARK)
    finally:
        kill9(first)
    segment = newest_segment(data)
    offset, size = frames(segment)[-1]
    first_lsn = jf.list_segments(data / "journal")[0][0]
    *_, (_lsn, last) = jf.read_journal(data / "journal", first_lsn - 1, jf.ReadReport())
    assert isinstance(last[-1], m.SetProp) and last[-1].value == "Torn away."
    with segment.open("r+b") as f:
        f.truncate(offset + size // 2)

    second = ServerProcess(data, extra_config=config, ssh=False).start()
    try:
        async with wizard_on(second) as wiz:
            assert await digest_of(wiz) == before
            assert await wiz.command("look scroll", MARK) == ["scroll", "Intact text."]
            assert segment.stat().st_size == offset, "cut back to the last whole frame"
            await wiz.command("@describe scroll as Written after the cut.", MARK)
            after = await digest_of(wiz)
    finally:
        kill9(second)
    assert f"journal {segment.name}: cut a torn record at byte {offset}" in log_of(second)

    third = ServerProcess(data, extra_config=config, ssh=False).start()
    try:
        async with wizard_on(third) as wiz:
            assert await digest_of(wiz) == after
    finally:
        third.stop()


# ------------------------------------------------------- 4. damaged newest checkpoint


async def test_a_damaged_newest_checkpoint_is_skipped_for_the_previous_one(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    config = server_config(fsync="everysec")
    first = ServerProcess(data, extra_config=config, ssh=False).start()
    try:
        async with wizard_on(first) as wiz:
            for name in ("older", "newer"):
                await wiz.command(f"@create $thing named {name}", MARK)
                assert (await checkpoint_now(wiz)).startswith("Checkpoint done")
            await wiz.command("@describe older as Changed after both checkpoints.", MARK)
            saved = await digest_of(wiz)
    finally:
        kill9(first)
    generations = list_checkpoints(data / "checkpoints")
    assert [generation for generation, _ in generations] == [1, 2, 3]
    newest = generations[-1][1]
    flip(newest, snapshot.HEADER_SIZE + snapshot.read_header(newest).body_length // 2)
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        snapshot.verify(newest)

    second = ServerProcess(data, extra_config=config, ssh=False).start()
    try:
        async with wizard_on(second) as wiz:
            assert await digest_of(wiz) == saved
            assert await wiz.command("look older", MARK) == [
                "older",
                "Changed after both checkpoints.",
            ]
    finally:
        second.stop()
    skipped = [line for line in second.stderr_lines if "skipping checkpoint" in line]
    assert skipped and newest.name in skipped[0], log_of(second)


# ------------------------------------------------ 5. journal damage and --force-recover


async def test_journal_damage_before_good_records_needs_force_recover(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = server_config(fsync="always")
    first = ServerProcess(data, extra_config=config, ssh=False).start()
    digests = []
    try:
        async with wizard_on(first) as wiz:
            await wiz.command("@create $thing named ledger", MARK)
            for entry in range(1, 6):
                await wiz.command(f"@describe ledger as Entry {entry}.", MARK)
                digests.append(await digest_of(wiz))
    finally:
        kill9(first)
    segment = newest_segment(data)
    entries = frames(segment)[-5:]
    flip(segment, entries[2][0] + jf.FRAME_HEAD + 2)  # entry 3; entries 4 and 5 follow
    damaged = segment.read_bytes()

    refused = ServerProcess(data, extra_config=config, ssh=False)
    with pytest.raises(RuntimeError):
        refused.start()
    assert refused.process is not None and refused.process.returncode != 0
    log = log_of(refused)
    assert "journal is damaged" in log and segment.name in log and "--force-recover" in log
    assert segment.read_bytes() == damaged, "a refused start changes nothing on disk"

    forced = ServerProcess(data, extra_config=config, ssh=False, flags=("--force-recover",)).start()
    try:
        async with wizard_on(forced) as wiz:
            assert await digest_of(wiz) == digests[1]
            assert await wiz.command("look ledger", MARK) == ["ledger", "Entry 2."]
    finally:
        assert forced.stop() == 0
    assert "forced recovery: stopped at journal damage" in log_of(forced)
    assert segment.with_name(segment.name + ".damaged").exists()


async def test_a_crash_after_a_forced_recovery_keeps_what_that_recovery_kept(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    store = await open_store(data)
    digests = []
    for entry in range(5):
        make(store.world, f"kept{entry}")
        digests.append(store.world.digest())
    crash(store)
    segment = newest_segment(data)
    flip(segment, frames(segment)[2][0] + jf.FRAME_HEAD + 2)  # kept2; kept3, kept4 follow
    with pytest.raises(RecoveryError, match="--force-recover"):
        Store.open(data, PERSIST, build_core_world)

    store = await open_store(data, force=True)
    assert store.world.digest() == digests[1]
    make(store.world, "after the forced start")
    expected = names_in(store.world)
    crash(store)  # kill -9 before any checkpoint

    try:
        store = await open_store(data)
    except RecoveryError as error:
        pytest.fail(f"after --force-recover and a crash, the start is refused: {error}")
    try:
        lost = sorted(expected - names_in(store.world))
        assert not lost, f"a crash after --force-recover lost {lost}"
    finally:
        crash(store)


async def test_journal_damage_a_verified_checkpoint_covers_does_not_block_a_start(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    store = await open_store(data)
    make(store.world, *(f"covered{i}" for i in range(5)))
    assert (await store.checkpoint("manual", "test")).ok
    make(store.world, *(f"later{i}" for i in range(3)))
    expected = store.world.digest()
    crash(store)
    segments = jf.list_segments(data / "journal")
    assert len(segments) == 2, "the older generation keeps its segment"
    covered = segments[0][1]
    flip(covered, frames(covered)[2][0] + jf.FRAME_HEAD + 2)

    store = await open_store(data)  # nothing needed from the damaged segment
    try:
        assert store.world.digest() == expected
    finally:
        crash(store)


async def test_a_missing_stretch_of_journal_refuses_the_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = await open_store(data)
    make(store.world, "early0", "early1", "early2")
    assert (await store.checkpoint("manual", "test")).ok
    make(store.world, "late0", "late1", "late2")
    crash(store)
    newest = list_checkpoints(data / "checkpoints")[-1][1]
    flip(newest, snapshot.HEADER_SIZE + 100)  # recovery must fall back to the initial one
    jf.list_segments(data / "journal")[0][1].unlink()  # and the early frames are gone

    try:
        store = Store.open(data, PERSIST, build_core_world)
    except RecoveryError:
        return
    lost = sorted({"early0", "early1", "early2"} - names_in(store.world))
    crash(store)
    pytest.fail(f"started without the journal between the checkpoint and the rest; lost {lost}")


# ----------------------------------------------------------- 6. a full disk (EFBIG)

FILE_SIZE_LIMIT = 512 * 1024
# A few long aliases: 3 KB an object, while matching a name (every command does) stays cheap.
BULK_ALIASES = ",".join(f"alias{i}" + "x" * 290 for i in range(10))


async def test_a_full_disk_fails_the_checkpoint_and_then_refuses_changes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = server_config(fsync="everysec")
    first = ServerProcess(data, extra_config=config, ssh=False).start()
    try:
        async with wizard_on(first) as wiz:
            await send_together(
                wiz, [f"@create $thing named bulk{i},{BULK_ALIASES}" for i in range(400)]
            )
            created = await wiz.command("@create $thing named relic", MARK)
    finally:
        assert first.stop() == 0
    found = re.search(r"\(#(\d+)\)", created[0])
    assert found, created
    relic = f"#{found.group(1)}"
    kept = [path for _, path in list_checkpoints(data / "checkpoints")]
    previous = snapshot.verify(kept[-1])
    assert kept[-1].stat().st_size > 2 * FILE_SIZE_LIMIT

    limited = ServerProcess(
        data, extra_config=config, ssh=False, file_size_limit=FILE_SIZE_LIMIT
    ).start()
    try:
        async with wizard_on(limited) as wiz:
            set_reply = re.compile(r"Description of relic \(#\d+\) set\.")
            reply = await wiz.command(f"@describe {relic} as Before the failed checkpoint.", MARK)
            assert set_reply.fullmatch(reply[0])
            ended = await checkpoint_now(wiz)
            assert ended.startswith("Checkpoint FAILED:") and "File too large" in ended, ended
            with records_of(data) as records:
                failed = records.recent_checkpoints_sync(1)[0]
            assert failed.status == "failed" and "File too large" in (failed.error or "")
            assert snapshot.verify(kept[-1]) == previous
            assert [path for _, path in list_checkpoints(data / "checkpoints")] == kept
            assert not list((data / "checkpoints").glob("*.tmp"))
            assert limited.running
            reply = await wiz.command(f"@describe {relic} as After the failed checkpoint.", MARK)
            assert set_reply.fullmatch(reply[0]), reply

            texts = [f"{i:04d}" + "." * 2990 for i in range(250)]  # ~750 KB of journal
            replies = await send_together(wiz, [f"@describe {relic} as {text}" for text in texts])
            accepted = 0
            while accepted < len(replies) and set_reply.fullmatch(replies[accepted][0]):
                accepted += 1
            assert 0 < accepted < len(replies)
            failure = "\n".join(replies[accepted])
            assert "journal write failed" in failure and "refuses changes" in failure, failure
            assert "*** Server alarm:" in failure, "the wizard is told"
            for later in replies[accepted + 1 :]:
                assert later[0].startswith("The world cannot be saved right now"), later
            assert await wiz.command(f"look {relic}", MARK) == ["relic", texts[accepted - 1]]
            refused_at = await digest_of(wiz)
    finally:
        assert limited.stop() == 0
    filled = newest_segment(data)
    size, whole = filled.stat().st_size, whole_frames_end(filled.read_bytes())
    assert size <= FILE_SIZE_LIMIT

    again = ServerProcess(data, extra_config=config, ssh=False).start()
    try:
        async with wizard_on(again) as wiz:
            assert await digest_of(wiz) == refused_at
            assert await wiz.command(f"look {relic}", MARK) == ["relic", texts[accepted - 1]]
    finally:
        assert again.stop() == 0
    if size > whole:  # the write that hit the limit left part of a frame
        assert f"{filled.name}: cut a torn record at byte {whole}" in log_of(again)
    frames(filled)  # only whole frames remain


# ------------------------------------------------------------- 7. fuzzed checkpoints


def damage(data: bytes, rng: random.Random) -> bytes:
    """Flip, insert, delete or truncate bytes; positions favour the header and body start."""
    damaged = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        if not damaged:
            break
        zone = rng.random()
        if zone < 0.25:
            where = rng.randrange(min(256, len(damaged)))
        elif zone < 0.4:
            where = min(len(damaged) - 1, rng.randrange(snapshot.HEADER_SIZE - 16, 4160))
        else:
            where = rng.randrange(len(damaged))
        kind = rng.choice(("flip", "insert", "delete", "truncate"))
        if kind == "flip":
            damaged[where] ^= rng.randrange(1, 256)
        elif kind == "insert":
            damaged[where:where] = rng.randbytes(rng.randint(1, 8))
        elif kind == "delete":
            del damaged[where : where + rng.randint(1, 8)]
        else:
            del damaged[where:]
    return bytes(damaged)


async def test_damaged_checkpoint_copies_load_as_an_error_or_the_same_world(
    tmp_path: Path,
) -> None:
    world = build_core_world()
    make(world, *(f"fuzz{i}" for i in range(50)))
    for oid in list(world.objects)[-50:]:
        world.set_prop(oid, "description", f"Object #{oid}. " * (oid % 7))
    original = tmp_path / "original.mck"
    await snapshot.SnapshotWriter(world, original, journal_position=42).write()
    pristine = original.read_bytes()
    expected = world.digest()
    rng = random.Random(SEED)
    copy = tmp_path / "copy.mck"
    errors = 0
    for attempt in range(500):
        copy.write_bytes(damage(pristine, rng))
        try:
            loaded, header = snapshot.load(copy)
        except CheckpointError:
            errors += 1
            continue
        except Exception as error:
            raise AssertionError(f"attempt {attempt} (seed {SEED}): {error!r}") from error
        assert (loaded.digest(), header.journal_position) == (expected, 42), (
            f"attempt {attempt} (seed {SEED}) loaded a different world"
        )
    assert errors > 250, "most damage must be caught"


# ------------------------------------------------- 8. journal failures, two servers


async def test_a_failed_journal_fsync_keeps_that_change_and_refuses_later_ones(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    store = await open_store(data, persist=Persist(fsync="always", checkpoint_interval_seconds=0))
    alarms: list[str] = []
    store.alarms.append(alarms.append)  # Store's on_failure raises one alarm per call
    world = store.world
    make(world, "witness")
    witness = world.next_id - 1
    read_end, write_end = os.pipe()
    try:
        os.dup2(write_end, store.journal._fd)  # os.write still works; os.fsync: EINVAL
        world.set_prop(witness, "description", "Written, never synced.")
        assert len(alarms) == 1 and "journal fsync failed" in alarms[0], alarms
        assert world.prop(witness, "description") == "Written, never synced."
        with pytest.raises(CheckpointError, match="fsync failed"):
            store.journal.append([m.SetProp(witness, "description", "direct")])
        before = world.digest()
        with pytest.raises(WorldError, match="cannot be saved"):
            world.set_prop(witness, "description", "Refused.")
        with pytest.raises(WorldError, match="cannot be saved"):
            make(world, "refused")
        assert world.digest() == before
        assert len(alarms) == 1, "on_failure is called once"
    finally:
        crash(store)
        os.close(read_end)
        os.close(write_end)


async def test_a_failed_background_fsync_calls_on_failure_once(tmp_path: Path) -> None:
    failures: list[str] = []
    journal = jr.Journal(tmp_path, next_lsn=1, fsync="everysec", on_failure=failures.append)
    read_end, write_end = os.pipe()
    try:
        journal.append([m.SetNextId(1)])
        os.dup2(write_end, journal._fd)
        journal.append([m.SetNextId(2)])
        await journal.sync()
        await journal.sync()
        assert len(failures) == 1 and "fsync failed" in failures[0]
        with pytest.raises(CheckpointError):
            journal.append([m.SetNextId(3)])
        assert len(failures) == 1
    finally:
        journal.close()
        os.close(read_end)
        os.close(write_end)


async def test_a_failed_journal_write_undoes_the_transaction(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = await open_store(data)
    world = store.world
    make(world, "witness")
    witness = world.next_id - 1
    before, next_id = world.digest(), world.next_id
    read_only = os.open(newest_segment(data), os.O_RDONLY)
    try:
        os.dup2(read_only, store.journal._fd)  # os.write: EBADF
        with pytest.raises(CheckpointError, match="journal write failed"), world.transaction():
            make(world, "never")
            world.set_prop(witness, "description", "Never.")
            world.move(witness, 10)
        assert (world.digest(), world.next_id) == (before, next_id)
        with pytest.raises(WorldError, match="cannot be saved"):
            world.rename(witness, "renamed")
    finally:
        os.close(read_only)
        crash(store)
    replayed = recover(data / "checkpoints", data / "journal", build_core_world)
    assert replayed.world.digest() == before, "nothing of the failed transaction is replayable"


async def test_a_second_server_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = ServerProcess(data, extra_config=server_config(), ssh=False).start()
    try:
        async with wizard_on(first) as wiz:
            before = await digest_of(wiz)
            # A second front is refused by the front's lock; a single-process server by
            # the world's (the engine holds it).
            for flags, refusal in (
                ((), "another front is running"),
                (("--single-process",), "another server is running"),
            ):
                second = ServerProcess(data, extra_config=server_config(), ssh=False, flags=flags)
                with pytest.raises(RuntimeError, match=refusal):
                    second.start()
                assert second.process is not None and second.process.returncode != 0
            assert await digest_of(wiz) == before
    finally:
        assert first.stop() == 0


# ------------------------------------------------------------------- 9. server runs


async def test_runs_record_a_crash_as_unclean_and_a_stop_as_clean(tmp_path: Path) -> None:
    data = tmp_path / "data"
    crashed = ServerProcess(data, extra_config=server_config(), ssh=False).start()
    assert crashed.process is not None
    crashed_pid = crashed.pid  # the world's process (behind a front, the engine)
    kill9(crashed)

    stopped = ServerProcess(data, extra_config=server_config(), ssh=False).start()
    try:
        current, previous = runs_of(data)
        assert previous.pid == crashed_pid
        assert (previous.clean, previous.stopped) == (False, None)
        assert current.pid == stopped.pid
        assert (current.clean, current.stopped) == (None, None)
        await until(lambda: "ended without a clean stop" in log_of(stopped), "the crash warning")
        assert f"the previous run (pid {crashed_pid}) ended without a clean stop" in log_of(stopped)
    finally:
        assert stopped.stop() == 0
    current, previous = runs_of(data)
    assert current.clean is True and current.stopped is not None
    assert previous.clean is False

    calm = ServerProcess(data, extra_config=server_config(), ssh=False).start()
    assert calm.stop() == 0
    assert "without a clean stop" not in log_of(calm)
    assert [run.clean for run in runs_of(data)] == [True, True, False]

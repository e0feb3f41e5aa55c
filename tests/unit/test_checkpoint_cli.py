"""``moo checkpoint ...`` on real data directories built by the real Store.

Each data dir holds three checkpoint generations with the world changed before each, and
one more change in the journal after the last; digests are compared after restore and
after archive -> extract, as ``moo serve`` would recover them.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from moo.cli import main
from moo.config import Persist
from moo.persist import cleanup, lock, manage
from moo.persist.manage import DataDir
from moo.persist.records import Records, default_url
from moo.persist.recovery import list_checkpoints
from moo.persist.snapshot import read_header
from moo.persist.store import Store
from moo.world.values import NOTHING
from moo.world.world import World

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Built:
    data: Path
    digests: dict[int, str]  # generation -> world digest at that checkpoint
    final: str  # the digest with the journal after the last checkpoint applied


async def build(data: Path, generations: int = 3) -> Built:
    store = Store.open(data, Persist(keep_checkpoints=10), World)
    digests = {}
    for number in range(1, generations + 1):
        store.world.create(NOTHING, NOTHING, f"thing{number}")
        outcome = await store.checkpoint("manual", "Wizard")
        assert outcome.ok
        digests[number] = store.world.digest()
    store.world.create(NOTHING, NOTHING, "after the last checkpoint")
    final = store.world.digest()
    await store.close(final_reason=None)
    return Built(data, digests, final)


async def recovered_digest(data: Path) -> str:
    store = Store.open(data, Persist(), World)
    try:
        return store.world.digest()
    finally:
        await store.close(final_reason=None)


@pytest.fixture
async def built(tmp_path: Path) -> Built:
    return await build(tmp_path / "data")


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["checkpoint", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def ckpt(data: Path, generation: int) -> Path:
    return data / "checkpoints" / f"ckpt-{generation:08d}.mck"


def flip(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))


# -- parsing -----------------------------------------------------------------------------------


def test_parse_id_and_age() -> None:
    assert manage.parse_id("latest") == "latest"
    assert manage.parse_id("7") == 7
    assert manage.parse_id("00000007") == 7
    for bad in ("", "0", "-1", "x", "1.5", "٣"):
        with pytest.raises(ValueError, match="generation number"):
            manage.parse_id(bad)
    assert cleanup.parse_age("7d") == 7 * 86400
    assert cleanup.parse_age("12h") == 12 * 3600
    assert cleanup.parse_age("30m") == 1800
    for bad in ("7", "d", "0d", "7s", "7 d", "1.5h", "-1d", "7D"):
        with pytest.raises(ValueError, match="like 7d, 12h, 30m"):
            cleanup.parse_age(bad)


# -- list / show -------------------------------------------------------------------------------


async def test_list_prints_a_header_and_one_row_per_checkpoint_newest_first(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "list", "--data-dir", str(built.data))
    assert code == 0 and err == ""
    header, *rows = out.splitlines()
    assert header.split() == [
        "ID",
        "CREATED",
        "OBJECTS",
        "SIZE",
        "JOURNAL",
        "REASON",
        "BY",
        "STATUS",
    ]
    assert [row.split()[0] for row in rows] == ["3", "2", "1"]
    for generation, row in zip((3, 2, 1), rows, strict=True):
        _id, created, objects, size, position, reason, by, status = row.split()
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", created)
        assert objects == str(generation) and position == str(generation)
        assert re.fullmatch(r"\d+(\.\d)?(B|KiB|MiB|GiB)", size)
        assert (reason, by, status) == ("manual", "Wizard", "ok")


async def test_list_marks_a_damaged_header(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    flip(ckpt(built.data, 2), 14)
    code, out, _err = cli(capsys, "list", "--data-dir", str(built.data))
    assert code == 0
    row = out.splitlines()[2]
    assert row.endswith("  DAMAGED: damaged header (checksum mismatch)")
    ident, created, objects, _size, position, *_rest = row.split()
    assert (ident, created, objects, position) == ("2", "-", "-", "-")


async def test_list_runs_as_a_real_command(built: Built) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "moo", "checkpoint", "list", "--data-dir", str(built.data)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ID") and len(lines) == 4


async def test_data_dir_defaults_from_the_config(
    built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "moo.yaml"
    config.write_text(f"data_dir: {built.data}\n")
    code, out, _err = cli(capsys, "list", "--config", str(config))
    assert code == 0 and len(out.splitlines()) == 4
    config.write_text("no_such_key: 1\n")
    code, _out, err = cli(capsys, "list", "--config", str(config))
    assert code == 2 and err.startswith("moo checkpoint: no_such_key: unknown setting")


async def test_show_prints_header_record_and_journal_coverage(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _err = cli(capsys, "show", "1", "--data-dir", str(built.data))
    assert code == 0
    fields = dict(
        (label.strip(), value.strip())
        for label, _, value in (line.partition(":") for line in out.splitlines()[1:])
    )
    assert out.splitlines()[0] == "checkpoint 1"
    assert fields["file"] == str(ckpt(built.data, 1))
    assert fields["digest"] == built.digests[1]
    assert fields["objects"] == "1" and fields["journal position"] == "1"
    for name in ("format", "next id", "created", "server version", "body length", "size"):
        assert fields[name]
    assert fields["record reason"] == "manual" and fields["record requested by"] == "Wizard"
    assert fields["record world digest"] == built.digests[1]
    assert fields["frames after it"] == "3 lsn 2..4"
    assert fields["roll forward"].startswith("complete")

    (built.data / "journal" / "0000000000000003.journal").unlink()
    code, out, _err = cli(capsys, "show", "latest", "--data-dir", str(built.data))
    assert code == 0 and out.splitlines()[0] == "checkpoint 3"
    _code, out, _err = cli(capsys, "show", "1", "--data-dir", str(built.data))
    assert "roll forward:" in out and "NOT POSSIBLE: damaged" in out

    code, _out, err = cli(capsys, "show", "9", "--data-dir", str(built.data))
    assert code == 1 and err.startswith("moo checkpoint: no checkpoint 9 in ")
    code, _out, err = cli(capsys, "show", "nine", "--data-dir", str(built.data))
    assert code == 2 and "generation number or 'latest'" in err


# -- verify ------------------------------------------------------------------------------------


async def test_verify_passes_then_fails_on_a_flipped_byte_naming_the_file(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "verify", "--data-dir", str(built.data))
    assert code == 0 and err == ""
    assert out.splitlines() == [f"{g}  ckpt-{g:08d}.mck  OK" for g in (3, 2, 1)]

    flip(ckpt(built.data, 2), -1)  # the last byte of the body
    code, out, err = cli(capsys, "verify", "--data-dir", str(built.data))
    assert code == 1
    assert "2  ckpt-00000002.mck  FAILED: body checksum mismatch" in out
    assert "3  ckpt-00000003.mck  OK" in out
    assert err == "moo checkpoint: verification failed: ckpt-00000002.mck\n"

    code, out, _err = cli(capsys, "verify", "3", "--data-dir", str(built.data))
    assert code == 0 and out == "3  ckpt-00000003.mck  OK\n"
    code, _out, _err = cli(capsys, "verify", "2", "--data-dir", str(built.data))
    assert code == 1


# -- rm / prune --------------------------------------------------------------------------------


def records_paths(data: Path) -> list[str]:
    records = Records.open(default_url(data))
    try:
        return [Path(r.path or "").name for r in records.recent_checkpoints_sync(100)]
    finally:
        records.close()


async def test_rm_deletes_the_file_and_its_record(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _err = cli(capsys, "rm", "2", "--data-dir", str(built.data))
    assert code == 0 and out == "removed checkpoint 2 (ckpt-00000002.mck) and 1 record(s)\n"
    assert not ckpt(built.data, 2).exists()
    assert sorted(records_paths(built.data)) == ["ckpt-00000001.mck", "ckpt-00000003.mck"]


async def test_rm_refuses_the_only_checkpoint_that_verifies(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    flip(ckpt(built.data, 1), -1)
    flip(ckpt(built.data, 3), -1)
    code, _out, err = cli(capsys, "rm", "2", "--data-dir", str(built.data))
    assert code == 1
    assert "refusing to delete checkpoint 2: it is the only checkpoint that verifies" in err
    assert ckpt(built.data, 2).exists()
    code, _out, _err = cli(capsys, "rm", "latest", "--data-dir", str(built.data))
    assert code == 0 and not ckpt(built.data, 3).exists()  # a damaged one may go


async def test_prune_keeps_n_and_never_the_newest_that_verifies(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _err = cli(
        capsys, "prune", "--keep", "2", "--dry-run", "--data-dir", str(built.data)
    )
    assert code == 0 and out.startswith("would remove checkpoint 1 (ckpt-00000001.mck")
    assert ckpt(built.data, 1).exists()

    flip(ckpt(built.data, 3), -1)
    code, out, _err = cli(capsys, "prune", "--keep", "1", "--data-dir", str(built.data))
    assert code == 0
    assert "removed checkpoint 1 " in out
    assert out.splitlines()[-1] == "kept 2 checkpoint(s): 3, 2 (newest that verifies: 2)"
    assert [g for g, _ in list_checkpoints(built.data / "checkpoints")] == [2, 3]
    assert len(list((built.data / "journal").glob("*.journal"))) == 3  # the journal stays

    flip(ckpt(built.data, 2), -1)
    code, _out, err = cli(capsys, "prune", "--keep", "1", "--data-dir", str(built.data))
    assert code == 1 and "verifies; prune deletes nothing" in err
    code, _out, err = cli(capsys, "prune", "--keep", "0", "--data-dir", str(built.data))
    assert code == 2 and "--keep: expected a whole number >= 1" in err


async def test_prune_by_age_and_from_config(
    built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _err = cli(capsys, "prune", "--max-age", "30m", "--data-dir", str(built.data))
    assert code == 0 and "removed" not in out  # all young, and 3 is the default keep
    code, _out, err = cli(capsys, "prune", "--max-age", "1w", "--data-dir", str(built.data))
    assert code == 2 and err.startswith("moo checkpoint: --max-age: expected")

    later = time.time() + 2 * 86400
    pruned = cleanup.prune(DataDir(built.data), keep=10, max_age=86400, now=later)
    assert [e.generation for e in pruned.removed] == [2, 1] and pruned.protected == 3

    fresh = await build(tmp_path / "other")
    config = tmp_path / "moo.yaml"
    config.write_text(f"data_dir: {fresh.data}\npersist:\n  keep_checkpoints: 2\n")
    code, out, _err = cli(capsys, "prune", "--config", str(config))
    assert code == 0 and out.splitlines()[0].startswith("removed checkpoint 1 ")


# -- usage -------------------------------------------------------------------------------------


async def test_usage_counts_files_and_bytes(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _err = cli(capsys, "usage", "--data-dir", str(built.data))
    assert code == 0
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    ckpt_bytes = sum(ckpt(built.data, g).stat().st_size for g in (1, 2, 3))
    assert rows["checkpoints"][:2] == ["3", str(ckpt_bytes)]
    journal = list((built.data / "journal").glob("*.journal"))
    assert rows["journal"][:2] == [str(len(journal)), str(sum(p.stat().st_size for p in journal))]
    assert rows["records"][0] == "1"
    total = sum(int(rows[name][1]) for name in ("checkpoints", "journal", "records", "set"))
    assert rows["total"][1] == str(total)


# -- archive / extract -------------------------------------------------------------------------


async def test_archive_then_extract_into_a_fresh_dir_gives_the_same_world(
    built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "world.tar.gz"
    code, out, _err = cli(capsys, "archive", "2", str(archive), "--data-dir", str(built.data))
    assert code == 0 and out.startswith("archived checkpoint 2 (2 objects) and 2 journal")
    with tarfile.open(archive, "r:gz") as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert names == ["ckpt-00000002.mck", *manifest_segments(manifest), "manifest.json"]
    assert manifest["checkpoint"]["digest"] == built.digests[2]
    assert oct(archive.stat().st_mode & 0o777) == "0o600"

    target = tmp_path / "elsewhere" / "data"
    code, out, _err = cli(capsys, "extract", str(archive), "--data-dir", str(target))
    assert code == 0, _err
    assert out.strip().endswith(f"world digest {built.final}")
    assert await recovered_digest(target) == built.final
    assert not list(target.parent.glob(".data.extract-*"))  # the temporary folder is gone


def manifest_segments(manifest: dict[str, object]) -> list[str]:
    journal = manifest["journal"]
    assert isinstance(journal, list)
    return [entry["name"] for entry in journal]


def read_members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def write_tar(path: Path, files: dict[str, bytes], extra: list[tarfile.TarInfo]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for info in extra:
            tar.addfile(info)
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))


def resign(files: dict[str, bytes]) -> None:
    """Make the manifest's sizes and hashes match the (changed) files again."""
    manifest = json.loads(files["manifest.json"])
    for entry in [manifest["checkpoint"], *manifest["journal"]]:
        entry["size"] = len(files[entry["name"]])
        entry["sha256"] = hashlib.sha256(files[entry["name"]]).hexdigest()
    files["manifest.json"] = json.dumps(manifest).encode()


@pytest.fixture
async def good_archive(built: Built, tmp_path: Path) -> Path:
    archive = tmp_path / "good.tar.gz"
    assert (
        main(["checkpoint", "archive", "latest", str(archive), "--data-dir", str(built.data)]) == 0
    )
    return archive


def bad_info(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("dotdot", "member '../evil' climbs out with '..'"),
        ("absolute", "has an absolute path"),
        ("symlink", "member 'ckpt-00000009.mck' is a symbolic link, not a file"),
        ("hardlink", "is a hard link, not a file"),
        ("device", "is a device or pipe, not a file"),
        ("subdir", "is a path, not a plain file name"),
        ("stranger", "is not a checkpoint, a journal segment or manifest.json"),
        ("unlisted", "member '0000000000000099.journal' is not listed in manifest.json"),
        ("no manifest", "no manifest.json (not a moo checkpoint archive)"),
        ("bad json", "manifest.json is not valid JSON"),
        ("newer", "archive version 2 is newer than this server reads (1)"),
        ("sha mismatch", "ckpt-00000003.mck does not match its SHA-256 in manifest.json"),
        ("size mismatch", "bytes, manifest.json says 10"),
        ("corrupt checkpoint", "checkpoint ckpt-00000003.mck does not verify (body checksum"),
        ("journal gap", "a segment is missing"),
    ],
)
async def test_extract_refuses_a_bad_archive_before_touching_the_data_dir(
    good_archive: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: str,
    message: str,
) -> None:
    files = read_members(good_archive)
    ckpt_name = "ckpt-00000003.mck"
    extra: list[tarfile.TarInfo] = []
    if make == "dotdot":
        files["../evil"] = b"gotcha"
    elif make == "absolute":
        files[str(tmp_path / "abs-evil")] = b"gotcha"
    elif make == "symlink":
        extra.append(bad_info("ckpt-00000009.mck", tarfile.SYMTYPE, "/etc/passwd"))
    elif make == "hardlink":
        extra.append(bad_info("0000000000000099.journal", tarfile.LNKTYPE, "/etc/passwd"))
    elif make == "device":
        extra.append(bad_info("0000000000000099.journal", tarfile.CHRTYPE))
    elif make == "subdir":
        files["checkpoints/" + ckpt_name] = files[ckpt_name]
    elif make == "stranger":
        files["notes.txt"] = b"hello"
    elif make == "unlisted":
        files["0000000000000099.journal"] = b""
    elif make == "no manifest":
        del files["manifest.json"]
    elif make == "bad json":
        files["manifest.json"] = b"{not json"
    elif make == "newer":
        manifest = json.loads(files["manifest.json"])
        manifest["version"] = 2
        files["manifest.json"] = json.dumps(manifest).encode()
    elif make == "sha mismatch":
        manifest = json.loads(files["manifest.json"])
        manifest["checkpoint"]["sha256"] = "0" * 64
        files["manifest.json"] = json.dumps(manifest).encode()
    elif make == "size mismatch":
        manifest = json.loads(files["manifest.json"])
        manifest["checkpoint"]["size"] = 10
        files["manifest.json"] = json.dumps(manifest).encode()
    elif make == "corrupt checkpoint":
        body = bytearray(files[ckpt_name])
        body[-1] ^= 0xFF
        files[ckpt_name] = bytes(body)
        resign(files)
    elif make == "journal gap":
        # Checkpoint 1 (journal position 1) with only segment 4: lsn 2 and 3 are missing.
        del files[ckpt_name]
        first = tmp_path / "data" / "checkpoints" / "ckpt-00000001.mck"
        files[first.name] = first.read_bytes()
        header = read_header(first)
        manifest = json.loads(files["manifest.json"])
        manifest["checkpoint"].update(
            name=first.name,
            digest=header.digest,
            object_count=header.object_count,
            journal_position=header.journal_position,
        )
        files["manifest.json"] = json.dumps(manifest).encode()
        resign(files)
    bad = tmp_path / "bad.tar.gz"
    write_tar(bad, files, extra)
    target = tmp_path / "target"
    code, _out, err = cli(capsys, "extract", str(bad), "--data-dir", str(target))
    assert code == 1
    assert err.startswith("moo checkpoint: ") and message in err, err
    assert not (tmp_path / "evil").exists() and not (tmp_path / "abs-evil").exists()
    assert not (target / "checkpoints").exists() and not (target / "journal").exists()
    assert not list(tmp_path.glob(".target.extract-*"))


async def test_extract_refuses_an_existing_world_unless_forced(
    built: Built, good_archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = cli(capsys, "extract", str(good_archive), "--data-dir", str(built.data))
    assert code == 1 and "already holds a world; use --force" in err

    held = lock.acquire(built.data)
    try:
        code, _out, err = cli(
            capsys, "extract", str(good_archive), "--force", "--data-dir", str(built.data)
        )
        assert code == 1 and "a server is running on" in err
    finally:
        os.close(held)

    before = sorted(p.name for p in (built.data / "checkpoints").iterdir())
    code, out, _err = cli(
        capsys, "extract", str(good_archive), "--force", "--data-dir", str(built.data)
    )
    assert code == 0
    [replaced] = tmp_path.glob("data.replaced-*")
    assert f"is now in {replaced}" in out
    assert sorted(p.name for p in (replaced / "checkpoints").iterdir()) == before
    assert (replaced / "journal").is_dir() and (replaced / "moo.sqlite").is_file()
    assert [p.name for p in (built.data / "checkpoints").iterdir()] == ["ckpt-00000003.mck"]
    assert await recovered_digest(built.data) == built.final


# -- restore -----------------------------------------------------------------------------------


async def test_restore_refuses_while_a_server_holds_the_lock(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    held = lock.acquire(built.data)
    try:
        code, _out, err = cli(capsys, "restore", "1", "--data-dir", str(built.data))
    finally:
        os.close(held)
    assert code == 1
    assert err.startswith(f"moo checkpoint: a server is running on {built.data}; stop it first")
    assert ckpt(built.data, 3).exists() and not list(built.data.glob("restored-aside-*"))


async def test_restore_goes_back_to_that_checkpoint_and_sets_the_rest_aside(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _err = cli(capsys, "restore", "2", "--data-dir", str(built.data))
    assert code == 0 and out.startswith("restored checkpoint 2: moved 1 newer checkpoint(s)")
    [aside] = built.data.glob("restored-aside-*")
    assert [p.name for p in (aside / "checkpoints").iterdir()] == ["ckpt-00000003.mck"]
    assert sorted(p.name for p in (aside / "journal").iterdir()) == [
        "0000000000000003.journal",
        "0000000000000004.journal",
    ]
    assert await recovered_digest(built.data) == built.digests[2]
    await continues_without_a_gap(built.data)


async def continues_without_a_gap(data: Path) -> None:
    """A server started after a restore journals on from it, and that journal replays."""
    store = Store.open(data, Persist(), World)
    store.world.create(NOTHING, NOTHING, "after the restore")
    expected = store.world.digest()
    await store.close(final_reason=None)
    assert await recovered_digest(data) == expected


async def test_restore_cuts_a_segment_that_holds_frames_from_both_sides(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = built.data / "journal"
    second, third = journal / "0000000000000002.journal", journal / "0000000000000003.journal"
    joined = second.read_bytes() + third.read_bytes()
    second.write_bytes(joined)
    third.unlink()
    code, out, _err = cli(capsys, "restore", "2", "--data-dir", str(built.data))
    assert code == 0 and "a copy of 0000000000000002.journal" in out
    [aside] = built.data.glob("restored-aside-*")
    assert (aside / "journal" / second.name).read_bytes() == joined
    assert 0 < second.stat().st_size < len(joined)
    assert await recovered_digest(built.data) == built.digests[2]
    await continues_without_a_gap(built.data)


async def test_restore_of_the_newest_with_nothing_after_it_moves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    store = Store.open(data, Persist(), World)
    store.world.create(NOTHING, NOTHING, "only")
    await store.checkpoint("manual", "Wizard")
    await store.close(final_reason=None)
    code, out, _err = cli(capsys, "restore", "latest", "--data-dir", str(data))
    assert code == 0 and "already the newest" in out
    assert not list(data.glob("restored-aside-*"))


def test_a_missing_argument_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["checkpoint", "show"])
    assert exit_info.value.code == 2
    assert "the following arguments are required: ID" in capsys.readouterr().err

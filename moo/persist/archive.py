"""Checkpoint archives: one checkpoint and the journal after it, as a tar.gz that moves a world.

Layout (``FORMAT`` version 1): regular files with plain names, no folders:

    ckpt-NNNNNNNN.mck   the checkpoint, byte for byte
    <lsn>.journal       the journal segments that may hold frames after its position
    manifest.json       written last: format, version, the checkpoint's name, size,
                        SHA-256, world digest, object count and journal position, and
                        each segment's name, size and SHA-256

``archive`` verifies the checkpoint first, then writes a temp file (mode 0600: a world
holds password hashes), fsyncs it, renames it over the destination and fsyncs the folder.
A segment the server is still appending to is copied up to its size when opened (the
journal only appends; a frame cut there is a torn tail that recovery trims).

``extract`` validates everything before it touches the data directory:

1. a server holding the target's lock, or a world already there (anything in
   ``checkpoints/`` or ``journal/``) without ``force``, refuses at once;
2. every member is a regular file (``isfile()``: no links, devices, folders) whose
   name is one of the three kinds above: no absolute path, no ``/``, no ``..``; none
   twice; at most ``MAX_MEMBERS``;
3. ``manifest.json`` is there, well formed, of a version this server reads, and lists
   exactly the other members with their sizes;
4. the members are extracted (``tarfile``'s ``filter="data"`` as a second guard) into a
   temporary folder beside the target, and their SHA-256 must match the manifest;
5. the checkpoint verifies and its header matches the manifest; the journal after its
   position has no gap and no damage;
6. a dry-run recovery in the temporary folder (load and replay, as ``moo serve``
   would) must succeed; its world digest is reported;
7. under the target's lock: with ``force``, the existing ``checkpoints/``, ``journal/``
   and ``moo.sqlite`` (its rows describe the replaced files) are moved to
   ``<dir>.replaced-<local time>/`` beside it, never deleted; then the two folders are
   renamed into place (two renames on one file system).

Not carried: the records database, ``wizard-password.txt`` and the SSH host key (a
machine's own key; the new machine makes one).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from moo import __version__
from moo.errors import CheckpointError
from moo.files import fsync_directory
from moo.persist import journal_format as jf
from moo.persist import lock, snapshot
from moo.persist.manage import (
    DataDir,
    Ident,
    find,
    journal_after,
    make_aside_dir,
    reason_of,
)
from moo.persist.records import RECORDS_FILES
from moo.persist.recovery import recover
from moo.persist.snapshot import SnapshotHeader
from moo.world.world import World

FORMAT = "moo-checkpoint-archive"
VERSION = 1
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 1 << 20
MAX_MEMBERS = 10_000
_MANIFEST_NAME = re.compile(re.escape(MANIFEST))
_CHECKPOINT_NAME = re.compile(r"ckpt-\d{8,20}\.mck")
_SEGMENT_NAME = re.compile(r"\d{16,20}\.journal")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_READ_ERRORS = (OSError, EOFError, tarfile.TarError, zlib.error)


@dataclass(frozen=True)
class Archived:
    generation: int
    path: Path
    header: SnapshotHeader
    segments: list[str]
    bytes: int


@dataclass(frozen=True)
class Extracted:
    generation: int
    header: SnapshotHeader
    segments: list[str]
    replayed: int  # journal frames applied by the dry-run recovery
    digest: str  # the world digest after that recovery: what ``moo serve`` will have
    replaced: Path | None  # where an existing world was moved
    notes: list[str]


@dataclass(frozen=True)
class _File:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class _Manifest:
    checkpoint: _File
    digest: str
    object_count: int
    journal_position: int
    journal: list[_File]


class _HashingReader:
    """Reads at most ``limit`` bytes of a file, hashing them (the size is fixed at open)."""

    def __init__(self, f: BinaryIO, limit: int) -> None:
        self._f = f
        self._left = limit
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        chunk = self._f.read(size)
        self._left -= len(chunk)
        self.sha256.update(chunk)
        return chunk


def _add(tar: tarfile.TarFile, path: Path) -> _File:
    with path.open("rb") as f:
        stat = os.fstat(f.fileno())
        info = tarfile.TarInfo(path.name)
        info.size, info.mtime, info.mode = stat.st_size, int(stat.st_mtime), 0o600
        reader = _HashingReader(f, stat.st_size)
        tar.addfile(info, cast(IO[bytes], reader))
    return _File(path.name, stat.st_size, reader.sha256.hexdigest())


def archive(data: DataDir, ident: Ident, dest: Path) -> Archived:
    """Write one verified checkpoint and the journal after it to ``dest`` (a tar.gz).

    Returns what was written. Raises CheckpointError if the checkpoint does not verify
    or a file cannot be read or written. Atomic: temp file, fsync, rename over ``dest``,
    fsync of its folder; on failure the temp file is removed and ``dest`` is untouched.
    """
    generation, path = find(data, ident)
    try:
        header = snapshot.verify(path)
    except CheckpointError as error:
        raise CheckpointError(
            f"checkpoint {generation} does not verify ({reason_of(error, path)}); not archived"
        ) from None
    segments = [p for _first, p in jf.segments_after(data.journal, header.journal_position)]
    temp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as f:
            with tarfile.open(fileobj=f, mode="w:gz") as tar:
                checkpoint = _add(tar, path)
                journal = [_add(tar, p) for p in segments]
                manifest = _manifest_bytes(header, checkpoint, journal)
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(manifest), int(time.time()), 0o600
                tar.addfile(info, cast(IO[bytes], _BytesReader(manifest)))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, dest)
        fsync_directory(dest.absolute().parent)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise CheckpointError(f"cannot write {dest}: {error.strerror or error}") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return Archived(generation, dest, header, [s.name for s in journal], dest.stat().st_size)


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)

    def read(self, size: int = -1) -> bytes:
        size = len(self._data) if size < 0 else size
        chunk, self._data = self._data[:size], self._data[size:]
        return bytes(chunk)


def _manifest_bytes(header: SnapshotHeader, checkpoint: _File, journal: list[_File]) -> bytes:
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "archived": time.time(),
        "server_version": __version__,
        "checkpoint": {
            "name": checkpoint.name,
            "size": checkpoint.size,
            "sha256": checkpoint.sha256,
            "digest": header.digest,
            "object_count": header.object_count,
            "journal_position": header.journal_position,
            "created": header.created,
        },
        "journal": [{"name": s.name, "size": s.size, "sha256": s.sha256} for s in journal],
    }
    return json.dumps(manifest, indent=2).encode() + b"\n"


# -- extract ---------------------------------------------------------------------------------


def extract(
    source: Path, data: DataDir, *, force: bool = False, now: float | None = None
) -> Extracted:
    """Validate an archive completely, then make it the world in ``data``.

    Returns what was extracted. Raises CheckpointError, naming what is wrong, before
    anything in the data directory changes (the temporary folder is always removed);
    MooError if a server takes the lock meanwhile. Moving into place is two renames
    (plus, with ``force``, the moves aside), each atomic, not the whole.
    """
    target = data.root
    _refuse_target(target, force)
    with _open_archive(source) as tar:
        try:
            members = _checked_members(tar, source)
            manifest = _read_manifest(tar, members, source)
        except _READ_ERRORS as error:
            raise CheckpointError(f"{source}: cannot read the archive ({error})") from None
        parent = target.absolute().parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.extract-", dir=parent))
        except OSError as error:
            raise CheckpointError(f"cannot make a folder in {parent}: {error.strerror}") from None
        try:
            header, replayed, digest, notes = _unpack(tar, members, manifest, staging, source)
            replaced = _move_into_place(staging, target, force, time.time() if now is None else now)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    generation = int(manifest.checkpoint.name[5:-4])
    segments = [s.name for s in manifest.journal]
    return Extracted(generation, header, segments, replayed, digest, replaced, notes)


def _open_archive(source: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(source, "r:gz")
    except _READ_ERRORS as error:
        raise CheckpointError(f"{source}: not a readable tar.gz archive ({error})") from None


def _has_world(target: Path) -> bool:
    for name in ("checkpoints", "journal"):
        folder = target / name
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            return True
    return False


def _refuse_target(target: Path, force: bool) -> None:
    if lock.is_held(target):
        raise CheckpointError(f"a server is running on {target}; stop it before extracting")
    if _has_world(target) and not force:
        raise CheckpointError(
            f"{target} already holds a world; use --force to move its checkpoints/, journal/ "
            f"and records aside to {target.name}.replaced-<time>/ and extract there"
        )


def _checked_members(tar: tarfile.TarFile, source: Path) -> dict[str, tarfile.TarInfo]:
    """Every member, by name, after the safety checks (reads the whole archive)."""
    found: dict[str, tarfile.TarInfo] = {}
    for member in tar:
        name = member.name
        if len(found) >= MAX_MEMBERS:
            raise CheckpointError(f"{source}: more than {MAX_MEMBERS} members")
        if name.startswith("/") or re.match(r"[A-Za-z]:", name):
            raise CheckpointError(f"{source}: member {name!r} has an absolute path")
        if ".." in re.split(r"[/\\]", name):
            raise CheckpointError(f"{source}: member {name!r} climbs out with '..'")
        if "/" in name or "\\" in name:
            raise CheckpointError(f"{source}: member {name!r} is a path, not a plain file name")
        if not member.isfile():
            raise CheckpointError(f"{source}: member {name!r} is a {_kind(member)}, not a file")
        if not any(p.fullmatch(name) for p in (_MANIFEST_NAME, _CHECKPOINT_NAME, _SEGMENT_NAME)):
            raise CheckpointError(
                f"{source}: member {name!r} is not a checkpoint, a journal segment or {MANIFEST}"
            )
        if name in found:
            raise CheckpointError(f"{source}: member {name!r} appears twice")
        found[name] = member
    return found


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return "symbolic link"
    if member.islnk():
        return "hard link"
    if member.isdir():
        return "folder"
    if member.isdev():
        return "device or pipe"
    return "special member"


def _read_manifest(
    tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], source: Path
) -> _Manifest:
    info = members.get(MANIFEST)
    if info is None:
        raise CheckpointError(f"{source}: no {MANIFEST} (not a moo checkpoint archive)")
    if info.size > MAX_MANIFEST_BYTES:
        raise CheckpointError(f"{source}: {MANIFEST} is too large ({info.size} bytes)")
    f = tar.extractfile(info)
    assert f is not None  # a regular file (checked)
    try:
        raw = json.loads(f.read())
    except ValueError as error:
        raise CheckpointError(f"{source}: {MANIFEST} is not valid JSON ({error})") from None
    where = f"{source}: {MANIFEST}"
    top = _mapping(raw, where)
    if top.get("format") != FORMAT:
        raise CheckpointError(f"{where}: format is {top.get('format')!r}, not {FORMAT!r}")
    version = _number(top, "version", where)
    if version > VERSION:
        raise CheckpointError(
            f"{where}: archive version {version} is newer than this server reads ({VERSION})"
        )
    ckpt = _mapping(top.get("checkpoint"), f"{where}: checkpoint")
    checkpoint = _file(ckpt, f"{where}: checkpoint", _CHECKPOINT_NAME)
    digest = ckpt.get("digest")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise CheckpointError(f"{where}: checkpoint.digest is not a SHA-256 in hex")
    journal_list = top.get("journal")
    if not isinstance(journal_list, list):
        raise CheckpointError(f"{where}: journal is not a list")
    journal = [
        _file(_mapping(item, f"{where}: journal[{i}]"), f"{where}: journal[{i}]", _SEGMENT_NAME)
        for i, item in enumerate(journal_list)
    ]
    manifest = _Manifest(
        checkpoint,
        digest,
        _number(ckpt, "object_count", f"{where}: checkpoint"),
        _number(ckpt, "journal_position", f"{where}: checkpoint"),
        journal,
    )
    listed = {f.name: f for f in [checkpoint, *journal]}
    if len(listed) != 1 + len(journal):
        raise CheckpointError(f"{where}: lists a file twice")
    for name in members:
        if name != MANIFEST and name not in listed:
            raise CheckpointError(f"{source}: member {name!r} is not listed in {MANIFEST}")
    for name, entry in listed.items():
        if name not in members:
            raise CheckpointError(f"{source}: {MANIFEST} lists {name!r}, the archive lacks it")
        if members[name].size != entry.size:
            raise CheckpointError(
                f"{source}: {name} holds {members[name].size} bytes, {MANIFEST} says {entry.size}"
            )
    return manifest


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CheckpointError(f"{where}: expected a JSON object")
    return value


def _number(mapping: dict[str, Any], key: str, where: str) -> int:
    value = mapping.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CheckpointError(f"{where}: {key} is {value!r}, not a whole number >= 0")
    return value


def _file(mapping: dict[str, Any], where: str, pattern: re.Pattern[str]) -> _File:
    name, sha = mapping.get("name"), mapping.get("sha256")
    if not isinstance(name, str) or not pattern.fullmatch(name):
        raise CheckpointError(f"{where}: name {name!r} is not a valid file name here")
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise CheckpointError(f"{where}: sha256 of {name} is not a SHA-256 in hex")
    return _File(name, _number(mapping, "size", where), sha)


def _sha256_and_sync(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
        os.fsync(f.fileno())
    return digest.hexdigest()


def _unpack(
    tar: tarfile.TarFile,
    members: dict[str, tarfile.TarInfo],
    manifest: _Manifest,
    staging: Path,
    source: Path,
) -> tuple[SnapshotHeader, int, str, list[str]]:
    """Extract to ``staging``, check hashes, verify, dry-run recover. Raises CheckpointError."""
    checkpoints, journal = staging / "checkpoints", staging / "journal"
    checkpoints.mkdir(mode=0o700)
    journal.mkdir(mode=0o700)
    for entry in [manifest.checkpoint, *manifest.journal]:
        folder = checkpoints if entry is manifest.checkpoint else journal
        try:
            tar.extract(members[entry.name], folder, filter="data")
            path = folder / entry.name
            os.chmod(path, 0o600)
            sha = _sha256_and_sync(path)
        except _READ_ERRORS as error:
            raise CheckpointError(f"{source}: cannot extract {entry.name} ({error})") from None
        if sha != entry.sha256:
            raise CheckpointError(
                f"{source}: {entry.name} does not match its SHA-256 in {MANIFEST} (damaged)"
            )
    path = checkpoints / manifest.checkpoint.name
    try:
        header = snapshot.verify(path)
    except CheckpointError as error:
        raise CheckpointError(
            f"{source}: checkpoint {path.name} does not verify ({reason_of(error, path)})"
        ) from None
    expected = (manifest.digest, manifest.object_count, manifest.journal_position)
    if (header.digest, header.object_count, header.journal_position) != expected:
        raise CheckpointError(f"{source}: checkpoint {path.name} does not match {MANIFEST}")
    coverage = journal_after(journal, header.journal_position)
    if coverage.problem is not None:
        raise CheckpointError(f"{source}: the journal after the checkpoint: {coverage.problem}")
    try:
        recovered = recover(checkpoints, journal, _no_fresh_world)
    except CheckpointError as error:
        raise CheckpointError(f"{source}: a trial recovery failed: {error}") from None
    except Exception as error:  # a record that does not apply: the world raises anything
        raise CheckpointError(
            f"{source}: a journal record does not apply ({type(error).__name__}: {error})"
        ) from None
    if recovered.checkpoint != path:
        raise CheckpointError(f"{source}: a trial recovery did not use {path.name}")
    for folder in (checkpoints, journal, staging):
        fsync_directory(folder)
    return header, recovered.replayed, recovered.world.digest(), recovered.notes


def _no_fresh_world() -> World:
    raise CheckpointError("the archive's checkpoint did not load")


def _move_into_place(staging: Path, target: Path, force: bool, now: float) -> Path | None:
    try:
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        raise CheckpointError(f"cannot make {target}: {error.strerror}") from None
    held = lock.acquire(target)
    try:
        if _has_world(target) and not force:
            raise CheckpointError(f"{target} gained a world meanwhile; nothing was changed")
        replaced = None
        if _has_world(target):
            replaced = make_aside_dir(target.parent, f"{target.name}.replaced-", now)
            for name in ("checkpoints", "journal", *RECORDS_FILES):
                if (target / name).exists():
                    (target / name).rename(replaced / name)
            fsync_directory(replaced)
        for name in ("checkpoints", "journal"):
            if (target / name).is_dir():
                (target / name).rmdir()  # empty: _has_world said so
            (staging / name).rename(target / name)
        fsync_directory(target)
        return replaced
    except OSError as error:
        raise CheckpointError(
            f"extract stopped while moving into {target}: {error.strerror or error}"
        ) from None
    finally:
        os.close(held)

"""Checkpoint archives: one checkpoint and the journal after it, as a tar.gz that moves a world.

The layout and the manifest (``FORMAT`` version 1) are ``archive_format.py``'s.

``archive`` verifies the checkpoint first, then writes a temp file (mode 0600: a world
holds password hashes), fsyncs it, renames it over the destination and fsyncs the folder.
A segment the server is still appending to is copied up to its size when opened (the
journal only appends; a frame cut there is a torn tail that recovery trims).

``extract`` validates everything before it touches the data directory:

1. a server holding the target's lock, or a world already there (anything in
   ``checkpoints/`` or ``journal/``) without ``force``, refuses at once;
2. the archive's listing is checked (``archive_format.py``): only regular files with
   the three kinds of name it allows, and a ``manifest.json`` of a version we read that
   lists exactly them, with their sizes;
3. the members are extracted (``tarfile``'s ``filter="data"`` as a second guard) into a
   temporary folder beside the target, and their SHA-256 must match the manifest;
4. the checkpoint verifies and its header matches the manifest; the journal after its
   position has no gap and no damage;
5. a dry-run recovery in the temporary folder (load and replay, as ``moo serve``
   would) must succeed; its world digest is reported;
6. under the target's lock: with ``force``, the existing ``checkpoints/``, ``journal/``
   and ``moo.sqlite`` (its rows describe the replaced files) are moved to
   ``<dir>.replaced-<local time>/`` beside it, never deleted; then the two folders are
   renamed into place (two renames on one file system).

Not carried: the records database, ``wizard-password.txt`` and the SSH host key (a
machine's own key; the new machine makes one).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, cast

from moo.errors import CheckpointError
from moo.files import fsync_directory
from moo.persist import journal_format as jf
from moo.persist import lock, snapshot
from moo.persist.archive_format import (
    MANIFEST,
    ArchivedFile,
    Manifest,
    checked_members,
    manifest_bytes,
    read_manifest,
)
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


def _add(tar: tarfile.TarFile, path: Path) -> ArchivedFile:
    with path.open("rb") as f:
        stat = os.fstat(f.fileno())
        info = tarfile.TarInfo(path.name)
        info.size, info.mtime, info.mode = stat.st_size, int(stat.st_mtime), 0o600
        reader = _HashingReader(f, stat.st_size)
        tar.addfile(info, cast(IO[bytes], reader))
    return ArchivedFile(path.name, stat.st_size, reader.sha256.hexdigest())


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
                manifest = manifest_bytes(header, checkpoint, journal)
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
            members = checked_members(tar, source)
            manifest = read_manifest(tar, members, source)
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
    manifest: Manifest,
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

"""A checkpoint archive's layout: its member names and its manifest, written and checked.

``archive.py`` writes and extracts the tar.gz; this module says what one may hold.

Layout (``FORMAT`` version 1): regular files with plain names, no folders:

    ckpt-NNNNNNNN.mck   the checkpoint, byte for byte
    <lsn>.journal       the journal segments that may hold frames after its position
    manifest.json       written last: format, version, the checkpoint's name, size,
                        SHA-256, world digest, object count and journal position, and
                        each segment's name, size and SHA-256

``manifest_bytes`` writes the manifest. Before extracting anything, ``extract`` checks
the archive's listing here (raising ``CheckpointError`` that names the archive and the
member):

1. every member is a regular file (``isfile()``: no links, devices, folders) whose
   name is one of the three kinds above: no absolute path, no ``/``, no ``..``; none
   twice; at most ``MAX_MEMBERS``;
2. ``manifest.json`` is there, well formed, of a version this server reads, and lists
   exactly the other members with their sizes;
"""

from __future__ import annotations

import json
import re
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moo import __version__
from moo.errors import CheckpointError
from moo.persist.snapshot import SnapshotHeader

FORMAT = "moo-checkpoint-archive"
VERSION = 1
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 1 << 20
MAX_MEMBERS = 10_000
_MANIFEST_NAME = re.compile(re.escape(MANIFEST))
_CHECKPOINT_NAME = re.compile(r"ckpt-\d{8,20}\.mck")
_SEGMENT_NAME = re.compile(r"\d{16,20}\.journal")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ArchivedFile:
    """One member as the manifest lists it."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """``manifest.json`` as ``read_manifest`` found it (checked)."""

    checkpoint: ArchivedFile
    digest: str
    object_count: int
    journal_position: int
    journal: list[ArchivedFile]


def manifest_bytes(
    header: SnapshotHeader, checkpoint: ArchivedFile, journal: list[ArchivedFile]
) -> bytes:
    """``manifest.json``'s bytes for this checkpoint and these segments. Never raises."""
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


def checked_members(tar: tarfile.TarFile, source: Path) -> dict[str, tarfile.TarInfo]:
    """Every member, by name, after the safety checks (reads the whole archive).

    Raises CheckpointError naming the first member that fails them."""
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


def read_manifest(
    tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], source: Path
) -> Manifest:
    """The manifest, checked against ``members`` (names and sizes; not yet the SHA-256s,
    which need the bytes). Raises CheckpointError naming what is wrong; the tar's own read
    errors pass through."""
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
    manifest = Manifest(
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


def _file(mapping: dict[str, Any], where: str, pattern: re.Pattern[str]) -> ArchivedFile:
    name, sha = mapping.get("name"), mapping.get("sha256")
    if not isinstance(name, str) or not pattern.fullmatch(name):
        raise CheckpointError(f"{where}: name {name!r} is not a valid file name here")
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise CheckpointError(f"{where}: sha256 of {name} is not a SHA-256 in hex")
    return ArchivedFile(name, _number(mapping, "size", where), sha)

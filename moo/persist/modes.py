"""Owner-only data directories: the directory and its folders 0700, every file 0600.

Checkpoints, the journal and the records hold password hashes, so nobody but the server's
user may read them, whatever the umask and whoever made the directory (``moo serve``, or
a bench or a script that opens a ``Store`` itself). Files are created 0600 where they
are made (``os.open(..., 0o600)``); ``tighten`` fixes what already exists when a store
opens: a directory made wider by hand, or files an older version wrote under a 022 umask.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def create_private(path: Path) -> None:
    """Make ``path`` an empty 0600 file unless it exists (then leave it). Raises OSError."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, FILE_MODE))


def tighten(data_dir: Path) -> int:
    """Take group and other bits off ``data_dir`` and everything in it (symlinks are not
    followed). Returns how many entries changed. Logs a warning when ``data_dir`` itself
    was wider than 0700, and one line for the rest. Never raises: what cannot be changed
    (another user's directory, an entry that vanished) is logged and left as it is."""
    try:
        before = stat.S_IMODE(data_dir.stat().st_mode)
        if before & 0o077:
            os.chmod(data_dir, DIR_MODE)
            log.warning(
                "data directory %s was mode %04o, open to other users; made it %04o",
                data_dir,
                before,
                DIR_MODE,
            )
    except OSError as error:
        log.warning("cannot make %s owner-only: %s", data_dir, error.strerror or error)
        return 0
    changed = 0
    for root, dirs, files in os.walk(data_dir):
        for name in dirs + files:
            path = os.path.join(root, name)
            try:
                info = os.lstat(path)
                if stat.S_ISLNK(info.st_mode) or not info.st_mode & 0o077:
                    continue
                mode = stat.S_IMODE(info.st_mode) & 0o700
                os.chmod(path, mode | DIR_MODE if stat.S_ISDIR(info.st_mode) else mode)
                changed += 1
            except OSError as error:
                log.warning("cannot make %s owner-only: %s", path, error.strerror or error)
    if changed:
        log.warning("made %d file(s) and folder(s) in %s owner-only", changed, data_dir)
    return changed + bool(before & 0o077)

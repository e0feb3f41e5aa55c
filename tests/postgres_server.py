"""A real PostgreSQL server for the tests: started from the machine's own binaries, on a
Unix socket in a temporary directory, and stopped at the end of the run.

Hand-written rather than pytest-postgresql: its ``postgresql_proc`` runs ``initdb`` and
``pg_ctl`` as the current user, and PostgreSQL refuses to run as root, which is who CI is.
As root, this runs them as the ``postgres`` user (``runuser``); as anyone else, directly.
When no PostgreSQL binaries are on the machine, ``start`` raises and the run fails with that
message: a missing database server is a failure to fix (install Debian's postgresql), never
a skip.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from itertools import count
from pathlib import Path

SEARCH = ["/usr/lib/postgresql/*/bin", "/usr/local/bin", "/usr/bin"]


def find_binary(name: str) -> str:
    for pattern in SEARCH:
        for directory in sorted(Path("/").glob(pattern.lstrip("/")), reverse=True):
            candidate = directory / name
            if candidate.exists():
                return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(
            f"PostgreSQL's {name} is not on this machine: apt-get install postgresql"
        )
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    root: Path
    port: int
    user: str
    _names: count[int]

    @classmethod
    def start(cls) -> PostgresServer:
        root = Path(tempfile.mkdtemp(prefix="moo-pg-"))
        as_root = os.geteuid() == 0
        owner = "postgres" if as_root else pwd.getpwuid(os.geteuid()).pw_name
        if as_root:
            entry = pwd.getpwnam(owner)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        server = cls(root, free_port(), owner, count(1))
        server._run(find_binary("initdb"), "-D", str(root / "db"), "-A", "trust", "-U", owner)
        server._run(
            find_binary("pg_ctl"),
            "-D", str(root / "db"),
            "-l", str(root / "server.log"),
            "-o", f"-k {root} -p {server.port} -c listen_addresses='' -c fsync=off",
            "-w", "start",
        )  # fmt: skip
        return server

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *argv], capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:2])} failed: {done.stderr.strip()[-500:]}")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@/{database}?host={self.root}&port={self.port}"

    def new_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        name = f"moo_test_{next(self._names)}"
        self._run(find_binary("createdb"), "-h", str(self.root), "-p", str(self.port), name)
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(find_binary("pg_ctl"), "-D", str(self.root / "db"), "-m", "fast", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

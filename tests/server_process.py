"""Start the real server (``python -m moo serve``) on port 0 in a subprocess, for tests and benches.

What ``moo serve`` starts by default: a front process (the child here) that holds the
connections and starts the engine behind it (``run/engine.pid``). With
``--single-process`` in ``flags``, the one process of the classic server.

The server prints ``telnet listening on HOST:PORT`` and ``ssh listening on
HOST:PORT``; ``ServerProcess.start`` waits for those lines and exposes the ports. With
``listen`` naming more listeners (``{"telnet-tls": "127.0.0.1:0", "metrics": ...}``),
it passes ``--NAME ADDRESS`` and waits for their lines too (``ports[NAME]``); with
``web=True`` it waits for ``web listening on HOST:PORT`` too.
"""

from __future__ import annotations

import contextlib
import os
import queue
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from moo.net.gate_process import process_alive

WIZARD_PASSWORD = "wizard-test-pw"

# Cheap argon2 settings so tests that create many players stay fast; production uses the defaults.
FAST_CONFIG: dict[str, object] = {
    "password_hash": {"time_cost": 1, "memory_cost_kib": 1024, "parallelism": 1},
    "log_level": "INFO",
}


def stop_pid(pid: int, timeout: float) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while process_alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline += 5
        time.sleep(0.02)


STARTED: list[ServerProcess] = []  # every server started, so a test run can stop leftovers


def stop_leftovers() -> int:
    """Stop every server still running (a test that failed before its own cleanup)."""
    stopped = 0
    for server in STARTED:
        if server.running:
            server.stop()
            stopped += 1
    STARTED.clear()
    return stopped


@dataclass
class ServerProcess:
    data_dir: Path
    extra_config: Mapping[str, object] = field(default_factory=dict)  # read, never changed
    ssh: bool = True
    web: bool = False  # the web client on port 0 too
    wizard_password: str = WIZARD_PASSWORD
    env: dict[str, str] = field(default_factory=dict)
    flags: tuple[str, ...] = ()  # more ``moo serve`` flags, e.g. ("--force-recover",)
    file_size_limit: int | None = None  # RLIMIT_FSIZE: writes past it fail as on a full disk
    # The hard limit (default: the same): above the soft one, a test can give the space back
    # with resource.prlimit(pid, RLIMIT_FSIZE, ...).
    file_size_hard_limit: int | None = None
    listen: dict[str, str] = field(default_factory=dict)  # more listeners: name -> address
    # ``front``: ``moo front`` without an engine (the test starts engines; the wizard's
    # password is theirs to set); it prints its player listeners once one attaches.
    command: str = "serve"
    ports: dict[str, int] = field(default_factory=dict)  # every listener's bound port
    process: subprocess.Popen[str] | None = None
    telnet_port: int = 0
    ssh_port: int = 0
    web_port: int = 0
    output: list[str] = field(default_factory=list)
    stderr_lines: list[str] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lines: queue.Queue[str | None] = field(default_factory=queue.Queue)  # stdout, for start

    def start(self, timeout: float = 60.0, *, wait: set[str] | None = None) -> ServerProcess:
        """Start and wait for the listeners' lines (``wait``: only these names' lines).
        ``timeout`` is generous: on a loaded 2-core machine a front, its engine and the
        spare engine each start a Python; it only costs time when the server never starts."""
        STARTED.append(self)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.data_dir.parent / f"{self.data_dir.name}-config.yaml"
        config = {**FAST_CONFIG, **self.extra_config}
        config_path.write_text(yaml.safe_dump(config))
        args = [
            sys.executable,
            "-m",
            "moo",
            self.command,
            "--config",
            str(config_path),
            "--data-dir",
            str(self.data_dir),
            "--telnet",
            "127.0.0.1:0",
            "--ssh",
            "127.0.0.1:0" if self.ssh else "off",
            *(("--web", "127.0.0.1:0") if self.web else ()),
            *(("--wizard-password", self.wizard_password) if self.command == "serve" else ()),
            *(word for name, address in self.listen.items() for word in (f"--{name}", address)),
            *self.flags,
        ]
        env = {k: v for k, v in os.environ.items() if k != "MOO_WIZARD_PASSWORD"} | self.env
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=self._limit_file_size if self.file_size_limit is not None else None,
        )
        self._spawn_reader(self._drain_stderr)
        self._lines = queue.Queue()  # this process's (a restart must not read the last EOF)
        lines = self._lines
        self._spawn_reader(lambda: self._drain_stdout(lines))
        wanted = {"telnet", *self.listen} | ({"ssh"} if self.ssh else set())
        wanted |= {"web"} if self.web else set()
        self.wait_listening(wanted if wait is None else wait, timeout)
        return self

    def wait_listening(self, names: set[str], timeout: float = 20.0) -> None:
        """Wait for a ``NAME listening on HOST:PORT`` line for each name; keep the ports."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        wanted = set(names)
        while wanted:
            try:  # a reader thread, so a line that never comes ends in the deadline
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise RuntimeError(
                    f"server did not start (no {sorted(wanted)} line); its output:"
                    f" {''.join(self.output[-10:])!r}; its log: {''.join(self.stderr_lines[-30:])}"
                ) from None
            if line is None:
                self.process.wait(5)
                self._close_pipes()
                raise RuntimeError(f"server exited: {''.join(self.stderr_lines[-30:])}")
            for name in list(wanted):
                prefix = f"{name} listening on "
                if line.startswith(prefix):
                    port = int(line.strip().rsplit(":", 1)[1])
                    self.ports[name] = port
                    if name in ("telnet", "ssh", "web"):
                        setattr(self, f"{name}_port", port)
                    wanted.discard(name)

    def _limit_file_size(self) -> None:
        """In the child before exec: writes past the limit fail with EFBIG (no SIGXFSZ)."""
        assert self.file_size_limit is not None
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        limit = self.file_size_limit
        hard = self.file_size_hard_limit if self.file_size_hard_limit is not None else limit
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))

    def _spawn_reader(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _drain_stdout(self, lines: queue.Queue[str | None]) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            lines.put(line)
        lines.put(None)  # EOF

    def _drain_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr_lines.append(line)

    @property
    def single_process(self) -> bool:
        return "--single-process" in self.flags

    @property
    def pid(self) -> int | None:
        """The process that runs the world: the engine (run/engine.pid; after a hot upgrade,
        its replacement), or with ``--single-process`` the server (run/server.pid; after a
        hot upgrade, the replacement)."""
        name = "server.pid" if self.single_process else "engine.pid"
        try:
            return int((self.data_dir / "run" / name).read_text())
        except (OSError, ValueError):
            return self.process.pid if self.process is not None else None

    @property
    def front_pid(self) -> int | None:
        """The front (the child started here), None for a single-process server."""
        return None if self.single_process or self.process is None else self.process.pid

    @property
    def pids(self) -> list[int]:
        """Every process of the server (the front and its engine), for CPU figures."""
        return [pid for pid in (self.front_pid, self.pid) if pid is not None]

    @property
    def running(self) -> bool:
        if self.process is None:
            return False
        pid = self.pid
        if self.single_process and pid is not None and pid != self.process.pid:
            return process_alive(pid)
        return self.process.poll() is None

    def wait_pid_change(self, old: int, timeout: float = 30.0) -> int:
        """Wait until a replacement has taken over from ``old`` (and ``old`` is gone)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.pid
            if pid is not None and pid != old and not process_alive(old):
                return pid
            if self.process is not None and old == self.process.pid:
                self.process.poll()
            time.sleep(0.02)
        raise TimeoutError(f"no replacement took over from pid {old}")

    def kill(self) -> None:
        """SIGKILL every process of the server at once, as a machine crash would: no final
        checkpoint, no journal close, no run record update. The front is stopped first
        (SIGSTOP), so it neither starts another engine nor sees this one go (an engine
        whose front goes away stops cleanly)."""
        assert self.process is not None
        if self.process.poll() is not None:
            return
        engine = None if self.single_process else self.pid
        if engine is not None and engine != self.process.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGSTOP)
                os.kill(engine, signal.SIGKILL)
        self.process.kill()
        self.process.wait(10)
        deadline = time.monotonic() + 10
        while engine is not None and process_alive(engine) and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait for a clean exit (killed if it takes longer than ``timeout``)."""
        if self.process is None:
            return None
        pid = self.pid
        replacement = self.single_process and pid is not None and pid != self.process.pid
        if replacement and pid is not None and process_alive(pid):
            stop_pid(pid, timeout)  # a hot upgrade's replacement: not our child, so watched
        # Behind a front, SIGTERM to the front stops its engine too (its final checkpoint).
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._close_pipes()
        return self.process.returncode

    def _close_pipes(self) -> None:
        assert self.process is not None
        for thread in self._threads:
            thread.join(5)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()

    def wait_exit(self, timeout: float = 15.0) -> int:
        assert self.process is not None
        code = self.process.wait(timeout)
        self._close_pipes()
        return code

"""The real SSH gate process against a fake world server, over loopback.

Each test starts ``python -m moo.net.ssh_gate`` with a TCP listener on
127.0.0.1:0 passed by fd, and a fake world (an asyncio Unix server speaking
gate frames) that accepts alice/pw and answers each line with "echo: <line>".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
import pytest

from moo.net.gate_protocol import FrameDecoder, encode_frame
from moo.net.ssh_gate import GONE_MESSAGE, LOST_MESSAGE, SHUTDOWN_MESSAGE, ensure_host_key
from moo.protocol import gate as wire
from moo.protocol.gate import (
    GATE_PROTOCOL,
    Auth,
    AuthReply,
    Close,
    Control,
    Echo,
    Line,
    Open,
    Out,
    Resize,
)
from tests.waits import until

T = 10.0  # seconds: the ceiling on every await
R = TypeVar("R")


async def within(aw: Awaitable[R], timeout: float = T) -> R:
    return await asyncio.wait_for(aw, timeout)


# --- the fake world ------------------------------------------------------------------


@dataclass
class FakeSession:
    writer: asyncio.StreamWriter
    frames: asyncio.Queue[wire.FromGate] = field(default_factory=asyncio.Queue)
    eof: asyncio.Event = field(default_factory=asyncio.Event)

    async def next_frame(self) -> wire.FromGate:
        return await within(self.frames.get())

    def send(self, msg: wire.ToGate) -> None:
        self.writer.write(encode_frame(msg))


class FakeWorld:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.server: asyncio.Server | None = None
        self.control_pids: list[int] = []
        self.control_writers: list[asyncio.StreamWriter] = []
        self.auth_attempts: list[Auth] = []
        self.sessions: asyncio.Queue[FakeSession] = asyncio.Queue()
        self.keys: set[str] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self.server = await asyncio.start_unix_server(self._handle, path=str(self.path))

    async def stop_listening(self) -> None:
        if self.server is not None:
            self.server.close()
            await within(self.server.wait_closed())
            self.server = None

    def drop_control(self) -> None:
        for writer in self.control_writers:
            writer.close()
        self.control_writers.clear()

    async def close(self) -> None:
        await self.stop_listening()
        for writer in self._writers:
            writer.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    def _accepts(self, frame: Auth) -> bool:
        if frame.method == "password":
            return frame.user == "alice" and frame.secret == "pw"
        return frame.user == "alice" and frame.secret in self.keys

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.append(writer)
        decoder = FrameDecoder(wire.decode_from_gate)
        session: FakeSession | None = None
        try:
            while data := await reader.read(65536):
                for frame in decoder.feed(data):
                    if isinstance(frame, Control):
                        self.control_pids.append(frame.pid)
                        self.control_writers.append(writer)
                    elif session is None and isinstance(frame, Auth):
                        self.auth_attempts.append(frame)
                        if not self._accepts(frame):
                            writer.write(encode_frame(AuthReply(False, "no")))
                            writer.close()
                            return
                        writer.write(encode_frame(AuthReply(True)))
                        session = FakeSession(writer)
                        self.sessions.put_nowait(session)
                    elif session is not None:
                        session.frames.put_nowait(frame)
                        if isinstance(frame, Line):
                            session.send(Out(f"echo: {frame.text}\n"))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if session is not None:
                session.eof.set()
            writer.close()


# --- the gate process ----------------------------------------------------------------


@dataclass
class GateProcess:
    proc: asyncio.subprocess.Process
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[FakeWorld]:
    path = tmp_path / "gate.sock"
    assert len(str(path)) < 100, "Unix socket path too long"
    fake = FakeWorld(path)
    await fake.start()
    yield fake
    await fake.close()


StartGate = Callable[..., Awaitable[GateProcess]]


@pytest.fixture
async def start_gate(tmp_path: Path, world: FakeWorld) -> AsyncIterator[StartGate]:
    started: list[GateProcess] = []

    async def start(*extra: str) -> GateProcess:
        host_key = tmp_path / "keys" / "ssh_host_ed25519_key"
        ensure_host_key(host_key)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        log_path = tmp_path / f"gate{len(started)}.log"
        with listener, log_path.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "moo.net.ssh_gate",
                "--listen-fd",
                str(listener.fileno()),
                "--world-socket",
                str(world.path),
                "--host-key",
                str(host_key),
                *extra,
                pass_fds=(listener.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
            gate = GateProcess(proc, listener.getsockname()[1], log_path)
        started.append(gate)
        await until(lambda: proc.pid in world.control_pids or proc.returncode is not None)
        assert proc.returncode is None, gate.log()
        return gate

    yield start
    for gate in started:
        if gate.proc.returncode is None:
            gate.proc.terminate()
            try:
                await within(gate.proc.wait(), 5)
            except TimeoutError:
                gate.proc.kill()
                await gate.proc.wait()
        print(gate.log())  # shown by pytest when the test fails


async def connect(port: int, **kwargs: Any) -> asyncssh.SSHClientConnection:
    options: dict[str, Any] = {
        "known_hosts": None,
        "username": "alice",
        "password": "pw",
        "client_keys": None,
        "agent_path": None,
        "config": None,
    }
    options.update(kwargs)
    return await within(asyncssh.connect("127.0.0.1", port, **options))


@contextlib.asynccontextmanager
async def shell(port: int, **kwargs: Any) -> AsyncIterator[asyncssh.SSHClientProcess[str]]:
    conn = await connect(port, **kwargs)
    try:
        proc = await within(conn.create_process(term_type="xterm", term_size=(100, 30)))
        yield proc
    finally:
        conn.close()
        await within(conn.wait_closed())


async def read_until(proc: asyncssh.SSHClientProcess[str], needle: str) -> str:
    buf = ""

    async def read() -> None:
        nonlocal buf
        while needle not in buf:
            chunk = await proc.stdout.read(4096)
            assert chunk, f"EOF before {needle!r}; got {buf!r}"
            buf += chunk

    await within(read())
    return buf


async def open_session(world: FakeWorld) -> FakeSession:
    session = await within(world.sessions.get())
    assert isinstance(await session.next_frame(), Open)
    return session


# --- tests ---------------------------------------------------------------------------


async def test_shell_login_lines_resize_echo_and_close(
    world: FakeWorld, start_gate: StartGate
) -> None:
    gate = await start_gate()
    async with shell(gate.port) as proc:
        session = await within(world.sessions.get())
        assert world.auth_attempts == [Auth(GATE_PROTOCOL, "alice", "password", "pw")]
        assert await session.next_frame() == Open("xterm", 100, 30)

        proc.stdin.write("look\r")
        assert await session.next_frame() == Line("look")
        await read_until(proc, "echo: look\r\n")

        proc.change_terminal_size(120, 40)
        assert await session.next_frame() == Resize(120, 40)

        session.send(Echo(False))
        session.send(Out("Password: "))
        await read_until(proc, "Password: ")
        proc.stdin.write("hunter2\r")
        assert await session.next_frame() == Line("hunter2")
        out = await read_until(proc, "echo: hunter2\r\n")
        assert out.count("hunter2") == 1, out  # the line editor did not echo it
        session.send(Echo(True))
        proc.stdin.write("ok\r")
        assert await session.next_frame() == Line("ok")
        await read_until(proc, "echo: ok\r\n")

        long_line = "x" * 5000  # over the world's 4096-byte limit: still forwarded
        proc.stdin.write(long_line + "\r")
        assert await session.next_frame() == Line(long_line)

    # the client went away: the world hears a close frame, then EOF
    assert isinstance(await session.next_frame(), Close)
    await within(session.eof.wait())


async def test_wrong_password_is_refused(world: FakeWorld, start_gate: StartGate) -> None:
    gate = await start_gate()
    with pytest.raises(asyncssh.PermissionDenied):
        await connect(gate.port, password="nope")
    assert world.auth_attempts == [Auth(GATE_PROTOCOL, "alice", "password", "nope")]
    assert world.sessions.empty()


async def test_world_eof_closes_ssh_session(world: FakeWorld, start_gate: StartGate) -> None:
    gate = await start_gate()
    async with shell(gate.port) as proc:
        session = await open_session(world)
        session.writer.close()
        await read_until(proc, LOST_MESSAGE)
        await within(proc.wait_closed())


async def test_world_close_frame_shows_reason(world: FakeWorld, start_gate: StartGate) -> None:
    gate = await start_gate()
    async with shell(gate.port) as proc:
        session = await open_session(world)
        session.send(Close("Goodbye, alice."))
        await read_until(proc, "Goodbye, alice.\r\n")
        await within(proc.wait_closed())
        assert proc.exit_status == 0


async def test_public_key_login(world: FakeWorld, start_gate: StartGate) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519", comment="alice@laptop")
    public = key.export_public_key("openssh").decode()
    assert public.rstrip().endswith("alice@laptop")
    bare = " ".join(public.split()[:2])
    world.keys.add(bare)
    gate = await start_gate()
    async with shell(gate.port, client_keys=[key], password=None) as proc:
        session = await open_session(world)
        proc.stdin.write("hi\r")
        await read_until(proc, "echo: hi")
    # one world socket per key, even though asyncssh validates the key twice
    assert world.auth_attempts == [Auth(GATE_PROTOCOL, "alice", "publickey", bare)]
    await within(session.eof.wait())


async def test_unknown_public_key_is_refused(world: FakeWorld, start_gate: StartGate) -> None:
    gate = await start_gate()
    key = asyncssh.generate_private_key("ssh-ed25519")
    with pytest.raises(asyncssh.PermissionDenied):
        await connect(gate.port, client_keys=[key], password=None)
    assert [a.method for a in world.auth_attempts] == ["publickey"]


async def test_command_without_pty(world: FakeWorld, start_gate: StartGate) -> None:
    gate = await start_gate()
    conn = await connect(gate.port)
    try:
        result = await within(conn.run("look"))
    finally:
        conn.close()
        await within(conn.wait_closed())
    assert result.stdout == "echo: look\n"
    assert result.exit_status == 0
    session = await within(world.sessions.get())
    assert await session.next_frame() == Open("unknown", 80, 24)
    assert await session.next_frame() == Line("look")
    assert await session.next_frame() == Close("command finished")


async def test_sigterm_closes_sessions_and_exits_zero(
    world: FakeWorld, start_gate: StartGate
) -> None:
    gate = await start_gate()
    async with shell(gate.port) as proc:
        session = await open_session(world)
        gate.proc.send_signal(signal.SIGTERM)
        await read_until(proc, SHUTDOWN_MESSAGE)
        assert isinstance(await session.next_frame(), Close)
        assert await within(gate.proc.wait(), 5) == 0


async def test_control_eof_without_world_exits(world: FakeWorld, start_gate: StartGate) -> None:
    gate = await start_gate("--reconnect-grace", "0.5")
    async with shell(gate.port) as proc:
        await open_session(world)
        await world.stop_listening()
        world.drop_control()
        await read_until(proc, GONE_MESSAGE)
        assert await within(gate.proc.wait(), 5) == 0


async def test_control_reconnects_and_sessions_survive(
    world: FakeWorld, start_gate: StartGate
) -> None:
    gate = await start_gate("--reconnect-grace", "5")
    async with shell(gate.port) as proc:
        session = await open_session(world)
        world.drop_control()
        await until(lambda: world.control_pids == [gate.proc.pid] * 2)
        proc.stdin.write("still here\r")
        assert await session.next_frame() == Line("still here")
        await read_until(proc, "echo: still here")
    assert gate.proc.returncode is None


async def test_unreachable_world_refuses_login(world: FakeWorld, start_gate: StartGate) -> None:
    gate = await start_gate()
    await world.stop_listening()  # the control socket stays up: the gate carries on
    with pytest.raises(asyncssh.PermissionDenied):
        await connect(gate.port)
    await until(lambda: "cannot reach the world" in gate.log())


async def test_second_shell_on_one_connection_is_refused(
    world: FakeWorld, start_gate: StartGate
) -> None:
    gate = await start_gate()
    conn = await connect(gate.port)
    try:
        first = await within(conn.create_process(term_type="xterm"))
        await open_session(world)
        second = await within(conn.create_process())
        await within(second.wait_closed())
        assert second.exit_status == 1
        first.stdin.write("hi\r")
        await read_until(first, "echo: hi")
    finally:
        conn.close()
        await within(conn.wait_closed())


def _write_client_key(tmp_path: Path, world: FakeWorld) -> Path:
    key = asyncssh.generate_private_key("ssh-ed25519", comment="alice@test")
    key_path = tmp_path / "id_ed25519"
    key.write_private_key(key_path)
    os.chmod(key_path, 0o600)
    world.keys.add(" ".join(key.export_public_key("openssh").decode().split()[:2]))
    return key_path


SSH_OPTIONS = [
    "-F",
    "/dev/null",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "IdentityAgent=none",
]


@pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH client `ssh` is not installed")
async def test_openssh_client_key_login_runs_command(
    tmp_path: Path, world: FakeWorld, start_gate: StartGate
) -> None:
    key_path = _write_client_key(tmp_path, world)
    gate = await start_gate()
    proc = await asyncio.create_subprocess_exec(
        "ssh",
        *SSH_OPTIONS,
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-i",
        str(key_path),
        "-p",
        str(gate.port),
        "alice@127.0.0.1",
        "look",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await within(proc.communicate())
    assert proc.returncode == 0, stderr
    assert stdout == b"echo: look\n"


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the OpenSSH client `ssh`")
async def test_openssh_client_password_login(
    world: FakeWorld, start_gate: StartGate, tmp_path: Path
) -> None:
    # OpenSSH >= 8.4 reads the password from SSH_ASKPASS when SSH_ASKPASS_REQUIRE=force,
    # so no sshpass is needed.
    askpass = tmp_path / "askpass.sh"
    askpass.write_text("#!/bin/sh\necho pw\n")
    askpass.chmod(0o700)
    env = {**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"}
    env.pop("DISPLAY", None)
    gate = await start_gate()
    proc = await asyncio.create_subprocess_exec(
        "ssh",
        *SSH_OPTIONS,
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "BatchMode=no",
        "-o",
        "NumberOfPasswordPrompts=1",
        "-p",
        str(gate.port),
        "alice@127.0.0.1",
        "look",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,  # no controlling tty: ssh must use SSH_ASKPASS
    )
    stdout, stderr = await within(proc.communicate())
    assert proc.returncode == 0, stderr
    assert stdout == b"echo: look\n"


async def test_slow_reader_pushes_back_on_the_world(
    world: FakeWorld, start_gate: StartGate
) -> None:
    gate = await start_gate()
    async with shell(gate.port) as proc:
        session = await open_session(world)
        chunk = "".join(f"{i:07d} {'y' * 90}\n" for i in range(100))  # 10 KB
        total = 800  # 8 MB: more than the SSH window, the gate buffer and the kernel's
        for _ in range(total):
            session.send(Out(chunk))
        transport = session.writer.transport
        # nobody reads the SSH side, so the gate stops reading and the world holds the rest
        await until(lambda: transport.get_write_buffer_size() > 2_000_000)
        expected = total * (len(chunk) + chunk.count("\n"))  # the pty turns \n into \r\n
        received = 0

        async def read_all() -> None:
            nonlocal received
            while received < expected:
                data = await proc.stdout.read(1 << 16)
                assert data
                received += len(data)

        await within(read_all(), 30)
        assert received == expected
        assert transport.get_write_buffer_size() == 0


def test_ensure_host_key_is_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "new" / "ssh_host_ed25519_key"
    ensure_host_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    key = asyncssh.read_private_key(path)
    assert key.get_algorithm() == "ssh-ed25519"
    before = path.read_bytes()
    ensure_host_key(path)
    assert path.read_bytes() == before


async def test_missing_host_key_exits_nonzero(tmp_path: Path, world: FakeWorld) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "moo.net.ssh_gate",
            "--listen-fd",
            str(listener.fileno()),
            "--world-socket",
            str(world.path),
            "--host-key",
            str(tmp_path / "missing_key"),
            pass_fds=(listener.fileno(),),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await within(proc.communicate())
    assert proc.returncode == 1
    assert b"ssh-gate: cannot serve" in stderr


async def test_login_banner_is_sent(world: FakeWorld, start_gate: StartGate) -> None:
    banners: list[str] = []

    class Client(asyncssh.SSHClient):
        def auth_banner_received(self, msg: str, lang: str) -> None:
            banners.append(msg)

    gate = await start_gate("--login-banner", "Welcome to the MOO.")
    conn = await connect(gate.port, client_factory=Client)
    conn.close()
    await within(conn.wait_closed())
    assert banners == ["Welcome to the MOO.\n"]

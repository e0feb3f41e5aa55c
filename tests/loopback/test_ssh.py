"""SSH players, through the real gate process, meet telnet players in the same world."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import asyncssh
import pytest

from tests.loopback.conftest import MARK, login, player, unique_name
from tests.server_process import ServerProcess


async def ssh_shell(
    server: ServerProcess, name: str, password: str
) -> tuple[asyncssh.SSHClientConnection, asyncssh.SSHClientProcess[str]]:
    conn = await asyncssh.connect(
        "127.0.0.1",
        server.ssh_port,
        username=name,
        password=password,
        known_hosts=None,
        client_keys=None,
        agent_path=None,
    )
    process = await conn.create_process(term_type="xterm", term_size=(100, 30))
    return conn, process


async def read_until(process: asyncssh.SSHClientProcess[str], text: str, timeout: float = 5) -> str:
    seen = ""
    async with asyncio.timeout(timeout):
        while text not in seen:
            chunk = await process.stdout.read(4096)
            if not chunk:
                break
            seen += chunk
    assert text in seen, f"expected {text!r} over SSH, saw {seen!r}"
    return seen


async def test_ssh_and_telnet_players_talk(server: ServerProcess) -> None:
    name = unique_name("sshuser")
    await (await login(server.telnet_port, name, "ssh-secret")).close()
    telnet, telnet_name = await player(server, "telnetuser")
    conn, process = await ssh_shell(server, name, "ssh-secret")
    try:
        await read_until(process, "The First Room")
        await telnet.expect(f"{name} has connected.")
        process.stdin.write("say hello from ssh\n")
        await read_until(process, 'You say, "hello from ssh"')
        await telnet.expect(f'{name} says, "hello from ssh"')
        assert await telnet.command("say hello from telnet", MARK) == [
            'You say, "hello from telnet"'
        ]
        await read_until(process, f'{telnet_name} says, "hello from telnet"')
        process.stdin.write(f"page {telnet_name} secret\n")
        await telnet.expect(f'{name} pages, "secret"')
        who = await telnet.command("who", MARK)
        assert any(line.startswith(name) for line in who)
        process.stdin.write("@quit\n")
        await telnet.expect(f"{name} has disconnected.")
    finally:
        conn.close()
        await telnet.close()


async def test_ssh_wrong_password_is_refused(server: ServerProcess) -> None:
    name = unique_name("sshbad")
    await (await login(server.telnet_port, name, "right-one")).close()
    with pytest.raises(asyncssh.PermissionDenied):
        await ssh_shell(server, name, "wrong-one")
    with pytest.raises(asyncssh.PermissionDenied):
        await ssh_shell(server, "no-such-player", "whatever")


async def test_openssh_client_with_a_registered_key(server: ServerProcess, tmp_path: Path) -> None:
    """The real OpenSSH client logs in with a key added by @sshkey add and runs a command."""
    ssh = shutil.which("ssh")
    keygen = shutil.which("ssh-keygen")
    if ssh is None or keygen is None:
        pytest.skip("OpenSSH client not installed; the asyncssh tests cover SSH login")
    key = tmp_path / "id_ed25519"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    client, name = await player(server, "keyed")
    listener, _ = await player(server, "listener")
    public = (tmp_path / "id_ed25519.pub").read_text().strip()
    assert (await client.command(f"@sshkey add {public}", MARK))[0].startswith("Key added.")
    assert await client.command("@sshkey add ssh-ed25519 not-base64!", MARK) == [
        "The key's base64 part is damaged; paste the whole line again."
    ]
    await client.command("@quit", MARK)
    assert await client.wait_closed()
    await client.close()
    result = await asyncio.create_subprocess_exec(
        ssh,
        "-i",
        str(key),
        "-p",
        str(server.ssh_port),
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "LogLevel=ERROR",
        f"{name}@127.0.0.1",
        "say hi from openssh",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, err = await asyncio.wait_for(result.communicate(), 20)
    assert result.returncode == 0, err.decode()
    assert 'You say, "hi from openssh"' in out.decode()
    await listener.expect(f'{name} says, "hi from openssh"')
    await listener.close()


async def test_start_up_and_ssh_logins_print_no_warning(server: ServerProcess) -> None:
    """The server and its SSH gate (which import asyncssh) print no Python warning at all."""
    name = unique_name("quietssh")
    await (await login(server.telnet_port, name, "quiet-secret")).close()
    conn, process = await ssh_shell(server, name, "quiet-secret")
    try:
        await read_until(process, "The First Room")
    finally:
        conn.close()
    warned = [line for line in server.stderr_lines if "Warning" in line]
    assert warned == []

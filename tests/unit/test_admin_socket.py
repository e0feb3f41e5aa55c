"""The admin socket ``moo upgrade`` talks through: a real AdminServer in tmp_path, raw
asyncio clients, the blocking ``admin_request`` in a thread, and ``moo upgrade`` run as a
real command against a server in this test process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from moo.cli import main
from moo.errors import MooError
from moo.upgrade.admin import (
    MAX_REQUEST,
    AdminServer,
    Handler,
    Reply,
    admin_request,
    admin_socket_path,
)

ROOT = Path(__file__).resolve().parents[1]

Request = dict[str, Any]


@contextlib.asynccontextmanager
async def serving(path: Path, handler: Handler, **options: float) -> AsyncIterator[AdminServer]:
    server = AdminServer(path, handler, **options)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def answer_ok(request: Request, reply: Reply) -> None:
    reply({"text": f"op is {request['op']}"})
    reply({"done": True, "ok": True, "text": "all good"})


async def exchange(path: Path, data: bytes) -> list[Request]:
    """Send raw bytes, then every JSON line until the server closes."""
    reader, writer = await asyncio.open_unix_connection(str(path))
    try:
        writer.write(data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        messages = []
        while True:
            try:
                line = await asyncio.wait_for(reader.readline(), 5)
            except ConnectionResetError:  # closed with our unread bytes in its queue
                break
            if not line:
                break
            messages.append(json.loads(line))
        return messages
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def request_line(request: Request) -> bytes:
    return json.dumps(request).encode() + b"\n"


async def test_the_socket_is_at_run_admin_sock_and_owner_only(tmp_path: Path) -> None:
    path = admin_socket_path(tmp_path / "data")
    assert path == tmp_path / "data" / "run" / "admin.sock"
    async with serving(path, answer_ok):
        mode = os.stat(path).st_mode
        assert stat.S_ISSOCK(mode)
        assert stat.S_IMODE(mode) == 0o600
    assert not path.exists()  # closed, and it was still ours


async def test_a_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    path = admin_socket_path(tmp_path)
    path.parent.mkdir()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(path))  # left behind by a killed server: nothing listens
    async with serving(path, answer_ok):
        assert await exchange(path, request_line({"op": "status"})) == [
            {"text": "op is status"},
            {"done": True, "ok": True, "text": "all good"},
        ]


async def test_replies_stream_as_they_are_sent_then_the_connection_closes(
    tmp_path: Path,
) -> None:
    path = admin_socket_path(tmp_path)
    go_on = asyncio.Event()
    seen: list[Request] = []

    async def handler(request: Request, reply: Reply) -> None:
        seen.append(request)
        reply({"text": "step 1"})
        await asyncio.wait_for(go_on.wait(), 5)  # the client has step 1 before step 2 exists
        reply({"text": "step 2", "extra": [1, 2]})
        reply({"done": True, "ok": True, "text": "upgraded"})

    async with serving(path, handler):
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(request_line({"op": "upgrade", "to": "moo serve", "rollback": False}))
        first = await asyncio.wait_for(reader.readline(), 5)
        assert json.loads(first) == {"text": "step 1"}
        go_on.set()
        rest = await asyncio.wait_for(reader.read(), 5)  # to EOF: the server closed
        writer.close()
        await writer.wait_closed()
    assert [json.loads(line) for line in rest.splitlines()] == [
        {"text": "step 2", "extra": [1, 2]},
        {"done": True, "ok": True, "text": "upgraded"},
    ]
    assert seen == [{"op": "upgrade", "to": "moo serve", "rollback": False}]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"status please\n", "the request is not JSON: Expecting value"),
        (b'["op", "status"]\n', "the request must be a JSON object, not list"),
        (b'{"op": 7}\n', 'the request has no "op" string'),
        (b'{"to": "x"}\n', 'the request has no "op" string'),
        (b"\xff\xfe\n", "the request is not JSON"),
        (b'{"op": "status", "pad": "' + b"x" * MAX_REQUEST + b'"}\n', "longer than 65536 bytes"),
    ],
    ids=["not-json", "not-object", "op-not-string", "no-op", "not-utf8", "too-long"],
)
async def test_a_malformed_request_gets_one_clear_error_line(
    tmp_path: Path, data: bytes, reason: str
) -> None:
    path = admin_socket_path(tmp_path)
    called: list[Request] = []

    async def handler(request: Request, reply: Reply) -> None:
        called.append(request)

    async with serving(path, handler):
        [message] = await exchange(path, data)
    assert message["done"] is True and message["ok"] is False
    assert reason in message["text"]
    assert called == []


async def test_a_request_of_exactly_the_limit_is_accepted(tmp_path: Path) -> None:
    path = admin_socket_path(tmp_path)
    line = b'{"op": "status", "pad": "'
    line += b"x" * (MAX_REQUEST - len(line) - 2) + b'"}'
    assert len(line) == MAX_REQUEST
    async with serving(path, answer_ok):
        messages = await exchange(path, line + b"\n")
    assert messages[-1] == {"done": True, "ok": True, "text": "all good"}


async def test_a_line_without_its_newline_before_eof_still_counts(tmp_path: Path) -> None:
    path = admin_socket_path(tmp_path)
    async with serving(path, answer_ok):
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(b'{"op": "status"}')
        writer.write_eof()
        rest = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        await writer.wait_closed()
    assert json.loads(rest.splitlines()[-1])["ok"] is True


async def test_a_client_that_sends_nothing_is_told_and_dropped(tmp_path: Path) -> None:
    path = admin_socket_path(tmp_path)
    async with serving(path, answer_ok, request_timeout=0.2):
        assert await exchange(path, b"") == [
            {"done": True, "ok": False, "text": "no request line within 0.2 s"}
        ]
        [closed_early] = await exchange_then_half_close(path)
    assert closed_early["text"] == "no request: the connection closed before a line arrived"


async def exchange_then_half_close(path: Path) -> list[Request]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write_eof()
    rest = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    await writer.wait_closed()
    return [json.loads(line) for line in rest.splitlines()]


async def test_a_handler_that_raises_gets_a_generic_line_and_a_logged_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = admin_socket_path(tmp_path)

    async def handler(request: Request, reply: Reply) -> None:
        reply({"text": "starting"})
        raise RuntimeError("secret internal detail")

    with caplog.at_level(logging.ERROR, logger="moo.upgrade.admin"):
        async with serving(path, handler):
            messages = await exchange(path, request_line({"op": "upgrade"}))
    assert messages == [
        {"text": "starting"},
        {
            "done": True,
            "ok": False,
            "text": "the server failed to handle the request; see its log",
        },
    ]
    [record] = caplog.records
    assert "admin request 'upgrade' failed" in record.getMessage()
    assert record.exc_info is not None and "secret internal detail" in str(record.exc_info[1])


async def test_a_reply_json_cannot_hold_fails_the_request_not_the_server(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = admin_socket_path(tmp_path)

    async def handler(request: Request, reply: Reply) -> None:
        reply({"done": True, "ok": True, "text": "done", "when": object()})

    with caplog.at_level(logging.ERROR, logger="moo.upgrade.admin"):
        async with serving(path, handler):
            [message] = await exchange(path, request_line({"op": "status"}))
    assert message == {
        "done": True,
        "ok": False,
        "text": "the server failed to handle the request; see its log",
    }


async def test_exactly_one_final_line_per_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = admin_socket_path(tmp_path)

    async def handler(request: Request, reply: Reply) -> None:
        if request["op"] == "twice":
            reply({"done": True, "ok": True, "text": "first"})
            reply({"done": True, "ok": False, "text": "second"})
        else:
            reply({"text": "forgot to finish"})

    with caplog.at_level(logging.WARNING, logger="moo.upgrade.admin"):
        async with serving(path, handler):
            twice = await exchange(path, request_line({"op": "twice"}))
            unfinished = await exchange(path, request_line({"op": "forget"}))
    assert twice == [{"done": True, "ok": True, "text": "first"}]
    assert unfinished == [
        {"text": "forgot to finish"},
        {"done": True, "ok": False, "text": "the server ended the request without an answer"},
    ]
    assert len(caplog.records) == 2  # the dropped line and the missing answer are logged


async def test_replies_after_the_client_went_away_do_not_raise(tmp_path: Path) -> None:
    path = admin_socket_path(tmp_path)
    client_gone = asyncio.Event()
    finished = asyncio.Event()

    async def handler(request: Request, reply: Reply) -> None:
        reply({"text": "before"})
        await asyncio.wait_for(client_gone.wait(), 5)
        for step in range(20):
            reply({"text": f"after {step}", "pad": "x" * 10_000})
            await asyncio.sleep(0.01)
        reply({"done": True, "ok": True})
        finished.set()

    async with serving(path, handler):
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(request_line({"op": "upgrade"}))
        assert json.loads(await asyncio.wait_for(reader.readline(), 5)) == {"text": "before"}
        writer.close()
        await writer.wait_closed()
        client_gone.set()
        await asyncio.wait_for(finished.wait(), 5)  # the handler ran to its end
        # and the server still serves others
        assert (await exchange(path, request_line({"op": "x"})))[-1]["ok"] is True


async def test_two_clients_are_served_at_once(tmp_path: Path) -> None:
    path = admin_socket_path(tmp_path)
    inside = 0
    both_inside = asyncio.Event()

    async def handler(request: Request, reply: Reply) -> None:
        nonlocal inside
        inside += 1
        if inside == 2:
            both_inside.set()
        await asyncio.wait_for(both_inside.wait(), 5)  # one at a time would time out here
        reply({"done": True, "ok": True, "text": request["op"]})

    async with serving(path, handler):
        first, second = await asyncio.gather(
            exchange(path, request_line({"op": "one"})),
            exchange(path, request_line({"op": "two"})),
        )
    assert first == [{"done": True, "ok": True, "text": "one"}]
    assert second == [{"done": True, "ok": True, "text": "two"}]


async def test_close_leaves_a_socket_rebound_by_a_replacement(tmp_path: Path) -> None:
    path = admin_socket_path(tmp_path)

    async def old_handler(request: Request, reply: Reply) -> None:
        reply({"done": True, "ok": True, "text": "old"})

    async def new_handler(request: Request, reply: Reply) -> None:
        reply({"done": True, "ok": True, "text": "new"})

    old = AdminServer(path, old_handler)
    await old.start()
    new = AdminServer(path, new_handler)
    await new.start()  # the replacement binds at the same path while the old one runs
    await old.close()
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    assert await exchange(path, request_line({"op": "status"})) == [
        {"done": True, "ok": True, "text": "new"}
    ]
    await new.close()
    assert not path.exists()
    await new.close()  # twice is harmless


async def test_the_blocking_client_streams_and_returns_the_final_message(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    seen: list[Request] = []
    async with serving(admin_socket_path(data), answer_ok):
        final = await asyncio.to_thread(
            admin_request, admin_socket_path(data), {"op": "status"}, seen.append, 5
        )
    assert final == {"done": True, "ok": True, "text": "all good"}
    assert seen == [{"text": "op is status"}, final]


async def test_the_blocking_client_says_when_no_server_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = admin_socket_path(data)
    with pytest.raises(MooError) as missing:
        await asyncio.to_thread(admin_request, path, {"op": "status"}, print, 5)
    assert str(missing.value) == f"no server is running on {data} (no admin socket at {path})"

    path.parent.mkdir(parents=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(path))  # a file left by a killed server
    with pytest.raises(MooError, match=f"^no server is running on {data} \\(nothing listens"):
        await asyncio.to_thread(admin_request, path, {"op": "status"}, print, 5)


async def test_the_blocking_client_times_out_and_notices_a_missing_answer(
    tmp_path: Path,
) -> None:
    path = admin_socket_path(tmp_path)
    release = asyncio.Event()
    seen: list[Request] = []

    async def slow(request: Request, reply: Reply) -> None:
        reply({"text": "working"})
        await asyncio.wait_for(release.wait(), 5)
        reply({"done": True, "ok": True})

    async with serving(path, slow):
        with pytest.raises(MooError, match=r"^no final answer from the server within 0\.3 s$"):
            await asyncio.to_thread(admin_request, path, {"op": "upgrade"}, seen.append, 0.3)
        release.set()
    assert seen == [{"text": "working"}]

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(b'{"text": "bye"}\n')
        writer.close()

    rude = await asyncio.start_unix_server(hang_up, path=str(path))
    try:
        with pytest.raises(MooError, match="closed the connection without a final answer"):
            await asyncio.to_thread(admin_request, path, {"op": "status"}, seen.append, 5)
    finally:
        rude.close()
        await rude.wait_closed()


def moo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "moo", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


async def test_moo_upgrade_status_prints_the_texts_and_exits_by_ok(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seen: list[Request] = []

    async def handler(request: Request, reply: Reply) -> None:
        seen.append(request)
        reply({"text": "running: pid 1234"})
        reply({"state": "idle"})  # no text: nothing printed
        reply({"done": True, "ok": True, "text": "no upgrade in progress"})

    async with serving(admin_socket_path(data), handler):
        result = await asyncio.to_thread(moo, "upgrade", "--status", "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["running: pid 1234", "no upgrade in progress"]
    assert seen == [{"op": "status"}]


async def test_moo_upgrade_sends_to_and_rollback_and_exits_1_on_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    config = tmp_path / "moo.yaml"
    config.write_text(f"data_dir: {data}\n")
    seen: list[Request] = []

    async def handler(request: Request, reply: Reply) -> None:
        seen.append(request)
        reply({"done": True, "ok": False, "text": "refused: the replacement failed its checks"})

    async with serving(admin_socket_path(data), handler):
        to = "/usr/bin/python3 -m moo serve --config 'my file.yaml'"
        by_config = ["upgrade", "--to", to, "--config", str(config)]
        assert await asyncio.to_thread(main, by_config) == 1
        by_dir = ["upgrade", "--rollback", "--data-dir", str(data)]
        assert await asyncio.to_thread(main, by_dir) == 1
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["refused: the replacement failed its checks"] * 2
    assert seen == [
        {"op": "upgrade", "to": to, "rollback": False},
        {"op": "upgrade", "to": None, "rollback": True},
    ]


async def test_moo_upgrade_exits_2_when_no_server_runs_or_options_clash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    result = await asyncio.to_thread(moo, "upgrade", "--status", "--data-dir", str(data))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"moo: no server is running on {data} (no admin socket at {admin_socket_path(data)})\n"
    )

    assert main(["upgrade", "--status", "--rollback", "--data-dir", str(data)]) == 2
    assert main(["upgrade", "--timeout", "0", "--data-dir", str(data)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "moo: upgrade: --status cannot be combined with --to or --rollback",
        "moo: upgrade: --timeout must be more than 0 seconds, got 0",
    ]

"""Every ``tests/transcripts/*.moot`` file, played by ``moo script`` against one real server.

Each transcript runs as a real subprocess (``python -m moo script FILE --port P``), the
way a world admin would run it, so the exit codes and the report are tested too. The
transcripts share one server, so each uses player names of its own.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server_process import WIZARD_PASSWORD, ServerProcess

TRANSCRIPTS = sorted((Path(__file__).parent.parent / "transcripts").glob("*.moot"))
REPO = Path(__file__).parent.parent.parent


@pytest.fixture(scope="module")
def transcript_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("transcripts") / "data", ssh=False).start()
    yield proc
    proc.stop()


def run_script(path: Path, port: int, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "moo", "script", str(path), "--port", str(port)]
    args += ["--var", f"WIZARD_PASSWORD={WIZARD_PASSWORD}", *extra]
    return subprocess.run(args, capture_output=True, text=True, timeout=90, cwd=REPO)


def run_failing(
    tmp_path: Path, server: ServerProcess, name: str, text: str, code: int = 1
) -> tuple[Path, str]:
    """Write ``text`` as NAME.moot and run it, which must exit ``code``: (the file, stderr)."""
    script = tmp_path / f"{name}.moot"
    script.write_text(text)
    done = run_script(script, server.telnet_port)
    assert done.returncode == code, done.stdout + done.stderr
    return script, done.stderr


def test_there_are_transcripts() -> None:
    assert {p.name for p in TRANSCRIPTS} >= {
        "two_players_talk.moot",
        "walking.moot",
        "things.moot",
        "login_screen.moot",
    }


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript_passes(path: Path, transcript_server: ServerProcess) -> None:
    done = run_script(path, transcript_server.telnet_port)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("ok: ")


def test_a_failing_transcript_reports_the_expectation_and_what_arrived(
    tmp_path: Path, transcript_server: ServerProcess
) -> None:
    script, stderr = run_failing(
        tmp_path,
        transcript_server,
        "failing",
        "> create Failer1 failer-pw\n"
        "< *** Connected as Failer1 ***\n"
        "> say hello\n"
        "> @quit\n"
        '< You say, "goodbye"\n',
    )
    report = stderr.splitlines()
    assert report[0] == f"{script}:5: FAILED on connection 'main'"
    assert report[1:3] == [
        '  expected a line equal to: You say, "goodbye"',
        "  but the server closed the connection",
    ]
    assert report[-2:] == ['  | You say, "hello"', "  | *** Disconnected ***"]


def test_a_timeout_names_the_seconds_waited(
    tmp_path: Path, transcript_server: ServerProcess
) -> None:
    script, stderr = run_failing(
        tmp_path, transcript_server, "slow", "@timeout 0.3\n> who\n< Nobody is connected, surely\n"
    )
    assert stderr.startswith(f"{script}:3: FAILED on connection 'main'\n")
    assert "  expected a line equal to: Nobody is connected, surely\n  but 0.3s passed" in stderr


def test_a_forbidden_line_fails_at_the_next_match(
    tmp_path: Path, transcript_server: ServerProcess
) -> None:
    script, stderr = run_failing(
        tmp_path,
        transcript_server,
        "forbidden",
        "> create Failer2 failer-pw\n"
        "< *** Connected as Failer2 ***\n"
        "! I don't understand\n"
        "> xyzzy\n"
        "> say done\n"
        '< You say, "done"\n',
    )
    assert stderr.startswith(f"{script}:3: FAILED on connection 'main'")
    assert "  must not see: I don't understand" in stderr
    assert "  | I don't understand that." in stderr


def test_a_malformed_transcript_exits_2_with_file_and_line(
    tmp_path: Path, transcript_server: ServerProcess
) -> None:
    script, stderr = run_failing(
        tmp_path, transcript_server, "bad", "> look\n@teleport home\n", code=2
    )
    assert f"{script}:2: unknown directive '@teleport'" in stderr


def test_expect_close_fails_when_the_server_keeps_the_connection(
    tmp_path: Path, transcript_server: ServerProcess
) -> None:
    script, stderr = run_failing(
        tmp_path,
        transcript_server,
        "open",
        "@timeout 0.3\n> help\n< Commands on this screen:\n@expect-close\n",
    )
    assert stderr.startswith(f"{script}:4: FAILED on connection 'main'\n")
    assert "  expected the server to close the connection\n  but 0.3s passed" in stderr
    assert "  | Commands on this screen:" not in stderr  # that line was the match
    assert "  |   quit                        disconnect" in stderr

"""The metrics registry (moo/ops/metrics.py), the endpoint's answers (metrics_http.py) and
the hooks that feed them from the journal and the store, without a server process."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import cast

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from moo.app import listener_handler
from moo.config import Persist
from moo.errors import MooError
from moo.ops.metrics import LoopHistogram, Metrics
from moo.ops.metrics_http import MetricsEndpoint
from moo.persist import journal as jr
from moo.persist.checkpoint_run import CheckpointOutcome
from moo.persist.store import Store
from moo.server import Server
from moo.world.loader import build_core_world


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body = MetricsEndpoint(registry).respond(b"GET /metrics HTTP/1.1\r\n\r\n")
    text = body.split(b"\r\n\r\n", 1)[1].decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_loop_histogram_counts_each_value_in_the_first_bucket_it_fits() -> None:
    histogram = LoopHistogram([0.001, 0.01, 0.1])
    for value in (0.0005, 0.001, 0.002, 0.01, 5.0):
        histogram.observe(value)
    family = histogram.family("t_seconds", "test")
    buckets = {s.labels["le"]: s.value for s in family.samples if s.name == "t_seconds_bucket"}
    # Prometheus buckets are "less than or equal": 0.001 belongs to le=0.001.
    assert buckets == {"0.001": 2, "0.01": 4, "0.1": 4, "+Inf": 5}
    assert histogram.count == 5
    assert histogram.sum == pytest.approx(5.0135)


def test_two_servers_in_one_process_keep_separate_figures() -> None:
    first, second = Metrics(), Metrics()  # a global registry would refuse the second
    first.commands.observe(0.002)
    assert samples(first.registry)[("moo_commands_total", ())] == 1
    assert samples(second.registry)[("moo_commands_total", ())] == 0
    assert (
        samples(first.registry)[("moo_sessions", (("state", "welcome"), ("transport", "ssh")))] == 0
    )


def test_a_checkpoint_outcome_moves_the_checkpoint_figures() -> None:
    metrics = Metrics()
    failed = CheckpointOutcome(None, False, "manual", 1.0, 0.5, 0, 0, 0.002, "disk full")
    metrics.checkpoint_done(failed)
    got = samples(metrics.registry)
    assert got[("moo_checkpoints_total", (("outcome", "failed"),))] == 1
    assert got[("moo_checkpoints_total", (("outcome", "ok"),))] == 0
    assert got[("moo_checkpoint_duration_seconds_count", ())] == 1
    assert ("moo_checkpoint_last_size_bytes", ()) not in got  # no good checkpoint known


def test_the_endpoint_answers_only_get_or_head_of_metrics() -> None:
    endpoint = MetricsEndpoint(Metrics().registry)

    def answer(head: bytes) -> tuple[bytes, bytes]:
        status, _, rest = endpoint.respond(head).partition(b"\r\n")
        return status, rest

    assert answer(b"")[0] == b"HTTP/1.1 400 Bad Request"
    assert answer(b"\x16\x03\x01 garbage")[0] == b"HTTP/1.1 400 Bad Request"
    status, rest = answer(b"POST /metrics HTTP/1.1\r\n\r\n")
    assert status == b"HTTP/1.1 405 Method Not Allowed" and b"Allow: GET, HEAD" in rest
    assert answer(b"GET /admin HTTP/1.1\r\n\r\n")[0] == b"HTTP/1.1 404 Not Found"
    status, rest = answer(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n")
    assert status == b"HTTP/1.1 200 OK"
    assert b"Content-Type: text/plain; version=0.0.4" in rest and b"moo_commands_total" in rest
    status, rest = answer(b"HEAD / HTTP/1.1\r\n\r\n")
    assert status == b"HTTP/1.1 200 OK" and rest.endswith(b"\r\n\r\n")  # no body
    openmetrics = b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text\r\n\r\n"
    status, rest = answer(openmetrics)
    assert b"Content-Type: application/openmetrics-text" in rest and rest.endswith(b"# EOF\n")


async def test_every_journal_fsync_is_timed(tmp_path: Path) -> None:
    timed: list[float] = []
    journal = jr.Journal(tmp_path / "always", next_lsn=1, fsync="always", on_fsync=timed.append)
    journal.append([])
    assert len(timed) == 1 and timed[0] >= 0
    journal.close()
    everysec = jr.Journal(tmp_path / "everysec", next_lsn=1, fsync="everysec")
    everysec.on_fsync = timed.append
    everysec.append([])
    await everysec.sync()  # the fsync runs in a worker thread; it is reported on the loop
    assert len(timed) == 2
    everysec.append([])
    everysec.rotate()  # a checkpoint's rotation fsyncs what is unsynced
    assert len(timed) == 3
    everysec.close()


async def test_checkpoint_observers_are_told_and_one_that_fails_stops_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store.open(tmp_path, Persist(fsync="no"), build_core_world)
    told: list[CheckpointOutcome] = []

    def broken(outcome: CheckpointOutcome) -> None:
        raise RuntimeError("observer bug")

    store.checkpoint_observers += [broken, told.append]
    try:
        with caplog.at_level(logging.ERROR):
            outcome = await store.checkpoint("manual", "test")
        assert outcome.ok and told == [outcome]
        assert "a checkpoint observer failed" in caplog.text
    finally:
        await store.close(final_reason=None)


async def test_a_client_that_never_finishes_its_request_gets_400_after_the_timeout() -> None:
    endpoint = MetricsEndpoint(Metrics().registry, timeout=0.2)
    server_end, client_end = socket.socketpair()
    client_end.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(client_end, b"GET /metr")
    endpoint.accept(server_end, "test")
    answer = b""
    async with asyncio.timeout(5):
        while chunk := await loop.sock_recv(client_end, 65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 Bad Request")
    client_end.close()


def test_a_metrics_listener_needs_metrics() -> None:
    with pytest.raises(MooError, match="a metrics listener without metrics"):
        listener_handler("metrics", cast(Server, None), None)

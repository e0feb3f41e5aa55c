"""Prometheus metrics of one server: what operators watch (``moo serve --metrics``).

One ``Metrics`` per server process, with its own ``CollectorRegistry`` (never the
library's global one: tests run several servers in one process). Where the server
already keeps a figure, the registry reads it at scrape time (``_ServerState``, a
custom collector); only events that leave no state behind are counted as they happen.
The pipeline:

1. Start-up (app.py, or a hot-upgrade replacement) makes ``Metrics`` when the metrics
   listener is on; runtime.py calls ``watch`` once the server, store, checkpointer and
   upgrader exist. ``watch`` installs three hooks, each a plain callable:
   ``Server.on_command`` (seconds per player command, timed around the dispatcher in
   ``Server._run_line``), ``Journal.on_fsync`` (seconds per journal fsync, timed where
   it runs, in its worker thread for ``everysec``) and ``Store.checkpoint_observers``
   (each checkpoint's outcome: duration, size and longest loop stall, as the store
   already measures them with its lag meter).
2. A scrape (metrics_http.py) calls ``generate_latest(registry)`` on the event loop, so
   the collector reads sessions, the checkpointer and the upgrader between two
   commands, never while one runs (no thread touches world state).

What is exported (names as scraped):

    moo_sessions{transport,state}                    connections now: telnet, ssh,
                                                     telnet-tls x logged_in, welcome
    moo_commands_total                               player commands run
    moo_command_duration_seconds                     their run time (histogram)
    moo_checkpoints_total{outcome}                   checkpoints written: ok, failed
    moo_checkpoint_duration_seconds                  each checkpoint's duration (histogram)
    moo_checkpoint_stall_seconds                     each one's longest event-loop stall
    moo_checkpoint_last_size_bytes                   the newest good checkpoint's size,
    moo_checkpoint_last_stall_seconds                its longest stall and
    moo_checkpoint_last_success_timestamp_seconds    when it finished (from the records
                                                     at start, then each checkpoint)
    moo_checkpoint_running                           1 while one is being written
    moo_journal_fsync_duration_seconds               each journal fsync (histogram)
    moo_journal_failed                               1 while the journal refuses writes
    moo_upgrades_total{outcome}                      hot upgrades: "failed" counted by the
                                                     server that carried on; "ok" by the
                                                     replacement that took over (it starts
                                                     at 1, so increase() across the
                                                     process change counts it once)
    process_*                                        the library's ProcessCollector

Failover and replication lag are not exported: there is no standby yet.

Why the command histogram is hand-written (``LoopHistogram``): it is observed once per
command on the hot path. prometheus_client's ``Histogram.observe`` takes a lock per
bucket and for the sum, and a ``Counter.inc`` another: with the perf_counter pair,
1.12 us per command here, against 0.22 us for the pair and a bisect into a list (the
loop is one thread: no lock is needed), on commands that cost the server 36-40 us of
CPU each (bench/commands.py): ~3% against ~0.6%. With metrics off the hook costs
0.05 us (a perf_counter and a None test). The rare events (checkpoints, fsyncs) use the
library's own types.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

if TYPE_CHECKING:
    from moo.checkpoint.service import Checkpointer
    from moo.persist.checkpoint_run import CheckpointOutcome
    from moo.persist.records import CheckpointRecord
    from moo.persist.store import Store
    from moo.server import Server
    from moo.upgrade.handoff import Upgrader

TRANSPORTS = ("telnet", "ssh", "telnet-tls")
STATES = ("logged_in", "welcome")
COMMAND_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip
FSYNC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CHECKPOINT_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
STALL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class LoopHistogram:
    """A histogram observed from one thread only (the event loop): no locks."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last: above every bound
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def family(self, name: str, documentation: str) -> HistogramMetricFamily:
        """The Prometheus histogram: cumulative ``le`` buckets, ``+Inf`` last."""
        buckets: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            running += count
            buckets.append((repr(bound), running))
        buckets.append(("+Inf", running + self.counts[-1]))
        return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=self.sum)


class Metrics:
    """The registry of one server and the hooks that feed it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.commands = LoopHistogram(COMMAND_BUCKETS)
        self.checkpoints = Counter(
            "moo_checkpoints", "Checkpoints written.", ["outcome"], registry=self.registry
        )
        for outcome in ("ok", "failed"):
            self.checkpoints.labels(outcome)  # both series exist from the start, at 0
        self.checkpoint_seconds = Histogram(
            "moo_checkpoint_duration_seconds",
            "How long each checkpoint took, start to verified.",
            buckets=CHECKPOINT_BUCKETS,
            registry=self.registry,
        )
        self.checkpoint_stall = Histogram(
            "moo_checkpoint_stall_seconds",
            "The longest event-loop stall during each checkpoint (commands waited this long).",
            buckets=STALL_BUCKETS,
            registry=self.registry,
        )
        self.fsync_seconds = Histogram(
            "moo_journal_fsync_duration_seconds",
            "How long each fsync of the journal took.",
            buckets=FSYNC_BUCKETS,
            registry=self.registry,
        )
        self.last_checkpoint: CheckpointRecord | None = None
        self.state = _ServerState(self)
        self.registry.register(self.state)
        ProcessCollector(registry=self.registry)

    def watch(
        self,
        server: Server,
        store: Store,
        checkpointer: Checkpointer,
        upgrader: Upgrader | None,
    ) -> None:
        """Install the hooks and let the collector read these objects at scrape time
        (``upgrader`` is None in an engine behind a front: it does not upgrade itself)."""
        self.state.server, self.state.store = server, store
        self.state.checkpointer, self.state.upgrader = checkpointer, upgrader
        self.last_checkpoint = checkpointer.last_success()  # from the records
        server.on_command = self.commands.observe
        store.journal.on_fsync = self.fsync_seconds.observe
        store.checkpoint_observers.append(self.checkpoint_done)

    def checkpoint_done(self, outcome: CheckpointOutcome) -> None:
        """A store observer: one checkpoint's outcome, as the store measured it."""
        self.checkpoints.labels("ok" if outcome.ok else "failed").inc()
        self.checkpoint_seconds.observe(outcome.duration)
        self.checkpoint_stall.observe(outcome.max_stall)
        if outcome.ok and outcome.record is not None:
            self.last_checkpoint = outcome.record


class _ServerState:
    """A custom collector: the server's own state, read when Prometheus scrapes."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.server: Server | None = None
        self.store: Store | None = None
        self.checkpointer: Checkpointer | None = None
        self.upgrader: Upgrader | None = None

    def describe(self) -> Iterator[Metric]:
        """The names it exports, without reading anything (for the registry's checks)."""
        yield from self._families({}, {}, running=False, failed=False)

    def collect(self) -> Iterator[Metric]:
        sessions: dict[tuple[str, str], int] = {}
        if self.server is not None:
            for conn, session in self.server.sessions.items():
                key = (conn.kind, "welcome" if session.player is None else "logged_in")
                sessions[key] = sessions.get(key, 0) + 1
        upgrades = dict(self.upgrader.results) if self.upgrader is not None else {}
        running = self.checkpointer is not None and self.checkpointer.running is not None
        failed = self.store is not None and self.store.journal.failed is not None
        yield from self._families(sessions, upgrades, running=running, failed=failed)

    def _families(
        self,
        sessions: dict[tuple[str, str], int],
        upgrades: dict[str, int],
        *,
        running: bool,
        failed: bool,
    ) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "moo_sessions",
            "Connections now, by transport and state.",
            labels=["transport", "state"],
        )
        kinds = sorted({*TRANSPORTS, *(kind for kind, _ in sessions)})
        for kind in kinds:
            for state in STATES:
                gauge.add_metric([kind, state], sessions.get((kind, state), 0))
        yield gauge
        commands = self.metrics.commands
        yield CounterMetricFamily("moo_commands", "Player commands run.", value=commands.count)
        yield commands.family(
            "moo_command_duration_seconds", "How long each player command took to run."
        )
        last = self.metrics.last_checkpoint
        if last is not None:
            for name, text, value in (
                ("size_bytes", "Size of the newest good checkpoint.", last.bytes),
                ("stall_seconds", "Longest event-loop stall during it.", last.max_stall),
                ("success_timestamp_seconds", "When it finished (Unix time).", last.finished),
            ):
                if value is not None:
                    yield GaugeMetricFamily(f"moo_checkpoint_last_{name}", text, value=value)
        yield GaugeMetricFamily(
            "moo_checkpoint_running", "1 while a checkpoint is being written.", value=int(running)
        )
        yield GaugeMetricFamily(
            "moo_journal_failed",
            "1 while the journal has failed and the world refuses changes.",
            value=int(failed),
        )
        counter = CounterMetricFamily(
            "moo_upgrades", "Hot upgrades, by outcome.", labels=["outcome"]
        )
        for outcome in ("ok", "failed"):
            counter.add_metric([outcome], upgrades.get(outcome, 0))
        yield counter

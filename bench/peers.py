"""Our server against a peer MOO server (LambdaMOO 1.8 on LambdaCore) at every load, same run.

``python bench/peers.py --peer lambdamoo=127.0.0.1:7795 [--peer-login "connect Wizard"]
[--rounds 1] [--seconds 10] [--quick]`` prints one JSON object and writes it to
``bench/results/peers.json``. The goal (issue 21): faster than the peer at every load.

The pipeline:

1. Raise the open-file limit (``commands.raise_fd_limit``) and start our server
   (``tests/server_process.py``) with the rate limits raised as ``bench/commands.py`` does.
   The peer is never started or built here: it is given by address (see the README's
   Benchmarks section for building LambdaMOO by hand outside the checkout).
2. Setup, per server, the same world shape: one set of rooms per scenario, so a scenario's
   clients never share a room with idle clients of another. Ours: the Wizard ``@dig``s them
   and each client ``create``s ``benchNNNN`` and ``@go``es. The peer (LambdaCore): the Wizard
   (the ``--peer-login`` line) raises ``$server_options``' ticks, makes rooms
   (``create($room)``) and players (``create($player)``, ``set_player_flag``, a ``crypt``ed
   password) by ``;;`` in batches, and places them with ``move()``; each client logs in
   with ``connect #N bench-pw`` (LambdaMOO allows one connection per player). Every client
   sends ``SUFFIX --done--``: both servers then end each command's output with that line.
3. The scenarios, each run on ours then the peer (the order flips every round), with the
   clients of ``bench/commands.py`` (hand-written ``asyncio.Protocol``s, closed and open
   loops, ``CpuMeter``) alternating ``say`` and ``look``: a closed loop of 1, 10 and 100
   clients ten to a room; 100 clients in one room (each ``say`` reaches 100); an open loop
   of ``say`` only by 100 clients in one room, each once a second (the fan-out); an open
   loop of 1000 and 5000 connections ten to a room, one command a second each (latency from
   the scheduled time; ``late_or_missing`` counts answers later than one period or never).
   A server that refuses or drops connections gets ``error`` for the scenario, not figures;
   the peer's scenarios of more than ``--peer-max-connections`` clients (1000: LambdaMOO
   1.8's select() limit) are skipped with an ``error`` saying so.
4. Per scenario, the median over ``--rounds`` of each figure for each server and
   ``ratio_commands_per_s`` and ``ratio_p99`` (both ours over the peer's: above 1 for
   commands/s and below 1 for p99 mean we are better). Print the JSON; write it.
5. The ceilings (unless ``--no-ceiling``): the closed loops also run against
   ``bench/ceiling_server.py``, a Python server whose commands cost nothing but which
   writes what a MOO server writes (a ``say`` to everyone in the room, one coalesced send
   per connection per loop turn), with the same client, as one process (``ceiling``) and
   as a front relaying to a second process (``ceiling_relay``, our server's shape).
   ``goal_commands_per_s`` is twice the peer's figure, and ``goal_above_ceiling``
   (``goal_above_ceiling_relay``) says it is more than that ceiling: more than any Python
   server (front and engine) reaches on this machine, or than this client can drive.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.commands import (  # noqa: E402
    COMMANDS,
    MARK,
    PLAYER_PASSWORD,
    SETUP_CONCURRENCY,
    BenchClient,
    CpuMeter,
    closed_loop,
    connect,
    dig_rooms,
    log_in,
    open_loop,
    raise_fd_limit,
    raised_limits,
    run_clients,
)
from bench.report import publish  # noqa: E402
from tests.server_process import WIZARD_PASSWORD, ServerProcess  # noqa: E402

RESULTS = REPO / "bench" / "results" / "peers.json"
SAY = b"say hello there\r\n"
GOAL_RATIO = 2.0  # issue 21: commands/s at least twice the peer's at 1, 10 and 100 clients
BATCH = 100  # players or moves per ;; line on the peer
SETTLE_SECONDS = 0.5  # for a placement's room messages to arrive before a load starts


class QuickAckClient(BenchClient):
    """``BenchClient`` that acknowledges every receive at once (``TCP_QUICKACK``, which Linux
    clears after use). LambdaMOO does not set ``TCP_NODELAY`` and writes a command's output
    and its ``SUFFIX`` in two pieces: Nagle holds the second until the first is ACKed, and a
    delayed ACK would add ~40 ms to each command. Both servers get this same client."""

    sock: socket.socket | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.sock = transport.get_extra_info("socket")

    def data_received(self, data: bytes) -> None:
        if self.sock is not None:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        super().data_received(data)

    def stop_load(self) -> None:
        """Back to collecting text, for setup commands between scenarios."""
        self.collecting = True
        self.on_done = None
        self.started.clear()
        self.text.clear()


@dataclass(frozen=True)
class Scenario:
    name: str
    loop: str  # "closed" or "open"
    clients: int
    per_room: int
    period: float = 1.0  # open loop: seconds between one client's commands
    say_only: bool = False


def scenarios(quick: bool) -> list[Scenario]:
    big = (200, 500) if quick else (1000, 5000)
    return [
        Scenario("closed_1", "closed", 1, 10),
        Scenario("closed_10", "closed", 10, 10),
        Scenario("closed_100", "closed", 100, 10),
        Scenario("closed_100_one_room", "closed", 100, 100),
        Scenario("say_fanout_open_100_one_room", "open", 100, 100, say_only=True),
        Scenario(f"open_{big[0]}_at_1_per_s", "open", big[0], 10),
        Scenario(f"open_{big[1]}_at_1_per_s", "open", big[1], 10),
    ]


def rooms_needed(plan: list[Scenario]) -> list[int]:
    """Each scenario's first room index in one list of rooms (each has its own rooms)."""
    firsts, total = [], 0
    for s in plan:
        firsts.append(total)
        total += -(-s.clients // s.per_room)
    return [*firsts, total]


@dataclass
class Target:
    """One server under load: its pool of logged-in clients and where each one is."""

    name: str
    host: str
    port: int
    pids: list[int]  # its processes (for CPU use): none if unknown
    rooms: list[int] = field(default_factory=list)
    clients: list[QuickAckClient] = field(default_factory=list)
    where: list[int] = field(default_factory=list)  # each client's room
    refused: str | None = None

    async def setup(self, room_count: int) -> None:
        raise NotImplementedError

    async def grow(self, count: int) -> None:
        raise NotImplementedError

    async def place(self, moves: list[tuple[int, int]]) -> None:
        """Move client i to room r for each (i, r)."""
        raise NotImplementedError

    async def ready(self, scenario: Scenario, first_room: int) -> list[QuickAckClient]:
        if self.refused is not None and scenario.clients > len(self.clients):
            raise ConnectionError(self.refused)  # smaller scenarios still run on the pool
        await self.grow(scenario.clients)
        moves = []
        for i in range(scenario.clients):
            room = self.rooms[first_room + i // scenario.per_room]
            if self.where[i] != room:
                moves.append((i, room))
        await self.place(moves)
        for i, room in moves:
            self.where[i] = room
        await asyncio.sleep(SETTLE_SECONDS)
        return self.clients[: scenario.clients]

    def close(self) -> None:
        for client in self.clients:
            client.close()


class Ours(Target):
    async def setup(self, room_count: int) -> None:
        self.rooms = await dig_rooms(self.host, self.port, WIZARD_PASSWORD, room_count)

    async def grow(self, count: int) -> None:
        gate = asyncio.Semaphore(SETUP_CONCURRENCY)

        async def one(i: int) -> QuickAckClient:
            async with gate:
                client = cast(QuickAckClient, await connect(self.host, self.port, QuickAckClient))
                await log_in(client, f"bench{i:04d}", PLAYER_PASSWORD)
                return client

        self.clients += await asyncio.gather(*(one(i) for i in range(len(self.clients), count)))
        self.where += [0] * (len(self.clients) - len(self.where))

    async def place(self, moves: list[tuple[int, int]]) -> None:
        gate = asyncio.Semaphore(SETUP_CONCURRENCY)

        async def one(i: int, room: int) -> None:
            async with gate:
                text = await self.clients[i].command(f"@go #{room}")
                if b"is not a room" in text:
                    raise RuntimeError(f"bench{i:04d} could not @go: {text!r}")

        await asyncio.gather(*(one(i, room) for i, room in moves))


class Ceiling(Target):
    """``bench/ceiling_server.py``: a line answerer with no world, the fastest a Python
    server can be here, measured by the same client (closed loops only). Its rooms are
    joined with ``go N``, so a ``say`` costs it the same writes as a MOO server."""

    async def setup(self, room_count: int) -> None:
        self.rooms = list(range(room_count))

    async def grow(self, count: int) -> None:
        while len(self.clients) < count:
            self.clients.append(
                cast(QuickAckClient, await connect(self.host, self.port, QuickAckClient))
            )
            self.where.append(0)

    async def place(self, moves: list[tuple[int, int]]) -> None:
        await asyncio.gather(*(self.clients[i].command(f"go {room}") for i, room in moves))


def start_ceiling(relay: bool) -> tuple[subprocess.Popen[str], int]:
    """Start ``bench/ceiling_server.py`` (``--relay``: a front and a back); the process
    and its port."""
    process = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "ceiling_server.py")]
        + (["--relay"] if relay else []),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError(f"the ceiling server did not start: {line!r}")
    return process, int(line.split()[-1])


class Peer(Target):
    """A LambdaMOO-style server: players made and placed by its Wizard through ``;;``."""

    def __init__(self, name: str, host: str, port: int, pids: list[int], login: str) -> None:
        super().__init__(name, host, port, pids)
        self.login = login
        self.players: list[int] = []
        self.wizard: BenchClient | None = None

    async def eval(self, code: str) -> str:
        assert self.wizard is not None
        text = (await self.wizard.command(";;" + code)).decode(errors="replace")
        found = re.search(r"=> (.*)\r\n", text)
        if not found:
            raise RuntimeError(f"the peer's Wizard could not run {code[:80]!r}: {text[-300:]!r}")
        return found.group(1)

    async def setup(self, room_count: int) -> None:
        self.wizard = cast(QuickAckClient, await connect(self.host, self.port, QuickAckClient))
        self.wizard.send(self.login)
        await self.wizard.wait_for(rb"\*\*\* (Connected|Redirect)")
        self.wizard.send(f"SUFFIX {MARK}")
        await self.eval(
            'for p in ({{"fg_ticks", 100000000}, {"fg_seconds", 1000}}) '
            '`add_property($server_options, p[1], p[2], {player, "r"}) ! ANY\'; '
            "$server_options.(p[1]) = p[2]; endfor; `load_server_options() ! ANY'; "
            "`player.ownership_quota = 1000000 ! ANY'; return 1;"
        )
        while len(self.rooms) < room_count:
            n = min(BATCH, room_count - len(self.rooms))
            made = await self.eval(
                f'out = {{}}; for i in [1..{n}] r = create($room); r.name = "Bench Room"; '
                "out = {@out, r}; endfor; return out;"
            )
            self.rooms += [int(x) for x in re.findall(r"#(\d+)", made)]

    async def make_players(self, count: int) -> None:
        while len(self.players) < count:
            n = min(BATCH, count - len(self.players))
            made = await self.eval(
                f"out = {{}}; for i in [1..{n}] p = create($player); "
                'p.name = tostr("bench", p); p.aliases = {p.name}; set_player_flag(p, 1); '
                f'p.password = crypt("{PLAYER_PASSWORD}"); out = {{@out, p}}; endfor; return out;'
            )
            self.players += [int(x) for x in re.findall(r"#(\d+)", made)]

    async def grow(self, count: int) -> None:
        await self.make_players(count)
        gate = asyncio.Semaphore(SETUP_CONCURRENCY)

        async def one(i: int) -> QuickAckClient:
            async with gate:
                client = cast(QuickAckClient, await connect(self.host, self.port, QuickAckClient))
                client.send(f"connect #{self.players[i]} {PLAYER_PASSWORD}")
                await client.wait_for(rb"\*\*\* (Connected|Redirect)")
                client.send(f"SUFFIX {MARK}")
                return client

        start = len(self.clients)
        made = await asyncio.gather(*(one(i) for i in range(start, count)), return_exceptions=True)
        good = [c for c in made if isinstance(c, QuickAckClient)]
        self.clients += good
        self.where += [0] * (len(self.clients) - len(self.where))
        if len(good) < len(made):
            error = next(e for e in made if not isinstance(e, QuickAckClient))
            self.refused = f"{len(self.clients)} connections in, then: {error}"[:400]
            raise ConnectionError(self.refused)

    async def place(self, moves: list[tuple[int, int]]) -> None:
        for at in range(0, len(moves), BATCH):
            pairs = ", ".join(f"{{#{self.players[i]}, #{r}}}" for i, r in moves[at : at + BATCH])
            await self.eval(f"for x in ({{{pairs}}}) move(x[1], x[2]); endfor; return 1;")

    def close(self) -> None:
        super().close()
        if self.wizard is not None:
            self.wizard.close()


async def measure(target: Target, scenario: Scenario, first_room: int, seconds: float) -> Any:
    try:
        clients = await target.ready(scenario, first_room)
    except (ConnectionError, OSError, TimeoutError) as error:
        return {"error": str(error)[:400] or type(error).__name__}
    meter = CpuMeter(target.pids)
    load: list[BenchClient] = list(clients)
    if scenario.loop == "closed":
        result = await closed_loop(load, seconds, meter)
    else:
        commands = (SAY, SAY) if scenario.say_only else COMMANDS
        result = await open_loop(load, seconds, meter, scenario.period, commands)
    for client in clients:
        client.stop_load()
    alive = sum(1 for c in clients if c.transport is not None and not c.transport.is_closing())
    if alive < len(clients):
        result["connections_lost"] = len(clients) - alive
    return result


def summary(rows: list[Any]) -> dict[str, Any]:
    errors = [r["error"] for r in rows if "error" in r]
    if errors:
        return {"error": errors[0], "rounds_failed": len(errors)}
    keys = ("commands_per_s", "p50_ms", "p99_ms", "max_ms", "late_or_missing", "scheduled")
    out = {k: round(statistics.median(r[k] for r in rows), 2) for k in keys if k in rows[0]}
    for k in ("server_cpu_cores", "client_cpu_cores", "machine_busy_cores"):
        if k in rows[0]:
            out[k] = round(statistics.median(r[k] for r in rows), 2)
    return out


async def bench(
    args: argparse.Namespace, ours: Ours, peer: Peer, ceilings: list[Ceiling]
) -> dict[str, Any]:
    plan = [s for s in scenarios(args.quick) if not args.only or s.name in args.only]
    firsts = rooms_needed(plan)
    targets: list[Target] = [ours, peer, *ceilings]
    for each in targets:
        started = time.monotonic()
        await each.setup(firsts[-1])
        print(
            f"{each.name}: {firsts[-1]} rooms in {time.monotonic() - started:.1f}s",
            file=sys.stderr,
        )
    rows: dict[str, dict[str, list[Any]]] = {
        s.name: {"ours": [], "peer": [], **{c.name: [] for c in ceilings}} for s in plan
    }
    for round_no in range(args.rounds):
        for n, scenario in enumerate(plan):
            order: list[tuple[str, Target]] = [("ours", ours), ("peer", peer)]
            if round_no % 2:
                order.reverse()
            if scenario.loop == "closed":
                order += [(c.name, c) for c in ceilings]
            for label, target in order:
                if label == "peer" and scenario.clients > args.peer_max_connections:
                    result = {
                        "error": f"skipped: the peer takes at most {args.peer_max_connections}"
                        " connections (--peer-max-connections)"
                    }
                else:
                    result = await measure(target, scenario, firsts[n], args.seconds)
                rows[scenario.name][label].append(result)
                print(f"{scenario.name} {label}: {json.dumps(result)}", file=sys.stderr)
    out: dict[str, Any] = {}
    for scenario in plan:
        entry: dict[str, Any] = {
            "clients": scenario.clients,
            "loop": scenario.loop,
            "per_room": scenario.per_room,
        }
        if scenario.loop == "open":
            entry["period_s"] = scenario.period
            entry["commands"] = "say" if scenario.say_only else "say, look"
        ours_row = summary(rows[scenario.name]["ours"])
        peer_row = summary(rows[scenario.name]["peer"])
        entry["ours"], entry["peer"] = ours_row, peer_row
        both = "error" not in ours_row and "error" not in peer_row
        entry["ratio_commands_per_s"] = (
            round(ours_row["commands_per_s"] / peer_row["commands_per_s"], 3)
            if both and peer_row["commands_per_s"]
            else None
        )
        entry["ratio_p99"] = (
            round(ours_row["p99_ms"] / peer_row["p99_ms"], 3)
            if both and peer_row["p99_ms"]
            else None
        )
        for c in ceilings:
            if not rows[scenario.name][c.name]:
                continue
            entry[c.name] = ceiling_row = summary(rows[scenario.name][c.name])
            if "error" not in peer_row and "error" not in ceiling_row:
                goal = GOAL_RATIO * peer_row["commands_per_s"]
                entry["goal_commands_per_s"] = round(goal, 1)
                entry[f"goal_above_{c.name}"] = goal > ceiling_row["commands_per_s"]
        out[scenario.name] = entry
    for each in targets:
        each.close()
    return out


def parse_peer(text: str) -> tuple[str, str, int]:
    name, _, address = text.rpartition("=")
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise SystemExit(f"--peer {text!r}: expected NAME=HOST:PORT")
    return name or "peer", host or "127.0.0.1", int(port)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--peer", required=True, help="NAME=HOST:PORT of the other MOO server")
    parser.add_argument("--peer-login", default="connect Wizard", help="its Wizard's login line")
    parser.add_argument("--peer-pid", type=int, help="report the peer process's CPU use too")
    parser.add_argument(
        "--peer-max-connections",
        type=int,
        default=1000,
        help="skip the peer's scenarios with more clients (LambdaMOO 1.8's select() refuses"
        " past ~1014; making 4000 more LambdaCore players to learn that took 15+ minutes)",
    )
    parser.add_argument(
        "--no-ceiling",
        action="store_true",
        help="do not measure bench/ceiling_server.py (a Python server whose commands cost"
        " nothing) in the closed loops",
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per run")
    parser.add_argument("--quick", action="store_true", help="3 s runs, 200 and 500 at 1/s")
    parser.add_argument(
        "--only", action="append", metavar="SCENARIO", help="run this scenario (repeatable)"
    )
    parser.add_argument("--event-loop", choices=["uvloop", "asyncio"], default="uvloop")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.seconds = 3.0
    fds = raise_fd_limit()
    name, host, port = parse_peer(args.peer)
    known = [s.name for s in scenarios(args.quick)]
    if unknown := set(args.only or ()) - set(known):
        print(f"unknown scenario(s) {sorted(unknown)}: choose from {known}", file=sys.stderr)
        return 2
    most = max(s.clients for s in scenarios(args.quick) if not args.only or s.name in args.only)
    with tempfile.TemporaryDirectory(prefix="moo-bench-") as tmp:
        server = ServerProcess(
            Path(tmp) / "data",
            extra_config={
                "event_loop": args.event_loop,
                "log_level": "WARNING",
                "limits": raised_limits(most + 1000),
            },
            ssh=False,
        ).start()
        ceiling_processes: list[subprocess.Popen[str]] = []
        try:
            ours = Ours("ours", "127.0.0.1", server.telnet_port, server.pids)
            peer_pids = [args.peer_pid] if args.peer_pid is not None else []
            peer = Peer(name, host, port, peer_pids, args.peer_login)
            ceilings: list[Ceiling] = []
            for ceiling_name, relay in (
                [] if args.no_ceiling else [("ceiling", False), ("ceiling_relay", True)]
            ):
                process, ceiling_port = start_ceiling(relay)
                ceiling_processes.append(process)
                ceilings.append(Ceiling(ceiling_name, "127.0.0.1", ceiling_port, [process.pid]))
            results, client_loop = run_clients(bench(args, ours, peer, ceilings))
        finally:
            server.stop()
            for process in ceiling_processes:
                process.kill()  # a relay's back ends when its front's socket closes
                process.wait()
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    result = {
        **results,
        "peer": {"name": name, "address": f"{host}:{port}", "login": args.peer_login},
        "rounds": args.rounds,
        "seconds": args.seconds,
        "ratios": "ours / peer: commands/s above 1 and p99 below 1 mean we are better",
        "ceiling": "bench/ceiling_server.py, a Python server whose commands cost nothing"
        " (but a say is written to the whole room, as here):"
        " goal_above_ceiling means no Python server can meet the goal here, nor this client"
        " show it; ceiling_relay is the same as a front and a second process (our server's"
        " shape): goal_above_ceiling_relay means no Python front and engine can meet it",
        "client": {"event_loop": client_loop, "process": "separate from both servers"},
        "machine": {"cpus": os.cpu_count(), "open_file_limit": fds, "uptime_after": load},
    }
    publish(result, RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Lines fanned out through a pacer: every listener gets every line once, in order, with a
command's answer never held back; sends come in slices and at most once per interval.

Real socket pairs on a real event loop: one end is the server's connection, the other the
client's.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from moo.config import Limits
from moo.net import events as ev
from moo.net.connection import Connection
from moo.net.fanout import Pacer, send_to_many
from moo.net.telnet_codec import TelnetCodec
from tests.waits import until

LONG = 3600.0  # an interval no test waits out: a second round can only come from a flush


class Quiet:
    def connection_events(self, conn: Connection, events: list[ev.Event]) -> None:
        pass

    def connection_closed(self, conn: Connection, reason: str) -> None:
        pass


class Pair:
    """A server-side ``Connection`` and the client's end of its socket."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        server_end, self.client = socket.socketpair()
        self.client.setblocking(False)
        self.conn = Connection(
            loop, server_end, TelnetCodec(), Quiet(), Limits(), kind="telnet", peer="x"
        )
        self.received = b""

    def read(self) -> bytes:
        """Everything that has arrived so far (without waiting)."""
        while True:
            try:
                data = self.client.recv(65536)
            except BlockingIOError:
                return self.received
            if not data:
                return self.received
            self.received += data


@pytest.fixture
def pairs() -> Iterator[list[Pair]]:
    made: list[Pair] = []
    yield made
    for pair in made:
        pair.client.close()
        pair.conn.sock.close()


def make(pairs: list[Pair], count: int) -> list[Pair]:
    loop = asyncio.get_running_loop()
    pairs.extend(Pair(loop) for _ in range(count))
    return pairs


async def test_every_listener_gets_every_line_once_in_order(pairs: list[Pair]) -> None:
    listeners = make(pairs, 5)
    pacer = Pacer(asyncio.get_running_loop(), per_turn=2, interval=0.01)
    for n in range(20):
        send_to_many([p.conn for p in listeners], f"line {n}\n", pacer)
        if n % 3 == 0:
            await asyncio.sleep(0)  # some lines while a round is under way
    expected = b"".join(f"line {n}\r\n".encode() for n in range(20))
    await until(lambda: all(p.read() == expected for p in listeners), "every line")
    assert len(pacer) == 0


async def test_a_round_sends_per_turn_connections_a_loop_turn(pairs: list[Pair]) -> None:
    listeners = make(pairs, 5)
    pacer = Pacer(asyncio.get_running_loop(), per_turn=2, interval=LONG)
    send_to_many([p.conn for p in listeners], "hello\n", pacer)
    assert not any(p.read() for p in listeners), "nothing leaves before the loop turns"
    sent = []
    for _ in range(3):
        await asyncio.sleep(0)
        sent.append(sum(1 for p in listeners if p.read()))
    assert sent == [2, 4, 5]


async def test_lines_within_an_interval_wait_for_the_next_round_in_one_send(
    pairs: list[Pair],
) -> None:
    [listener] = make(pairs, 1)
    pacer = Pacer(asyncio.get_running_loop(), interval=LONG)
    send_to_many([listener.conn], "first\n", pacer)  # an idle pacer: a round begins at once
    await until(lambda: listener.read() == b"first\r\n", "the first line")
    send_to_many([listener.conn], "second\n", pacer)
    send_to_many([listener.conn], "third\n", pacer)
    for _ in range(5):
        await asyncio.sleep(0)
    assert listener.read() == b"first\r\n", "a second round came before the interval"
    assert len(pacer) == 1 and pacer.rounds == 1, "queued once for both lines"


async def test_the_next_round_comes_after_the_interval(pairs: list[Pair]) -> None:
    [listener] = make(pairs, 1)
    pacer = Pacer(asyncio.get_running_loop(), interval=0.05)
    send_to_many([listener.conn], "first\n", pacer)
    await until(lambda: listener.read() == b"first\r\n", "the first line")
    send_to_many([listener.conn], "second\n", pacer)
    await until(lambda: listener.read() == b"first\r\nsecond\r\n", "the second round")
    assert pacer.rounds == 2


async def test_an_answer_is_not_held_back_and_takes_the_waiting_lines_first(
    pairs: list[Pair],
) -> None:
    [listener] = make(pairs, 1)
    pacer = Pacer(asyncio.get_running_loop(), interval=LONG)
    send_to_many([listener.conn], "first\n", pacer)
    await until(lambda: listener.read() == b"first\r\n", "the first line")
    send_to_many([listener.conn], "heard meanwhile\n", pacer)
    listener.conn.send_text("your answer\n")
    await until(lambda: listener.read().endswith(b"your answer\r\n"), "the answer")
    assert listener.read() == b"first\r\nheard meanwhile\r\nyour answer\r\n"
    send_to_many([listener.conn], "later\n", pacer)  # queued before: not queued again
    assert len(pacer) == 1


async def test_a_connection_closed_while_queued_is_skipped(pairs: list[Pair]) -> None:
    gone, stays = make(pairs, 2)
    pacer = Pacer(asyncio.get_running_loop(), interval=LONG)
    send_to_many([stays.conn], "first\n", pacer)
    await until(lambda: stays.read() == b"first\r\n", "the first line")
    send_to_many([gone.conn, stays.conn], "second\n", pacer)
    gone.client.close()
    gone.conn.close("quit")  # flushes what waits itself, then closes
    stays.conn.send_text("answer\n")
    await until(lambda: stays.read() == b"first\r\nsecond\r\nanswer\r\n", "the others' lines")
    await until(lambda: gone.conn.closed, "the closed connection")


async def test_a_frozen_connection_keeps_its_lines_until_thawed(pairs: list[Pair]) -> None:
    [listener] = make(pairs, 1)
    pacer = Pacer(asyncio.get_running_loop(), interval=0.01)
    listener.conn.freeze()
    send_to_many([listener.conn], "while frozen\n", pacer)
    assert len(pacer) == 0, "a frozen connection is not queued: its thaw sends"
    for _ in range(5):
        await asyncio.sleep(0)
    assert listener.read() == b""
    listener.conn.thaw()
    await until(lambda: listener.read() == b"while frozen\r\n", "the line after the thaw")


async def test_without_a_pacer_lines_leave_in_the_next_turn(pairs: list[Pair]) -> None:
    listeners = make(pairs, 3)
    send_to_many([p.conn for p in listeners], "now\n")
    await asyncio.sleep(0)
    assert [p.read() for p in listeners] == [b"now\r\n"] * 3


@pytest.mark.parametrize(
    ("per_turn", "interval", "message"),
    [(0, 0.05, "per_turn must be at least 1"), (1, -0.1, "interval must not be negative")],
)
async def test_bad_pacing_is_refused(per_turn: int, interval: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Pacer(asyncio.get_running_loop(), per_turn=per_turn, interval=interval)

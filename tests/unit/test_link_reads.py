"""The framed link between front and engine (moo/net/link.py): each read's frames, then
``on_read_done``; ``send`` at once and ``queue`` at the loop turn's end; over a real
socket pair."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from moo.net.link import Link, frame
from moo.protocol import front as msg

Event = tuple[str, object]


def start_link(events: list[Event], closed: list[str]) -> tuple[Link[msg.ToFront], socket.socket]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    link: Link[msg.ToFront] = Link(
        asyncio.get_running_loop(),
        ours,
        msg.decode_to_front,
        lambda messages: events.append(("frame", messages)),
        closed.append,
        max_frame=msg.MAX_FRAME,
        on_read_done=lambda: events.append(("done", None)),
    )
    return link, theirs


async def wait_for(condition: Callable[[], bool], events: list[Event]) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"not seen: {events}")


async def test_one_read_done_after_all_the_frames_of_a_read() -> None:
    events: list[Event] = []
    closed: list[str] = []
    link, theirs = start_link(events, closed)
    payloads = [msg.encode([msg.Out(1, f"line {i}\n")]) for i in range(3)]
    theirs.sendall(b"".join(frame(p) for p in payloads))
    await wait_for(lambda: ("done", None) in events, events)
    assert [kind for kind, _ in events] == ["frame", "frame", "frame", "done"]
    texts = [m.text for kind, ms in events if kind == "frame" for m in ms]  # type: ignore[attr-defined]
    assert texts == ["line 0\n", "line 1\n", "line 2\n"]
    # A frame cut in two: nothing is done until its second half comes.
    events.clear()
    whole = frame(payloads[0])
    theirs.sendall(whole[:5])
    await asyncio.sleep(0.05)
    assert events == []
    theirs.sendall(whole[5:])
    await wait_for(lambda: len(events) == 2, events)
    assert [kind for kind, _ in events] == ["frame", "done"]
    link.close("test over")
    theirs.close()


async def test_a_frame_that_does_not_decode_closes_the_link_with_no_read_done() -> None:
    events: list[Event] = []
    closed: list[str] = []
    link, theirs = start_link(events, closed)
    theirs.sendall(frame(b"\xc1 not msgpack"))
    await wait_for(lambda: bool(closed), events)
    assert closed[0].startswith("protocol error")
    assert events == []
    assert link.closed
    theirs.close()


async def test_send_writes_at_once_and_queue_at_the_turns_end() -> None:
    events: list[Event] = []
    closed: list[str] = []
    link, theirs = start_link(events, closed)
    theirs.settimeout(0)
    link.queue(b"queued")
    with pytest.raises(BlockingIOError):  # not before the loop turns
        theirs.recv(100)
    link.send(b"sent")  # at once, and behind what was queued first
    assert theirs.recv(100) == frame(b"queued") + frame(b"sent")
    await asyncio.sleep(0.01)  # the queued flush then finds nothing left to send
    with pytest.raises(BlockingIOError):
        theirs.recv(100)
    link.close("test over")
    theirs.close()

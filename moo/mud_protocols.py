"""MSSP and GMCP: what the server tells MUD clients and crawlers beside the text.

The telnet codec (``moo/net/telnet_codec.py``) does the bytes; this module decides what they
say, from the world and the server's facts:

1. A crawler agreeing to MSSP gets ``mssp_table``: the server's name (``#0.server_name``),
   players connected, when it started (Unix time), codebase, port, and what it speaks.
2. GMCP from the client: ``Core.Hello`` is noted, ``Core.Supports.Set``/``Add``/``Remove`` keep
   the packages the client wants on its session, ``Core.Ping`` is answered.
3. GMCP to the client: ``Room.Info`` (number, name, exits by name to room numbers) when a
   player whose client supports ``Room`` logs in or moves (the server watches the world's
   committed ``Move`` records). Other packages (``Char.Vitals``...) are the world's to define.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Container, Iterable

from moo import __version__
from moo.net.session import Session
from moo.world.mutations import Move
from moo.world.values import ObjRef
from moo.world.world import World

log = logging.getLogger(__name__)


def mssp_table(
    world: World, *, players: int, started: float, port: int | None
) -> dict[str, str | list[str]]:
    """The MSSP variables, as the MSSP specification names them."""
    name = world.prop(0, "server_name", "moo")
    table: dict[str, str | list[str]] = {
        "NAME": str(name) if isinstance(name, str) and name else "moo",
        "PLAYERS": str(players),
        "UPTIME": str(int(started)),
        "CODEBASE": f"moo {__version__}",
        "FAMILY": "MOO",
        "CRAWL DELAY": "-1",
        "UTF-8": "1",
        "ANSI": "0",
        "GMCP": "1",
        "MSSP": "1",
        "MCCP": "1",
        "SSL": "0",
    }
    if port:
        table["PORT"] = str(port)
    return table


def supported_packages(payload: str) -> list[str]:
    """``["Room 1", "Char.Vitals 1"]`` -> ["room", "char.vitals"]; junk gives []."""
    try:
        items = json.loads(payload) if payload else []
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    return [item.split()[0].lower() for item in items if isinstance(item, str) and item.split()]


def handle_gmcp(session: Session, package: str, payload: str) -> list[tuple[str, str]]:
    """Take one GMCP message from the client; return the (package, payload) replies."""
    lowered = package.lower()
    if lowered == "core.supports.set":
        session.gmcp_supports = set(supported_packages(payload))
    elif lowered == "core.supports.add":
        session.gmcp_supports |= set(supported_packages(payload))
    elif lowered == "core.supports.remove":
        session.gmcp_supports -= set(supported_packages(payload))
    elif lowered == "core.ping":
        return [("Core.Ping", "")]
    elif lowered == "core.hello":
        log.debug("session %d: GMCP client %s", session.id, payload[:200])
    return []


def wants(session: Session, package: str) -> bool:
    """The client asked for ``package`` (``Room`` covers ``Room.Info``)."""
    top = package.split(".")[0].lower()
    return top in session.gmcp_supports or package.lower() in session.gmcp_supports


def room_info(world: World, room: int) -> str:
    """``Room.Info``'s JSON: {"num", "name", "exits": {name: room number}}."""
    obj = world.objects.get(room)
    if obj is None:
        return json.dumps({"num": room, "name": "", "exits": {}})
    exits: dict[str, int] = {}
    listed = world.prop(room, "exits", [])
    for ref in listed if isinstance(listed, list) else []:
        if isinstance(ref, ObjRef) and ref.id in world.objects:
            dest = world.prop(ref.id, "dest")
            exits[world.objects[ref.id].name] = dest.id if isinstance(dest, ObjRef) else -1
    return json.dumps({"num": room, "name": obj.name, "exits": exits}, ensure_ascii=False)


def moved_players(records: Iterable[object], connected: Container[int]) -> set[int]:
    """The connected players a batch of committed records moved (``connected``: anything
    that answers ``in`` at once, such as the server's player -> session dict)."""
    return {r.id for r in records if isinstance(r, Move) and r.id in connected}

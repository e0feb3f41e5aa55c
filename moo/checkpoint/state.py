"""The $checkpointer's in-world state: its properties, and each player's notification settings.

Everything the checkpointer must remember across a restart or a hot upgrade lives in
the world (so it is checkpointed and journalled like everything else):

    $checkpointer.interval         seconds between regular checkpoints
    $checkpointer.failed_interval  seconds before retrying after a failed checkpoint
    $checkpointer.stale_after      warn wizards after this long without success (0: 2 x interval)
    $checkpointer.trusted          players (besides wizards) who may schedule and cancel
    $checkpointer.message          what players with notification off see instead ("": nothing)
    $checkpointer.prepare          objects whose prepare_checkpoint verb runs before each checkpoint
    $checkpointer.scheduled        requested checkpoints: a list of ["at": epoch, "by": name]
    $checkpointer.skip_regular     epoch of a regular checkpoint someone cancelled (0: none)
    $player.checkpoint_notify      1: see Started/Finished announcements; 0: the short message
    $player.checkpoint_warn        seconds of warning before each checkpoint (0: none)

``ensure_objects`` creates the object and the properties in a world that lacks them
(an older data directory), through the world's mutation methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moo.world.model import Flag
from moo.world.values import NOTHING, ObjRef, ref_id
from moo.world.world import World

WIZARD = 2

DEFAULTS: dict[str, tuple[Any, str]] = {
    "interval": (3600, "r"),
    "failed_interval": (300, "r"),
    "stale_after": (0, "r"),
    "trusted": ([], "r"),
    "message": ("", "r"),
    "prepare": ([], "r"),
    "scheduled": ([], "r"),
    "skip_regular": (0, "r"),
}
PLAYER_DEFAULTS: dict[str, tuple[Any, str]] = {
    "checkpoint_notify": (1, "rc"),
    "checkpoint_warn": (0, "rc"),
}


def ensure_objects(world: World, *, interval: int) -> int:
    """The $checkpointer's id, creating it and any missing properties first."""
    owner = WIZARD if world.valid(WIZARD) else NOTHING
    with world.transaction():
        oid = world.sys("checkpointer")
        if not world.valid(oid):
            oid = world.create(world.sys("thing"), owner, "Checkpointer", flags=int(Flag.READ))
            world.define_prop(0, "checkpointer", ObjRef(oid), owner, "r")
            world.set_prop(
                oid,
                "description",
                "Schedules, announces and measures checkpoints. See 'help checkpoints'.",
            )
        for name, (value, perms) in DEFAULTS.items():
            if not world.has_prop(oid, name):
                world.define_prop(
                    oid, name, interval if name == "interval" else value, owner, perms
                )
        player_class = world.sys("player")
        for name, (value, perms) in PLAYER_DEFAULTS.items():
            if not world.has_prop(player_class, name):
                world.define_prop(player_class, name, value, owner, perms)
    return oid


@dataclass(frozen=True)
class Settings:
    interval: float
    failed_interval: float
    stale_after: float
    trusted: tuple[int, ...]
    message: str
    prepare: tuple[int, ...]
    requests: tuple[tuple[float, str], ...]  # (when, who asked), earliest first
    skip_regular: float

    @property
    def scheduled_at(self) -> float | None:
        return self.requests[0][0] if self.requests else None

    @property
    def scheduled_by(self) -> str:
        return self.requests[0][1] if self.requests else ""


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) and value > 0 else default


def read(world: World, oid: int) -> Settings:
    """The $checkpointer's settings, with safe defaults for damaged values."""
    get = world.prop
    interval = _number(get(oid, "interval"), 3600)
    requests = _requests(get(oid, "scheduled", []))
    trusted = get(oid, "trusted", [])
    prepare = get(oid, "prepare", [])
    return Settings(
        interval=interval,
        failed_interval=_number(get(oid, "failed_interval"), 300),
        stale_after=_number(get(oid, "stale_after"), 2 * interval),
        trusted=tuple(ref_id(v) for v in trusted) if isinstance(trusted, list) else (),
        message=str(get(oid, "message", "")),
        prepare=tuple(ref_id(v) for v in prepare) if isinstance(prepare, list) else (),
        requests=tuple(requests),
        skip_regular=_number(get(oid, "skip_regular"), 0.0),
    )


def _requests(value: Any) -> list[tuple[float, str]]:
    entries = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
    found = []
    for entry in entries:
        at = entry.get("at") if isinstance(entry, dict) else None
        if isinstance(at, int | float):
            found.append((float(at), str(entry.get("by", ""))))
    return sorted(found)


def add_request(world: World, oid: int, at: float, by: str) -> None:
    requests = [*_requests(world.prop(oid, "scheduled", [])), (at, by)]
    world.set_prop(oid, "scheduled", [{"at": a, "by": b} for a, b in sorted(requests)])


def drop_earliest_request(world: World, oid: int) -> None:
    requests = _requests(world.prop(oid, "scheduled", []))[1:]
    world.set_prop(oid, "scheduled", [{"at": a, "by": b} for a, b in requests])


@dataclass(frozen=True)
class Notify:
    on: bool
    warn: float  # seconds of warning; 0: none


def player_notify(world: World, player: int) -> Notify:
    on = world.prop(player, "checkpoint_notify", 1)
    warn = world.prop(player, "checkpoint_warn", 0)
    return Notify(bool(on), float(warn) if isinstance(warn, int | float) and warn > 0 else 0.0)

"""The ``who`` listing, shared by the welcome screen and the in-world verb."""

from __future__ import annotations

from moo.commands.context import ConnectedPlayer
from moo.world.world import World


def duration(seconds: float) -> str:
    """A short human duration: 42s, 5m, 3h07m, 2d."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d"


def who_lines(world: World, players: list[ConnectedPlayer]) -> list[str]:
    rows = [p for p in players if p.player in world.objects]
    if not rows:
        return ["Nobody is connected."]
    lines = [f"{'Player':<24} {'Connected':>10} {'Idle':>8}  Where"]
    for info in sorted(rows, key=lambda p: p.connected_seconds, reverse=True):
        obj = world.objects[info.player]
        where = world.objects.get(obj.location)
        lines.append(
            f"{obj.name:<24} {duration(info.connected_seconds):>10} "
            f"{duration(info.idle_seconds):>8}  {where.name if where else 'nowhere'}"
        )
    lines.append(f"{len(rows)} player{'s' if len(rows) != 1 else ''} connected.")
    return lines

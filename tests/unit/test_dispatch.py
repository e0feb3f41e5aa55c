"""Dispatch and object matching on a real core world, with a fake Host that collects output.

Test verbs are plain functions put into the verb registry's function table for the test
only (never through ``@verb``, whose bindings ``sync_verbs`` would pick up), and their records
are added with ``world.add_verb`` to objects each test creates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import pytest

from moo.commands.context import ConnectedPlayer, LineReader, VerbContext
from moo.commands.dispatch import (
    INTERNAL_ERROR,
    Dispatcher,
    VerbCache,
    find_command_verb,
    find_verb,
)
from moo.commands.match import match_among, match_object, match_player
from moo.commands.parser import Command, parse
from moo.errors import MooError, PermissionDenied, VerbError
from moo.world import mutations as m
from moo.world import verb_registry
from moo.world.loader import build_core_world
from moo.world.model import Flag, VerbDef
from moo.world.values import AMBIGUOUS, FAILED_MATCH, NOTHING
from moo.world.world import World

WIZARD = 2
FIRST_ROOM = 10
GARDEN = 11
LANTERN = 14
IMPL_PREFIX = "py:tests.unit.test_dispatch."
HUH = "I don't understand that."


class FakeHost:
    """Collects what the dispatcher and verbs say; the other services are inert."""

    def __init__(self, events: list[tuple[str, object]]) -> None:
        self.sent: list[tuple[int, str]] = []
        self._events = events
        self.output_is_held = False  # True: an engine behind a front (moo/engine/link.py)

    def commit_output_begins(self) -> None:
        self._events.append(("answer begins", None))

    def notify(self, player: int, text: str) -> None:
        # One notify may carry several lines (a command's output is joined per player).
        for line in text.split("\n"):
            self.sent.append((player, line))
            self._events.append(("notify", (player, line)))

    def notify_many(self, players: Iterable[int], text: str) -> None:
        for player in players:
            self.notify(player, text)

    def to(self, player: int) -> list[str]:
        return [text for who, text in self.sent if who == player]

    def connected_players(self) -> list[ConnectedPlayer]:
        return []

    def is_connected(self, player: int) -> bool:
        return True

    def boot(self, player: int, reason: str) -> bool:
        return False

    def disconnect(self, player: int, reason: str) -> None:
        pass

    def request_shutdown(self, message: str, by: int) -> None:
        pass

    def change_password(self, player: int, old: str, new: str) -> None:
        pass

    def terminal_info(self, player: int) -> str | None:
        return None

    def read_lines(self, player: int, reader: LineReader) -> None:
        pass

    # A world without MOO tasks, checkpoints or upgrades (the Dispatcher gets no scheduler).
    moo_tasks: object = None
    checkpointer: object | None = None
    upgrader: object | None = None


@dataclass
class Env:
    world: World
    host: FakeHost
    dispatcher: Dispatcher
    events: list[tuple[str, object]]
    batches: list[list[m.Mutation]]
    room: int
    me: int
    watcher: int
    widget: int
    gadget: int
    calls: list[tuple[str, int, int, int, str]] = field(default_factory=list)
    impls: list[str] = field(default_factory=list)

    def run(self, line: str, player: int | None = None) -> list[str]:
        """Run ``line`` as the player (default: me); return what that player was told."""
        who = self.me if player is None else player
        before = len(self.host.sent)
        self.dispatcher.run(who, line)
        return [text for p, text in self.host.sent[before:] if p == who]

    def register(self, name: str, function: Callable[[VerbContext, Command], None]) -> str:
        impl = IMPL_PREFIX + name
        assert impl not in verb_registry._functions
        verb_registry._functions[impl] = function
        self.impls.append(impl)
        return impl

    def recorder(self, label: str) -> str:
        """A verb that records how it was called and says "<label> ran"."""

        def verb(ctx: VerbContext, cmd: Command) -> None:
            self.calls.append((label, ctx.this, ctx.dobj, ctx.iobj, ctx.verb))
            ctx.tell(f"{label} ran")

        return self.register(label, verb)

    def add(self, oid: int, names: str, args: str, impl: str) -> VerbDef:
        parts = args.split()  # "dobj prep iobj"; a prep may have spaces ("on top of/on")
        dobj, prep, iobj = parts[0], " ".join(parts[1:-1]), parts[-1]
        record = VerbDef(names, WIZARD, "rxd", dobj, prep, iobj, impl)
        self.world.add_verb(oid, record)
        return record

    def remove_verbs(self, oid: int, names: str) -> None:
        verbs = self.world.get(oid).verbs
        self.world.set_verbs(oid, [v for v in verbs if v.names != names])


@pytest.fixture
def env() -> Iterator[Env]:
    world = build_core_world()
    events: list[tuple[str, object]] = []
    batches: list[list[m.Mutation]] = []

    def observer(records: list[m.Mutation]) -> None:
        batches.append(list(records))
        events.append(("commit", len(records)))

    host = FakeHost(events)
    room = world.create(world.sys("room"), WIZARD, "Test Room")
    me = world.create(world.sys("player"), NOTHING, "Tester", location=room, flags=Flag.PLAYER)
    watcher = world.create(
        world.sys("player"), NOTHING, "Watcher", location=room, flags=Flag.PLAYER
    )
    widget = world.create(world.sys("thing"), WIZARD, "widget", location=room, aliases=["wid"])
    gadget = world.create(world.sys("thing"), WIZARD, "gadget", location=me)
    world.add_observer(observer)
    result = Env(
        world, host, Dispatcher(world, host), events, batches, room, me, watcher, widget, gadget
    )
    try:
        yield result
    finally:
        for impl in result.impls:
            verb_registry._functions.pop(impl, None)


# ------------------------------------------------------------------ verb search order


def test_player_then_room_then_dobj_then_iobj(env: Env) -> None:
    for oid, label in [
        (env.me, "player"),
        (env.room, "room"),
        (env.widget, "dobj"),
        (env.gadget, "iobj"),
    ]:
        env.add(oid, "zap", "any any any", env.recorder(label))
    for expected, remove_from in [
        ("player", env.me),
        ("room", env.room),
        ("dobj", env.widget),
        ("iobj", env.gadget),
    ]:
        assert env.run("zap widget with gadget") == [f"{expected} ran"]
        env.remove_verbs(remove_from, "zap")
    assert env.run("zap widget with gadget") == [HUH]
    assert [c[0] for c in env.calls] == ["player", "room", "dobj", "iobj"]
    assert [c[1] for c in env.calls] == [env.me, env.room, env.widget, env.gadget]
    for _label, _this, dobj, iobj, verb in env.calls:
        assert (dobj, iobj, verb) == (env.widget, env.gadget, "zap")


def test_room_verb_beats_an_inherited_player_verb_only_if_the_player_has_none(env: Env) -> None:
    # "look" lives on $room; a "look" on the player's class is found first.
    env.add(env.world.sys("player"), "l*ook", "any any any", env.recorder("player look"))
    assert env.run("look") == ["player look ran"]


def test_inherited_verbs_are_found_and_the_nearest_wins(env: Env) -> None:
    cls = env.world.create(env.world.sys("thing"), WIZARD, "toy class")
    env.world.set_parent(env.widget, cls)
    env.add(cls, "wind", "this none none", env.recorder("class"))
    assert env.run("wind widget") == ["class ran"]
    env.add(env.widget, "wind", "this none none", env.recorder("own"))
    assert env.run("wind widget") == ["own ran"]
    assert [c[1] for c in env.calls] == [env.widget, env.widget]  # "this" is the object


def test_verb_names_use_wildcards(env: Env) -> None:
    env.add(env.me, "p*oke jab", "none none none", env.recorder("poke"))
    for word in ["p", "po", "pok", "poke", "POKE", "jab"]:
        assert env.run(word) == ["poke ran"], word
    for word in ["pokes", "ja"]:
        assert env.run(word) == [HUH], word
    assert [c[4] for c in env.calls] == ["p", "po", "pok", "poke", "POKE", "jab"]


def test_find_verb_and_find_command_verb(env: Env) -> None:
    world = env.world
    found = list(find_verb(world, env.me, "l"))
    assert found == []  # "l*ook" is on $room, not on players
    found = list(find_verb(world, env.room, "l"))
    assert [definer for definer, _ in found] == [world.sys("room")]
    cmd = parse("get widget")
    hit = find_command_verb(VerbCache(world), env.me, cmd, env.widget, NOTHING)
    assert hit is not None and hit[0] == env.widget and hit[1].names == "g*et t*ake"
    assert find_command_verb(VerbCache(world), env.me, parse("get"), NOTHING, NOTHING) is None


# ---------------------------------------------------------------- argument specs


@pytest.mark.parametrize(
    ("args", "line", "matches"),
    [
        ("none none none", "poke", True),
        ("none none none", "poke widget", False),
        ("none none none", "poke with gadget", False),
        ("any none none", "poke", True),
        ("any none none", "poke widget", True),
        ("any none none", "poke xyzzy", True),
        ("any none none", "poke widget with gadget", False),
        ("any with/using any", "poke widget with gadget", True),
        ("any with/using any", "poke widget USING gadget", True),
        ("any with/using any", "poke widget on gadget", False),
        ("any with/using any", "poke widget", False),
        ("any any any", "poke widget on gadget", True),
        ("any any any", "poke", True),
        ("none any none", "poke on", True),
        ("none any none", "poke on gadget", False),
        ("none any any", "poke on gadget", True),
        ("this none none", "poke me", True),
        ("this none none", "poke tester", True),
        ("this none none", "poke widget", False),
        ("this none none", "poke", False),
        ("any at/to this", "poke widget at me", True),
        ("any at/to this", "poke widget to me", True),
        ("any at/to this", "poke widget at widget", False),
        ("any at/to this", "poke widget with me", False),
        ("any in/inside/into any", "poke widget into gadget", True),
        ("any on top of/on/onto/upon any", "poke widget on top of gadget", True),
    ],
)
def test_argument_spec_on_the_player(env: Env, args: str, line: str, matches: bool) -> None:
    env.add(env.me, "poke", args, env.recorder("poke"))
    said = env.run(line)
    if matches:
        assert said == ["poke ran"]
    else:
        assert "poke ran" not in said and len(said) == 1
        assert env.calls == []


@pytest.mark.parametrize(
    ("args", "line", "matches"),
    [
        ("this none none", "rub widget", True),
        ("this none none", "rub wid", True),
        ("this none none", "rub WIDG", True),
        ("this none none", "rub gadget", False),
        ("this none none", "rub widget with gadget", False),
        ("any with/using this", "rub gadget with widget", True),
        ("any with/using this", "rub widget with gadget", False),
        ("this with/using this", "rub widget with widget", True),
    ],
)
def test_argument_spec_this_on_a_thing(env: Env, args: str, line: str, matches: bool) -> None:
    env.add(env.widget, "rub", args, env.recorder("rub"))
    assert (env.run(line) == ["rub ran"]) is matches
    if matches:
        assert env.calls[0][1] == env.widget


# ------------------------------------------------------------------- huh fallback


def test_unknown_command_reaches_huh(env: Env) -> None:
    assert env.run("xyzzy") == [HUH]
    assert env.run("xyzzy widget") == [HUH]
    assert env.run("xyzzy frobnitz") == ['I see no "frobnitz" here.']
    assert env.batches == []


def test_huh_without_a_room(env: Env) -> None:
    env.world.move(env.me, NOTHING)
    assert env.run("xyzzy") == [HUH]
    box = env.world.create(env.world.sys("thing"), WIZARD, "crate")
    env.world.move(env.me, box)  # inside a thing: no huh verb anywhere
    assert env.run("xyzzy") == [HUH]


def test_huh_uses_exits(env: Env) -> None:
    env.world.move(env.me, FIRST_ROOM)
    env.batches.clear()
    said = env.run("n")
    assert said[0] == "The Garden"
    assert env.world.get(env.me).location == GARDEN
    assert len(env.batches) == 1
    assert env.run("south")[0] == "The First Room"


def test_empty_line_or_unknown_player_does_nothing(env: Env) -> None:
    env.dispatcher.run(env.me, "")
    env.dispatcher.run(env.me, "   ")
    env.dispatcher.run(999, "look")
    assert env.host.sent == [] and env.batches == []


# ------------------------------------------------------------- errors and rollback


def _meddle(env: Env, ctx: VerbContext) -> None:
    """Change the world in several ways and say things: all must vanish on failure."""
    world = ctx.world
    world.move(env.widget, ctx.player)
    world.set_prop(env.widget, "description", "meddled")
    world.rename(ctx.player, "Meddler")
    world.create(world.sys("thing"), ctx.player, "litter", location=ctx.location)
    ctx.tell("partial output")
    ctx.tell_to(env.watcher, "you should not see this")
    ctx.announce("nor this")


@pytest.mark.parametrize(
    ("error", "line"),
    [(VerbError, "You can't do that."), (PermissionDenied, "Sorry, meddle is for wizards only.")],
    ids=["verb_error", "denied"],
)
def test_a_refusal_delivers_only_its_one_line_and_changes_nothing(
    env: Env, error: type[MooError], line: str
) -> None:
    def failing(ctx: VerbContext, cmd: Command) -> None:
        _meddle(env, ctx)
        raise error(line)

    env.add(env.me, "meddle", "any any any", env.register("refusal", failing))
    env.batches.clear()
    digest = env.world.digest()
    env.host.sent.clear()
    env.dispatcher.run(env.me, "meddle")
    assert env.host.sent == [(env.me, line)]
    assert env.world.digest() == digest
    assert env.batches == []
    assert env.world.player_by_name("tester") == env.me
    assert env.world.player_by_name("meddler") is None


def test_world_error_from_a_verb_is_shown_and_undone(env: Env) -> None:
    def recursive(ctx: VerbContext, cmd: Command) -> None:
        ctx.world.rename(env.widget, "renamed")
        ctx.world.move(env.widget, env.widget)

    env.add(env.me, "fold", "any any any", env.register("recursive", recursive))
    env.batches.clear()
    digest = env.world.digest()
    assert env.run("fold") == [f"#{env.widget} cannot be moved into itself."]
    assert env.world.digest() == digest and env.batches == []


def test_unexpected_exception_is_rolled_back_and_reported(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(ctx: VerbContext, cmd: Command) -> None:
        _meddle(env, ctx)
        raise ZeroDivisionError("oops")

    impl = env.register("broken", broken)
    env.add(env.me, "meddle", "any any any", impl)
    env.batches.clear()
    digest = env.world.digest()
    env.host.sent.clear()
    with caplog.at_level(logging.ERROR, logger="moo.commands.dispatch"):
        env.dispatcher.run(env.me, "meddle hard")
    assert env.host.sent == [(env.me, INTERNAL_ERROR)]
    assert env.world.digest() == digest
    assert env.batches == []
    assert not env.world.in_transaction
    [entry] = [r for r in caplog.records if r.name == "moo.commands.dispatch"]
    assert impl in entry.getMessage() and "meddle hard" in entry.getMessage()
    assert entry.exc_info is not None and entry.exc_info[0] is ZeroDivisionError


def test_missing_verb_code_is_reported(env: Env) -> None:
    env.add(env.me, "ghost", "any any any", IMPL_PREFIX + "not_registered")
    env.batches.clear()
    said = env.run("ghost")
    assert said == [
        f"The code for this verb ({IMPL_PREFIX}not_registered) is not installed on this server."
    ]
    assert env.batches == []


def test_output_is_delivered_after_the_commit(env: Env) -> None:
    def tidy(ctx: VerbContext, cmd: Command) -> None:
        ctx.world.move(env.widget, ctx.player)
        ctx.tell("You pick it up.")
        ctx.world.set_prop(env.widget, "description", "tidied")
        ctx.announce("Tester tidies up.")

    env.add(env.me, "tidy", "none none none", env.register("tidy", tidy))
    env.events.clear()
    env.batches.clear()
    env.dispatcher.run(env.me, "tidy")
    assert env.events == [
        ("commit", 2),
        ("notify", (env.me, "You pick it up.")),
        ("notify", (env.watcher, "Tester tidies up.")),
    ]
    assert [type(r) for r in env.batches[0]] == [m.Move, m.SetProp]
    assert env.world.get(env.widget).location == env.me


def test_behind_a_front_output_goes_before_the_commit_that_seals_it(env: Env) -> None:
    """The front holds it until the journal has the change: it must be in the group the
    commit's journal write seals, and a refusal still delivers only its one line."""

    def tidy(ctx: VerbContext, cmd: Command) -> None:
        ctx.world.move(env.widget, ctx.player)
        ctx.tell("You pick it up.")

    def refuse(ctx: VerbContext, cmd: Command) -> None:
        ctx.tell("half")
        raise VerbError("No.")

    env.add(env.me, "tidy", "none none none", env.register("tidy", tidy))
    env.add(env.me, "refuse", "none none none", env.register("refuse", refuse))
    env.host.output_is_held = True
    env.events.clear()
    env.dispatcher.run(env.me, "tidy")
    env.dispatcher.run(env.me, "refuse")
    assert env.events == [
        ("answer begins", None),
        ("notify", (env.me, "You pick it up.")),
        ("commit", 1),
        ("notify", (env.me, "No.")),
    ]


def test_a_failed_command_does_not_spoil_the_next_one(env: Env) -> None:
    def failing(ctx: VerbContext, cmd: Command) -> None:
        ctx.world.rename(env.widget, "broken widget")
        raise RuntimeError

    env.add(env.me, "break", "none none none", env.register("fail_then", failing))
    env.batches.clear()
    assert env.run("break") == [INTERNAL_ERROR]
    assert env.run("get widget") == ["You take widget."]
    assert env.world.get(env.widget).name == "widget"
    assert len(env.batches) == 1


# ----------------------------------------------------------------- core verbs


def test_core_verbs_through_the_dispatcher(env: Env) -> None:
    assert env.run("look")[0] == "Test Room"
    assert env.run("get widget") == ["You take widget."]
    assert env.host.to(env.watcher) == ["Tester takes widget."]
    assert env.run("get widget") == ["You already have that."]
    assert env.run("inventory") == ["You are carrying:", "  gadget", "  widget"]
    assert env.run("drop wid") == ["You drop widget."]
    assert env.world.get(env.widget).location == env.room
    assert env.run("get lantern") == ['I see no "lantern" here.']


# ----------------------------------------------------------------------- matching


def test_match_object_special_words(env: Env) -> None:
    world, me = env.world, env.me
    assert match_object(world, me, "") == NOTHING
    assert match_object(world, me, "   ") == NOTHING
    assert match_object(world, me, "me") == me
    assert match_object(world, me, "ME") == me
    assert match_object(world, me, "here") == env.room
    assert match_object(world, me, "#14") == LANTERN
    assert match_object(world, me, "#999") == FAILED_MATCH
    assert match_object(world, me, "#-1") == FAILED_MATCH
    assert match_object(world, me, "#abc") == FAILED_MATCH
    assert match_object(world, me, "$room") == world.sys("room")
    assert match_object(world, me, "$nope") == FAILED_MATCH
    assert match_object(world, me, "$server_name") == FAILED_MATCH


def test_match_object_by_name_alias_and_prefix(env: Env) -> None:
    world, me = env.world, env.me
    assert match_object(world, me, "widget") == env.widget
    assert match_object(world, me, "  WIDGET ") == env.widget
    assert match_object(world, me, "wid") == env.widget  # alias
    assert match_object(world, me, "widg") == env.widget  # prefix
    assert match_object(world, me, "gadget") == env.gadget  # carried
    assert match_object(world, me, "watcher") == env.watcher
    assert match_object(world, me, "lantern") == FAILED_MATCH  # in another room
    assert match_object(world, me, "zzz") == FAILED_MATCH


def test_match_object_exact_beats_prefix_and_ties_are_ambiguous(env: Env) -> None:
    world, me = env.world, env.me
    thing = world.sys("thing")
    box = world.create(thing, WIZARD, "box", location=env.room)
    world.create(thing, WIZARD, "boxcar", location=env.room)
    assert match_object(world, me, "box") == box
    assert match_object(world, me, "boxc") != AMBIGUOUS
    world.create(thing, WIZARD, "ball one", location=env.room)
    world.create(thing, WIZARD, "ball two", location=me)
    assert match_object(world, me, "ball") == AMBIGUOUS
    world.create(thing, WIZARD, "w", aliases=["widget"], location=env.room)
    assert match_object(world, me, "widget") == AMBIGUOUS  # two exact matches


def test_match_object_for_a_player_nowhere(env: Env) -> None:
    env.world.move(env.me, NOTHING)
    assert match_object(env.world, env.me, "here") == NOTHING
    assert match_object(env.world, env.me, "gadget") == env.gadget
    assert match_object(env.world, env.me, "widget") == FAILED_MATCH
    assert match_object(env.world, 999, "widget") == FAILED_MATCH


def test_match_among_ignores_invalid_and_repeated_candidates(env: Env) -> None:
    world = env.world
    assert match_among(world, "widget", [999, env.widget, env.widget]) == env.widget
    assert match_among(world, "widget", []) == FAILED_MATCH


def test_match_player(env: Env) -> None:
    world = env.world
    assert match_player(world, "Watcher") == env.watcher
    assert match_player(world, " watcher ") == env.watcher
    assert match_player(world, "Wat") == env.watcher
    assert match_player(world, f"#{env.watcher}") == env.watcher
    assert match_player(world, f"#{env.widget}") == FAILED_MATCH
    assert match_player(world, "#999") == FAILED_MATCH
    assert match_player(world, "") == FAILED_MATCH
    assert match_player(world, "nobody-here") == FAILED_MATCH
    world.create(world.sys("player"), NOTHING, "Wattson", flags=Flag.PLAYER)
    assert match_player(world, "Wat") == AMBIGUOUS
    assert match_player(world, "watcher") == env.watcher


def test_the_verb_cache_follows_verb_and_parent_changes_and_rollbacks(env: Env) -> None:
    world = env.world
    cache = VerbCache(world)
    assert cache.lookup(env.widget, "zap") == ()
    zap = VerbDef("zap", env.me, "rxd", "this", "none", "none", "py:test.zap")
    world.add_verb(env.widget, zap)
    assert [verb for _definer, verb in cache.lookup(env.widget, "zap")] == [zap]
    with pytest.raises(RuntimeError), world.transaction():
        world.set_verbs(env.widget, [])
        assert cache.lookup(env.widget, "zap") == ()
        raise RuntimeError("undo")
    assert [verb for _definer, verb in cache.lookup(env.widget, "zap")] == [zap]
    world.set_parent(env.widget, world.sys("room"))
    assert [verb.names for _d, verb in cache.lookup(env.widget, "look")] == ["l*ook"]

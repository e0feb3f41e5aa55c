"""Mutation records, their encoding, and replay: applying the journal rebuilds the same world.

A seeded random sequence of every kind of mutation runs on a core world while an observer
stores each committed record the way a journal would (encoded, at commit). Applying the
decoded records to a fresh core world must give the same digest after every batch, and
applying the whole journal a second time must change nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from moo.errors import WorldError
from moo.world import mutations as m
from moo.world import replay
from moo.world.codec import decoder, digest_encoder, encoder
from moo.world.loader import build_core_world
from moo.world.model import Flag, MooObject, PropDef, VerbDef
from moo.world.values import NOTHING, ObjRef
from moo.world.world import World

WIZARD = 2
THING = 5
FIRST_ROOM = 10
LANTERN = 14

record_decoder = decoder(m.Mutation)


# ------------------------------------------------------------------------- codec


def roundtrip(value: Any) -> Any:
    return decoder(Any).decode(encoder.encode(value))


def test_objref_survives_encoding_and_stays_distinct_from_int() -> None:
    value = [ObjRef(3), 3, {"where": ObjRef(-1), "n": [ObjRef(2**40), "#3"]}, 1.5, "é☃"]
    decoded = roundtrip(value)
    assert decoded == value
    assert type(decoded[0]) is ObjRef and type(decoded[1]) is int
    assert decoded[2]["where"].id == NOTHING


def test_encoding_an_unknown_type_fails() -> None:
    with pytest.raises(NotImplementedError, match="cannot encode object"):
        encoder.encode([object()])


@pytest.mark.parametrize(
    "ext", [msgspec.msgpack.Ext(7, b"12345678"), msgspec.msgpack.Ext(1, b"1234")]
)
def test_decoding_an_unknown_or_malformed_extension_fails(ext: msgspec.msgpack.Ext) -> None:
    with pytest.raises(ValueError, match="unknown msgpack extension"):
        decoder(Any).decode(msgspec.msgpack.encode([ext]))


def test_digest_encoder_sorts_dict_keys() -> None:
    assert digest_encoder.encode({"b": 1, "a": {"y": 2, "x": ObjRef(1)}}) == digest_encoder.encode(
        {"a": {"x": ObjRef(1), "y": 2}, "b": 1}
    )
    assert encoder.encode({"b": 1, "a": 2}) != encoder.encode({"a": 2, "b": 1})


SAMPLE_OBJECT = MooObject(
    id=20,
    name="cup",
    parent=THING,
    owner=WIZARD,
    location=FIRST_ROOM,
    flags=int(Flag.READ),
    aliases=["mug"],
    contents=[21],
    propdefs={"fill": PropDef(owner=WIZARD, perms="rc")},
    props_data=msgspec.Raw(
        digest_encoder.encode({"fill": [ObjRef(4), 0.25], "description": "A cup."})
    ),
    verbs=[VerbDef("dr*ink", WIZARD, "rxd", "this", "none", "none", "py:x.drink")],
)

EVERY_RECORD: list[m.Mutation] = [
    m.Create(SAMPLE_OBJECT),
    m.Recycle(20),
    m.SetField(20, "name", "mug"),
    m.SetField(20, "aliases", ["a", "b"]),
    m.SetField(20, "owner", 3),
    m.SetField(20, "flags", 17),
    m.SetParent(20, NOTHING),
    m.Move(20, 11),
    m.SetProp(20, "fill", {"k": ObjRef(9)}),
    m.ClearProp(20, "fill"),
    m.DefineProp(20, "x", PropDef(owner=2, perms=""), [1, "2", 3.0]),
    m.UndefineProp(20, "x"),
    m.SetVerbs(20, [VerbDef("a b*c", 2, "rx", "any", "with/using", "this", "py:m.f")]),
    m.SetNextId(99),
    m.ResetNextId(30),
    m.Renumber(20, 16),
    m.SetPropInfo(20, "description", PropDef(owner=3, perms="rw")),
    m.SetPropInfo(20, "description", None),
    m.RenameProp(20, "fill", "level"),
]


@pytest.mark.parametrize("record", EVERY_RECORD, ids=lambda r: type(r).__name__)
def test_every_record_kind_roundtrips_through_the_codec(record: m.Mutation) -> None:
    decoded = record_decoder.decode(encoder.encode(record))
    assert type(decoded) is type(record)
    assert decoded == record


def test_record_decoder_refuses_an_unknown_tag() -> None:
    with pytest.raises(msgspec.ValidationError):
        record_decoder.decode(msgspec.msgpack.encode(["explode", 1]))


# ------------------------------------------------------------------------- apply


def test_apply_set_next_id_only_raises_it() -> None:
    world = World()
    world.apply(m.SetNextId(100))
    assert world.next_id == 100
    world.apply(m.SetNextId(5))
    assert world.next_id == 100


def test_apply_refuses_an_unknown_record() -> None:
    with pytest.raises(WorldError, match="unknown mutation record"):
        World().apply(m.Recycle)  # type: ignore[arg-type]


def test_every_record_kind_has_its_own_replay_function() -> None:
    # apply() finds a record's function by its exact type: a record kind added to
    # mutations.Mutation without one would be refused as unknown, live and in replay.
    assert set(replay._APPLIERS) == set(m.RECORD_TYPES)
    assert replay._CHANGE_VERBS.issubset(m.RECORD_TYPES)


def test_apply_create_places_the_object_and_raises_next_id() -> None:
    world = build_core_world()
    obj = record_decoder.decode(encoder.encode(m.Create(SAMPLE_OBJECT))).obj
    obj.contents = []
    world.apply(m.Create(obj))
    assert world.next_id == 21
    assert world.get(FIRST_ROOM).contents[-1] == 20
    assert 20 in world.children(THING)


def _live_records(action: Callable[[World], None]) -> tuple[World, list[bytes]]:
    """Run ``action`` on a core world; return it and the encoded records it committed."""
    world = build_core_world()
    stored: list[bytes] = []
    world.add_observer(lambda records: stored.extend(encoder.encode(r) for r in records))
    action(world)
    return world, stored


def apply_checked(world: World, record: m.Mutation) -> None:
    """``world.apply(record)``, but fail the test first if the record would close a parent loop.

    Only a replay over a later state can meet such a record (``apply`` then skips it); the
    replays checked with this helper start from a consistent state and must never meet one.
    """
    if isinstance(record, m.SetParent | m.Create):
        oid, parent = (
            (record.id, record.parent)
            if isinstance(record, m.SetParent)
            else (record.obj.id, record.obj.parent)
        )
        if parent != NOTHING and world.valid(parent) and world.is_a(parent, oid):
            pytest.fail(f"applying {record!r} would make a parent loop #{oid} -> #{parent}")
    world.apply(record)


def _replay(encoded: list[bytes], times: int = 1) -> World:
    world = build_core_world()
    for _ in range(times):
        for data in encoded:
            apply_checked(world, record_decoder.decode(data))
    return world


def _every_kind(world: World) -> None:
    bag = world.create(THING, WIZARD, "bag", location=FIRST_ROOM, aliases=["sack"])
    cls = world.create(THING, WIZARD, "class")
    world.define_prop(cls, "weight", 1, WIZARD, "rc")
    ball = world.create(cls, WIZARD, "ball", location=bag)
    world.set_prop(ball, "weight", 2)
    world.rename(ball, "red ball")
    world.set_aliases(ball, ["ball"])
    world.set_owner(ball, ball)
    world.set_flags(ball, Flag.READ | Flag.FERTILE)
    world.move(LANTERN, bag)
    world.set_prop(bag, "description", [ObjRef(ball), {"n": 1}])
    world.clear_prop(ball, "weight")
    world.set_verbs(bag, [VerbDef("open", WIZARD, "rxd", "this", "none", "none", "py:x.open")])
    world.set_parent(ball, THING)
    world.define_prop(cls, "tint", "red", WIZARD)
    world.undefine_prop(cls, "tint")
    world.set_prop_info(cls, "description", PropDef(owner=WIZARD, perms="rw"))
    world.rename_prop(cls, "weight", "mass")
    world.recycle(bag)
    world.renumber(ball)  # into the bag's number
    world.reset_next_id()


def test_every_kind_of_record_replays_to_the_same_world() -> None:
    live, stored = _live_records(_every_kind)
    kinds = {type(record_decoder.decode(d)).__name__ for d in stored}
    assert kinds >= {
        "Create",
        "Recycle",
        "SetField",
        "SetParent",
        "Move",
        "SetProp",
        "ClearProp",
        "DefineProp",
        "UndefineProp",
        "SetVerbs",
        "Renumber",
        "ResetNextId",
        "SetPropInfo",
        "RenameProp",
    }
    assert_same_world(_replay(stored), live)
    assert_same_world(_replay(stored, times=2), live)


@pytest.mark.parametrize("index", range(21))
def test_each_record_applied_twice_in_a_row_is_applied_once(index: int) -> None:
    _live, stored = _live_records(_every_kind)
    assert len(stored) == 21
    once, twice = build_core_world(), build_core_world()
    for i, data in enumerate(stored):
        once.apply(record_decoder.decode(data))
        twice.apply(record_decoder.decode(data))
        if i == index:
            twice.apply(record_decoder.decode(data))
        assert once.digest() == twice.digest(), i


def test_replay_over_a_later_state_when_the_journal_recycles_a_core_object() -> None:
    # A fuzzy snapshot can already hold the effect of the journal's later records: replaying
    # the journal from its start over such a state must end in the same world. Here the
    # snapshot no longer has the lantern, which the journal changes before recycling it.
    def action(world: World) -> None:
        world.set_prop(LANTERN, "description", "dented")
        world.move(LANTERN, 11)
        world.recycle(LANTERN)

    live, stored = _live_records(action)
    assert _replay(stored, times=2).digest() == live.digest()


def test_replay_over_a_later_state_keeps_the_order_of_contents() -> None:
    def action(world: World) -> None:
        world.move(LANTERN, 11)
        world.create(THING, WIZARD, "rake", location=11)

    live, stored = _live_records(action)
    assert live.get(11).contents == [LANTERN, 15]
    twice = _replay(stored, times=2)
    assert twice.get(11).contents == [LANTERN, 15]
    assert twice.digest() == live.digest()


def test_replay_over_a_later_state_after_reparenting() -> None:
    # The journal first puts #12 under #13, and later #13 under #12: replayed over the later
    # state, the first record would close a loop #12 -> #13 -> #12. apply() skips a record
    # that would make a loop (a later record holds the final value) instead of hanging.
    def action(world: World) -> None:
        world.set_parent(12, 13)
        world.set_parent(12, 6)
        world.set_parent(13, 12)

    live, stored = _live_records(action)
    world = _replay(stored)
    for data in stored:
        world.apply(record_decoder.decode(data))
    assert world.digest() == live.digest()


# ---------------------------------------------------------------- random sequence


PROP_NAMES = ["color", "size", "weight", "mood", "tags", "description", "note", "home"]
WORDS = ["cup", "box", "lamp", "rock", "tree", "door", "key", "Alice", "Bob", "", "  "]


def check_invariants(world: World) -> None:
    """Everything the world's own fields promise about each other."""
    objects = world.objects
    for oid, obj in objects.items():
        assert obj.id == oid
        assert obj.parent == NOTHING or obj.parent in objects, f"#{oid} parent"
        if obj.location != NOTHING:
            assert obj.location in objects, f"#{oid} location"
            assert objects[obj.location].contents.count(oid) == 1, f"#{oid} not in its location"
        assert len(set(obj.contents)) == len(obj.contents), f"#{oid} contents repeat"
        for item in obj.contents:
            assert item in objects and objects[item].location == oid, f"#{item} in #{oid}"
        for name in obj.props:
            assert world.has_prop(oid, name), f"#{oid}.{name} is not defined"
        for name in obj.propinfo:
            assert world.has_prop(oid, name), f"#{oid}.{name}'s info: not defined"
            assert name not in obj.propdefs, f"#{oid}.{name}'s info: defined here"
        assert len(list(world.ancestors(oid))) < len(objects) + 1
    for oid in range(-1, world.next_id + 2):
        expected = sorted(o.id for o in objects.values() if o.parent == oid and oid != NOTHING)
        assert sorted(world.children(oid)) == expected, f"children of #{oid}"
    players = {o.id for o in objects.values() if o.flags & Flag.PLAYER}
    assert set(world.player_ids()) == players
    for oid in players:
        assert world.player_by_name(objects[oid].name) == oid
    assert all(oid < world.next_id for oid in objects)


def assert_same_world(got: World, expected: World) -> None:
    """Equal digests; otherwise name the objects that differ."""
    if got.digest() == expected.digest():
        return
    ids = sorted(set(got.objects) | set(expected.objects))
    differ = [oid for oid in ids if got.objects.get(oid) != expected.objects.get(oid)]
    lines = [f"next_id {got.next_id} vs {expected.next_id}; objects differ: {differ}"]
    for oid in differ[:3]:
        lines.append(f"  got      {got.objects.get(oid)!r}"[:400])
        lines.append(f"  expected {expected.objects.get(oid)!r}"[:400])
    pytest.fail("\n".join(lines))


def index_state(world: World) -> tuple[dict[int, list[int]], dict[str, int]]:
    children = {oid: sorted(world.children(oid)) for oid in range(world.next_id + 2)}
    players = {world.objects[p].name.lower(): p for p in world.player_ids()}
    return children, players


class _Abort(Exception):
    pass


class Fuzzer:
    """Seeded random mutations of every kind, some refused, some in transactions."""

    def __init__(self, world: World, seed: int, *, recycle_core: bool) -> None:
        self.world = world
        self.rng = random.Random(seed)
        self.recycle_core = recycle_core
        self.created: list[int] = []
        self.counts: dict[str, int] = {}
        self.refused = 0
        self.rolled_back = 0

    # values and picks

    def value(self, depth: int = 0) -> Any:
        rng = self.rng
        kind = rng.randrange(8 if depth < 2 else 5)
        if kind == 0:
            return rng.randint(-(2**40), 2**40)
        if kind == 1:
            return rng.choice([0.0, -1.5, 3.25, 1e300, rng.random()])
        if kind == 2:
            return rng.choice(["", "plain", "ünïcödé ☃", "#5", "line\nbreak"])
        if kind == 3:
            return ObjRef(rng.randrange(-3, self.world.next_id + 3))
        if kind == 4:
            return rng.randrange(100)
        if kind in (5, 6):
            return [self.value(depth + 1) for _ in range(rng.randrange(4))]
        return {rng.choice(PROP_NAMES): self.value(depth + 1) for _ in range(rng.randrange(4))}

    def obj(self, *, allow_invalid: bool = True) -> int:
        if allow_invalid and self.rng.random() < 0.03:
            return self.rng.choice([NOTHING, self.world.next_id + 7, 999])
        return self.rng.choice(sorted(self.world.objects))

    def place(self) -> int:
        return NOTHING if self.rng.random() < 0.15 else self.obj()

    def name(self) -> str:
        return self.rng.choice(WORDS) + self.rng.choice(["", "", str(self.rng.randrange(5))])

    def verbs(self) -> list[VerbDef]:
        return [
            VerbDef(
                self.rng.choice(["zap", "l*ook", "foo*", "*"]),
                self.obj(allow_invalid=False),
                "rxd",
                self.rng.choice(["this", "any", "none"]),
                self.rng.choice(["none", "any", "with/using"]),
                self.rng.choice(["this", "any", "none"]),
                f"py:fuzz.v{self.rng.randrange(10)}",
            )
            for _ in range(self.rng.randrange(3))
        ]

    # operations

    def operation(self) -> Callable[[], None]:
        w, rng = self.world, self.rng
        kind = rng.choice(
            [
                "create",
                "create",
                "create_player",
                "recycle",
                "rename",
                "set_aliases",
                "set_owner",
                "set_flags",
                "set_parent",
                "move",
                "move",
                "set_prop",
                "set_prop",
                "clear_prop",
                "define_prop",
                "define_prop",
                "undefine_prop",
                "set_verbs",
                "add_verb",
                "renumber",
                "reset_next_id",
                "set_prop_info",
                "rename_prop",
            ]
        )
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if kind == "create":
            parent, owner, place = self.obj(), self.obj(), self.place()
            name = self.name()

            def create() -> None:
                self.created.append(w.create(parent, owner, name, location=place))

            return create
        if kind == "create_player":
            name = f"P{rng.randrange(12)}"
            return lambda: self.created.append(
                w.create(4, NOTHING, name, location=FIRST_ROOM, flags=Flag.PLAYER)
            )
        if kind == "recycle":
            pool = [o for o in self.created if w.valid(o)]
            if self.recycle_core:
                pool += [o for o in range(5, 15) if w.valid(o)]
            target = rng.choice(pool) if pool and rng.random() > 0.05 else 999
            return lambda: w.recycle(target)
        if kind == "rename":
            oid, name = self.obj(), self.name()
            if rng.random() < 0.2:
                name = f"P{rng.randrange(12)}"
            return lambda: w.rename(oid, name)
        if kind == "set_aliases":
            oid, aliases = self.obj(), [self.name() for _ in range(rng.randrange(3))]
            return lambda: w.set_aliases(oid, aliases)
        if kind == "set_owner":
            oid, owner = self.obj(), self.obj()
            return lambda: w.set_owner(oid, owner)
        if kind == "set_flags":
            oid, flags = self.obj(), rng.randrange(128)
            return lambda: w.set_flags(oid, flags)
        if kind == "set_parent":
            oid, parent = self.obj(), self.place()
            return lambda: w.set_parent(oid, parent)
        if kind == "move":
            oid, dest = self.obj(), self.place()
            return lambda: w.move(oid, dest)
        if kind == "renumber":
            oid = self.obj()
            return lambda: self.created.append(w.renumber(oid))
        if kind == "reset_next_id":
            return w.reset_next_id
        oid = self.obj()
        if kind == "set_prop":
            names = sorted({n for o in w.ancestors(oid) for n in o.propdefs})
            name = rng.choice(names) if names and rng.random() > 0.1 else rng.choice(PROP_NAMES)
            value = self.value()
            return lambda: w.set_prop(oid, name, value)
        if kind == "clear_prop":
            own = sorted(w.objects[oid].props) if w.valid(oid) else []
            name = rng.choice(own) if own and rng.random() > 0.2 else rng.choice(PROP_NAMES)
            return lambda: w.clear_prop(oid, name)
        if kind == "define_prop":
            name, value, owner = rng.choice(PROP_NAMES), self.value(), self.obj()
            mode = rng.choice(["r", "rw", "c", "rc", ""])
            return lambda: w.define_prop(oid, name, value, owner, mode)
        if kind == "undefine_prop":
            own = sorted(w.objects[oid].propdefs) if w.valid(oid) else []
            name = rng.choice(own) if own and rng.random() > 0.2 else rng.choice(PROP_NAMES)
            return lambda: w.undefine_prop(oid, name)
        if kind == "set_prop_info":
            names = (
                sorted({n for o in w.ancestors(oid) for n in o.propdefs}) if w.valid(oid) else []
            )
            name = rng.choice(names) if names and rng.random() > 0.1 else rng.choice(PROP_NAMES)
            info = None if rng.random() < 0.2 else PropDef(self.obj(), rng.choice(["r", "rw", "c"]))
            return lambda: w.set_prop_info(oid, name, info)
        if kind == "rename_prop":
            own = sorted(w.objects[oid].propdefs) if w.valid(oid) else []
            old = rng.choice(own) if own and rng.random() > 0.2 else rng.choice(PROP_NAMES)
            new = rng.choice([*PROP_NAMES, "Color", "SIZE"])
            return lambda: w.rename_prop(oid, old, new)
        if kind == "set_verbs":
            verbs = self.verbs()
            return lambda: w.set_verbs(oid, verbs)
        verb = VerbDef("x", WIZARD, "rxd", "none", "none", "none", "py:fuzz.x")
        return lambda: w.add_verb(oid, verb)

    def step(self, journal: list[list[bytes]]) -> None:
        """One top-level step: a single mutation, a committed group, or a group rolled back."""
        w = self.world
        before, batches = w.digest(), len(journal)
        roll = self.rng.random()
        if roll < 0.75:
            action = self.operation()
            try:
                action()
            except WorldError:
                self.refused += 1
                assert w.digest() == before
                assert len(journal) == batches
        elif roll < 0.9:
            with w.transaction():
                for _ in range(self.rng.randrange(2, 7)):
                    action = self.operation()
                    try:
                        action()
                    except WorldError:
                        self.refused += 1
            assert len(journal) - batches in (0, 1)
        else:
            indexes = index_state(w)
            created = list(self.created)
            with pytest.raises(_Abort), w.transaction():
                for _ in range(self.rng.randrange(1, 7)):
                    action = self.operation()
                    try:
                        action()
                    except WorldError:
                        self.refused += 1
                raise _Abort
            self.rolled_back += 1
            self.created = created
            assert w.digest() == before
            assert index_state(w) == indexes
            assert len(journal) == batches


def run_fuzz(
    seed: int, steps: int, *, recycle_core: bool
) -> tuple[World, list[list[bytes]], list[str], Fuzzer]:
    world = build_core_world()
    journal: list[list[bytes]] = []
    digests: list[str] = []

    def observer(records: list[m.Mutation]) -> None:
        assert records, "an empty batch was delivered"
        encoded = [encoder.encode(r) for r in records]
        for record, data in zip(records, encoded, strict=True):
            assert record_decoder.decode(data) == record
        journal.append(encoded)
        digests.append(world.digest())

    world.add_observer(observer)
    fuzzer = Fuzzer(world, seed, recycle_core=recycle_core)
    for _ in range(steps):
        fuzzer.step(journal)
        check_invariants(world)
    return world, journal, digests, fuzzer


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_mutations_replay_to_the_same_world(seed: int) -> None:
    live, journal, digests, fuzzer = run_fuzz(seed, 500, recycle_core=True)
    # The sequence really exercised everything, including refusals and rollbacks.
    assert set(fuzzer.counts) == {
        "create",
        "create_player",
        "recycle",
        "rename",
        "set_aliases",
        "set_owner",
        "set_flags",
        "set_parent",
        "move",
        "set_prop",
        "clear_prop",
        "define_prop",
        "undefine_prop",
        "set_verbs",
        "add_verb",
        "renumber",
        "reset_next_id",
        "set_prop_info",
        "rename_prop",
    }
    assert fuzzer.refused > 20 and fuzzer.rolled_back > 10
    assert len(journal) > 200
    assert live.digest() != build_core_world().digest()

    replayed = build_core_world()
    for number, batch in enumerate(journal):
        for data in batch:
            apply_checked(replayed, record_decoder.decode(data))
        assert replayed.digest() == digests[number], f"batch {number}"
    assert_same_world(replayed, live)
    check_invariants(replayed)
    assert index_state(replayed) == index_state(live)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_every_record_applied_twice_in_a_row_changes_nothing(seed: int) -> None:
    # The replay contract: a snapshot is consistent as of a journal position, and replay
    # starts there; a record that is applied again (a crash between apply and the journal's
    # position being recorded) must change nothing.
    live, journal, _digests, _fuzzer = run_fuzz(seed, 500, recycle_core=False)
    replayed = build_core_world()
    for batch in journal:
        for data in batch:
            apply_checked(replayed, record_decoder.decode(data))
            apply_checked(replayed, record_decoder.decode(data))
    assert_same_world(replayed, live)
    check_invariants(replayed)
    assert index_state(replayed) == index_state(live)

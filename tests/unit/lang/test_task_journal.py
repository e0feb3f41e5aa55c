"""Verb programs are world data: every change to them is a journaled mutation, replay
rebuilds them exactly, and records written before ``VerbDef.program`` existed still decode."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from moo.errors import WorldError
from moo.lang.task import Task
from moo.world import mutations as m
from moo.world.codec import decoder, encoder
from moo.world.loader import build_core_world
from moo.world.model import MOO_IMPL, VerbDef
from moo.world.values import ObjRef
from moo.world.world import World, clone
from tests.unit.lang.test_task_helpers import WIZARD, make

record_decoder = decoder(m.Mutation)


class OldVerbDef(msgspec.Struct, array_like=True):
    """VerbDef as it was before ``program``: seven fields."""

    names: str
    owner: int
    perms: str
    dobj: str
    prep: str
    iobj: str
    impl: str


def test_old_verb_records_decode_with_an_empty_program() -> None:
    old = OldVerbDef("l*ook", 2, "rxd", "any", "none", "none", "py:verbs.look.look")
    verb = decoder(VerbDef).decode(encoder.encode(old))
    assert verb.program == "" and verb.impl == "py:verbs.look.look"
    record = record_decoder.decode(msgspec.msgpack.encode(["verbs", 7, [old]]))
    assert isinstance(record, m.SetVerbs) and record.verbs[0].program == ""


def test_world_verb_methods_validate() -> None:
    world = build_core_world()
    with pytest.raises(WorldError, match="no verb 100"):
        world.set_verb_program(14, 99, "return 1;")
    oid = world.create(5, WIZARD, "gadget")
    world.add_verb(oid, VerbDef("go", WIZARD, "rxd", "this", "none", "this", MOO_IMPL))
    with pytest.raises(WorldError, match="needs at least one name"):
        world.set_verb_info(oid, 0, owner=WIZARD, perms="rx", names="  ")
    world.set_verb_program(oid, 0, "return 2;")
    assert world.objects[oid].verbs[0].program == "return 2;"


def test_verb_changes_from_moo_code_are_journaled_and_replay() -> None:
    tw = make()
    journal: list[bytes] = []
    base = copy_of(tw.world)  # the state the journal starts after, as a snapshot holds it
    assert base.digest() == tw.world.digest()
    tw.world.add_observer(lambda records: journal.extend(encoder.encode(r) for r in records))
    box = ObjRef(tw.box)

    def body(task: Task) -> Any:
        from moo.lang.builtins import BUILTINS

        def bi(name: str, *args: Any) -> Any:
            return BUILTINS[name].function(task, *args)

        bi("add_verb", box, [ObjRef(WIZARD), "rxd", "one"], ["this", "none", "this"])
        bi("add_verb", box, [ObjRef(WIZARD), "rxd", "two"], ["any", "with", "none"])
        assert bi("set_verb_code", box, "one", ["return 1;"]) == []
        assert bi("set_verb_code", box, "two", ['return "two";']) == []
        bi("set_verb_info", box, "two", [ObjRef(tw.prog), "rx", "two deux"])
        bi("set_verb_args", box, "deux", ["this", "none", "none"])
        bi("delete_verb", box, "one")
        return task.call_verb(box, "two", [])

    outcome = tw.run(WIZARD, body)
    assert outcome.value == "two"
    assert journal, "nothing was journaled"
    replayed = base
    for raw in journal:
        replayed.apply(record_decoder.decode(raw))
    assert replayed.digest() == tw.world.digest()
    verb = replayed.objects[tw.box].verbs[0]
    assert (verb.names, verb.owner, verb.program) == ("two deux", tw.prog, 'return "two";')
    assert (verb.dobj, verb.prep, verb.iobj, verb.impl) == ("this", "none", "none", MOO_IMPL)
    # applying the journal again changes nothing
    for raw in journal:
        replayed.apply(record_decoder.decode(raw))
    assert replayed.digest() == tw.world.digest()


def copy_of(world: World) -> World:
    copy = World()
    for oid, obj in world.objects.items():
        copy.objects[oid] = clone(obj)
    copy.next_id = world.next_id
    copy.rebuild_indexes()
    return copy


def test_a_failed_task_journals_nothing() -> None:
    tw = make()
    journal: list[Any] = []
    tw.world.add_observer(journal.append)

    def body(task: Task) -> Any:
        task.set_prop(ObjRef(tw.box), "name", "changed")
        raise KeyError("a bug")

    assert tw.run(WIZARD, body).status == "failed"
    assert journal == []

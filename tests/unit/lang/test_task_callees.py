"""``Task.call_verb``'s callee cache (``Scheduler.callees``): every change to verbs or
parents between two calls is seen, since the cache is dropped when ``world.verbs_epoch``
moves."""

from __future__ import annotations

import pytest

from moo.world.model import MOO_IMPL, VerbDef
from moo.world.values import Err, ObjRef
from tests.unit.lang.test_task_helpers import ROOM, THING, WIZARD, TaskWorld, make


@pytest.fixture
def tw() -> TaskWorld:
    return make()


def moo_verb(tw: TaskWorld, oid: int, names: str, source: str, perms: str = "rxd") -> None:
    tw.world.add_verb(oid, VerbDef(names, WIZARD, perms, "this", "none", "this", MOO_IMPL, source))


def call(tw: TaskWorld, text: str) -> object:
    outcome = tw.eval(WIZARD, f"return #{tw.box}:{text};")
    assert outcome.status in ("done", "error"), outcome
    return outcome.value


def test_a_changed_program_is_seen_by_the_next_call(tw: TaskWorld) -> None:
    moo_verb(tw, tw.box, "f", "return 1;")
    assert call(tw, "f()") == 1
    tw.world.set_verb_program(tw.box, 0, "return 2;")
    assert call(tw, "f()") == 2


def test_a_reparented_object_finds_its_new_parents_verbs(tw: TaskWorld) -> None:
    other = tw.world.create(1, WIZARD, "other", location=ROOM)
    moo_verb(tw, THING, "zzg", 'return "thing";')
    moo_verb(tw, other, "zzg", 'return "other";')
    assert call(tw, "zzg()") == "thing"
    tw.world.set_parent(tw.box, other)
    assert call(tw, "zzg()") == "other"


def test_a_verb_losing_x_or_removed_is_no_longer_called(tw: TaskWorld) -> None:
    moo_verb(tw, THING, "zzh", 'return "parent";')
    moo_verb(tw, tw.box, "zzh", 'return "own";')
    assert call(tw, "zzh()") == "own"
    tw.world.set_verb_info(tw.box, 0, owner=WIZARD, perms="rd", names="zzh")
    assert call(tw, "zzh()") == "parent"  # passed over without x, as LambdaMOO does
    tw.world.delete_verb(tw.box, 0)
    assert call(tw, "zzh()") == "parent"
    tw.world.delete_verb(THING, len(tw.world.objects[THING].verbs) - 1)
    assert call(tw, "zzh()") == Err.E_VERBNF


def test_a_new_owner_is_the_next_calls_programmer(tw: TaskWorld) -> None:
    moo_verb(tw, tw.box, "inner", "return caller_perms();")
    moo_verb(tw, tw.box, "who", "return this:inner();")
    assert call(tw, "who()") == ObjRef(WIZARD)
    tw.world.set_verb_info(tw.box, 1, owner=tw.prog, perms="rxd", names="who")
    assert call(tw, "who()") == ObjRef(tw.prog)


def test_a_renamed_verb_and_names_in_any_case(tw: TaskWorld) -> None:
    moo_verb(tw, tw.box, "old", "return verb;")
    assert call(tw, "old()") == "old"
    assert call(tw, "OLD()") == "OLD"  # the name as called, found without regard to case
    tw.world.set_verb_info(tw.box, 0, owner=WIZARD, perms="rxd", names="new")
    assert call(tw, "old()") == Err.E_VERBNF
    assert call(tw, "new()") == "new"


def test_a_recycled_object_is_invalid_even_with_its_verbs_cached(tw: TaskWorld) -> None:
    moo_verb(tw, tw.box, "f", "return 1;")
    assert call(tw, "f()") == 1
    tw.world.recycle(tw.box)
    assert call(tw, "f()") == Err.E_INVIND


def test_a_verb_that_does_not_compile_errs_on_every_call(tw: TaskWorld) -> None:
    tw.world.add_verb(
        tw.box, VerbDef("bad", WIZARD, "rxd", "this", "none", "this", MOO_IMPL, "x = ;")
    )
    assert call(tw, "bad()") == Err.E_INVARG
    assert call(tw, "bad()") == Err.E_INVARG
    tw.world.set_verb_program(tw.box, 0, "return 3;")
    assert call(tw, "bad()") == 3


def test_a_change_made_by_the_calling_task_itself_is_seen(tw: TaskWorld) -> None:
    moo_verb(tw, tw.box, "f", "return 1;")
    box = f"#{tw.box}"
    source = f'a = {box}:f(); set_verb_code({box}, "f", {{"return 5;"}}); return {{a, {box}:f()}};'
    outcome = tw.eval(WIZARD, source)
    assert outcome.value == [1, 5]


def test_one_call_site_calls_each_receivers_own_verb(tw: TaskWorld) -> None:
    other = tw.world.create(THING, WIZARD, "other", location=ROOM)
    moo_verb(tw, tw.box, "who", 'return "box";')
    moo_verb(tw, other, "who", 'return "other";')
    text = f"r = {{}}; for o in ({{#{tw.box}, #{other}, #{tw.box}}}) r = {{@r, o:who()}}; endfor"
    outcome = tw.eval(WIZARD, text + " return r;")
    assert outcome.value == ["box", "other", "box"]


def test_a_call_site_shared_by_two_worlds_calls_each_worlds_verb() -> None:
    first, second = make(), make()
    assert first.box == second.box  # the same object number, and the same compiled call site
    moo_verb(first, first.box, "which", "return 1;")
    moo_verb(second, second.box, "which", "return 2;")
    order = [first, first, second, second, first]  # a site is kept from a world's 2nd call
    assert [call(tw, "which()") for tw in order] == [1, 1, 2, 2, 1]


def test_a_call_site_takes_other_objrefs_of_its_object_and_checks_each_value(
    tw: TaskWorld,
) -> None:
    moo_verb(tw, tw.box, "one", "return 1;")
    # ``toobj`` makes a new ``ObjRef`` each time: the site holds an older one of the same object
    each = f'r = {{}}; for x in ({{"#{tw.box}", "#{tw.box}", 3, "#{tw.box}"}})'
    body = ' r = {@r, `(typeof(x) == STR ? toobj(x) | x):one() ! E_TYPE => "type"\'}; endfor'
    outcome = tw.eval(WIZARD, each + body + " return r;")
    assert outcome.value == [1, 1, "type", 1]


def test_a_verb_changed_by_its_own_calls_arguments_is_the_one_called(tw: TaskWorld) -> None:
    moo_verb(tw, tw.box, "f", "return 1;")
    box = f"#{tw.box}"
    change = f'set_verb_code({box}, "f", {{"return 2;"}})'
    source = f"a = {box}:f(); b = {box}:f({change}); return {{a, b, {box}:f()}};"
    assert tw.eval(WIZARD, source).value == [1, 2, 2]


def test_the_receiver_is_read_before_the_arguments_change_it(tw: TaskWorld) -> None:
    other = tw.world.create(THING, WIZARD, "other", location=ROOM)
    moo_verb(tw, tw.box, "who", 'return "box";')
    moo_verb(tw, other, "who", 'return "other";')
    source = f"x = #{tw.box}; r = {{}}; for i in [1..3] r = {{@r, x:who(x = #{other})}};"
    assert tw.eval(WIZARD, source + " endfor return r;").value == ["box", "other", "other"]


def test_errors_leaving_directly_called_verbs_have_each_frames_line(tw: TaskWorld) -> None:
    moo_verb(tw, tw.box, "inner", "x = 1;\nreturn y;")  # y unassigned: E_VARNF
    moo_verb(tw, tw.box, "outer", "a = 1;\nb = 2;\nreturn this:inner();")
    box = f"#{tw.box}"
    for _ in range(3):  # the call sites are filled by the first run: direct calls after
        outcome = tw.eval(WIZARD, f"return {box}:outer();")
        assert outcome.value == Err.E_VARNF
        assert outcome.traceback[:2] == [
            f"{box}:inner, line 2:  Variable not found",
            f"... called from {box}:outer, line 3",
        ]

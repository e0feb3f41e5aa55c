"""A textdump's database as this server's world (moo/textdump/importer.py): LambdaCore
whole, every property value and every per-object owner and permission as LambdaMOO would
answer them, its own MOO code running on it, and what cannot be held said, not guessed."""

from __future__ import annotations

from typing import Any

import pytest

from moo.commands.parser import PREPOSITIONS
from moo.lang.compiler import compile_program
from moo.lang.entries import run_eval
from moo.lang.scheduler import Scheduler
from moo.lang.task_api import Limits
from moo.textdump.importer import import_world
from moo.textdump.model import CLEAR, PF_CHOWN, PF_READ, PF_WRITE, DumpObject, Textdump
from moo.textdump.reader import read_textdump
from moo.world.model import MOO_IMPL, Flag
from moo.world.values import NOTHING, Err, ObjRef
from moo.world.world import World
from tests.unit.lang.test_lambdacore_verbs import lambdacore
from tests.unit.lang.test_task_helpers import FakeServices
from tests.unit.test_textdump_reader import small
from tests.unit.test_world_replay import check_invariants


@pytest.fixture(scope="module")
def core() -> tuple[Textdump, World]:
    dump = read_textdump(lambdacore().read_text(encoding="latin-1"))
    world, report = import_world(dump)
    assert (report.objects, report.verbs, report.programs) == (97, 1728, 1727)
    assert report.repaired == [] and report.dropped == []
    assert (report.forked_tasks, report.suspended_tasks) == (1, 0)
    return dump, world


def lambdamoo_value(dump: Textdump, oid: int, name: str) -> Any:
    """What LambdaMOO answers for ``oid.name``: its own value, else its ancestors'."""
    obj = dump.object(oid)
    while obj is not None:
        value = obj.propvals[dump.property_names(obj.id).index(name)].value
        if value is not CLEAR:
            return value
        obj = dump.object(obj.parent)
    raise AssertionError(f"#{oid}.{name} has no value anywhere")


def letters(perms: int) -> str:
    bits = ((PF_READ, "r"), (PF_WRITE, "w"), (PF_CHOWN, "c"))
    return "".join(letter for bit, letter in bits if perms & bit)


def test_lambdacore_is_a_consistent_world(core: tuple[Textdump, World]) -> None:
    _, world = core
    check_invariants(world)
    assert world.next_id == 97
    wizard = world.objects[2]
    assert wizard.name == "Wizard" and wizard.aliases == ["Wizard"]
    assert wizard.flags == int(Flag.PLAYER | Flag.PROGRAMMER | Flag.WIZARD)
    assert world.sys("room") == 3 and world.objects[3].name == "generic room"
    world.digest()  # every value encodes as a checkpoint writes it


def test_every_property_value_and_slot_is_lambdamoos(core: tuple[Textdump, World]) -> None:
    dump, world = core
    checked = 0
    for obj in dump.objects:
        assert obj is not None
        for name, prop in zip(dump.property_names(obj.id), obj.propvals, strict=True):
            if name == "aliases":
                continue  # the built-in field here (test_lambdacore_is_a_consistent_world)
            assert world.prop(obj.id, name, KeyError) == lambdamoo_value(dump, obj.id, name)
            found = world.prop_slot(obj.id, name)
            assert found is not None, f"#{obj.id}.{name}"
            assert (found[1].owner, found[1].perms) == (prop.owner, letters(prop.perms)), (
                f"#{obj.id}.{name}"
            )
            checked += 1
    assert checked > 3000


def test_every_verb_keeps_its_names_perms_args_and_program(core: tuple[Textdump, World]) -> None:
    dump, world = core
    login = world.objects[0].verbs[0]
    assert (login.names, login.owner, login.perms) == ("do_login_command", 2, "rxd")
    assert (login.dobj, login.prep, login.iobj, login.impl) == ("this", "none", "this", MOO_IMPL)
    for (oid, index), program in dump.programs.items():
        assert world.objects[oid].verbs[index].program == "\n".join(program)
    preps = {verb.prep for obj in world.objects.values() for verb in obj.verbs}
    assert {"any", "none", "with/using", "at/to", "in/inside/into"} <= preps


LAMBDACORE_CODE = [
    ('$string_utils:capitalize("hello")', "Hello"),
    ("$list_utils:sort({3, 1, 2})", [1, 2, 3]),
    ('$string_utils:english_list({"a", "b", "c"})', "a, b, and c"),
    ("$object_utils:isa(#2, $player)", 1),
    ('$string_utils:pronoun_sub("%N waves.", #2)', "Wizard waves."),
    ("$math_utils:gcd(12, 18)", 6),
    ("$time_utils:english_time(3725)", "1 hour, 2 minutes, and 5 seconds"),
    ("$set_utils:intersection({1, 2, 3}, {2, 3, 4})", [2, 3]),
    ('$code_utils:parse_verbref("#0:foo")', ["#0", "foo"]),
    ("$perm_utils:controls(#2, #1)", 1),
    # set_verb_args with the prepositions' numbers, "0" to "14", then a refusal: _fix_preps
    ("$code_utils:prepositions()", ["/".join(group) for group in PREPOSITIONS]),
    # verbs without the d bit: their errors are values, as LambdaMOO answers (quiet.py)
    ("$list_utils:passoc()", Err.E_TYPE),
    ("$string_utils:inside_quotes()", 0),
    ('$string_utils:match_stringlist("x")', ObjRef(-3)),
    # ``except e``: e[4] lists the frames the error left as LambdaMOO 1.8.1 does, each
    # {this, verb, programmer, verb location, player, line} (the last, ``;``'s own, left out)
    (
        "try $string_utils:title_list(5); except e (ANY) return e[4][1..$ - 1]; endtry",
        [
            [ObjRef(55), "map_verb", ObjRef(36), ObjRef(55), ObjRef(2), 3],
            [ObjRef(20), "title_list", ObjRef(36), ObjRef(20), ObjRef(2), 4],
        ],
    ),
    (
        'try $list_utils:map_arg($string_utils, "english_list", {5});'
        " except e (ANY) return e[4][1..$ - 1]; endtry",
        [
            [ObjRef(20), "english_list", ObjRef(36), ObjRef(20), ObjRef(2), 8],
            [ObjRef(55), "map_arg", ObjRef(2), ObjRef(55), ObjRef(2), 14],
        ],
    ),
]


@pytest.mark.parametrize(("source", "expected"), LAMBDACORE_CODE)
async def test_lambdacore_code_runs_on_it(
    core: tuple[Textdump, World], source: str, expected: Any
) -> None:
    _, world = core
    services = FakeServices()
    scheduler = Scheduler(world, services, foreground=Limits())
    services.moo_tasks = scheduler
    outcome = run_eval(scheduler, 2, source)
    assert outcome.status == "done", outcome.lines()
    assert outcome.value == expected


def test_a_reference_to_a_recycled_number_becomes_nothing_and_is_reported() -> None:
    text = small().replace("#2\nWizard\n\n7\n2\n-1\n", "#2\nWizard\n\n7\n2\n1\n")  # in #1
    world, report = import_world(read_textdump(text))
    assert world.objects[2].location == NOTHING
    assert report.repaired == ["#2's location #1 (no such object): #-1"]
    assert report.recycled == 1 and 1 not in world.objects


@pytest.mark.parametrize("chain", ["parent", "location"])
def test_a_loop_is_refused(chain: str) -> None:
    def thing(oid: int, other: int) -> DumpObject:
        parent, location = (other, NOTHING) if chain == "parent" else (NOTHING, other)
        return DumpObject(oid, f"thing {oid}", 0, NOTHING, location, -1, -1, parent, -1, -1)

    dump = Textdump(4, [thing(0, 1), thing(1, 0)], [], {}, [], 0, [])
    with pytest.raises(ValueError, match=f"#0's {chain} chain loops"):
        import_world(dump)


def test_the_small_dump_imports_with_its_values() -> None:
    world, _ = import_world(read_textdump(small()))
    assert world.prop(2, "things") == "mine" and world.prop(2, "answer") == 42
    assert world.prop(0, "things")[2] == ObjRef(-1)
    assert world.objects[0].verbs[0].program == 'return "hello";'


async def test_lambdacore_lists_an_objects_verbs_by_number(core: tuple[Textdump, World]) -> None:
    """``$object_utils:accessible_verbs`` calls ``verb_info(o, 1)``, ``(o, 2)``... until
    ``E_VERBNF``, as LambdaMOO answers past the last verb (it looped for ever here when
    that was ``E_INVARG``)."""
    _, world = core
    services = FakeServices()
    scheduler = Scheduler(world, services, foreground=Limits())
    services.moo_tasks = scheduler
    outcome = run_eval(scheduler, 2, "$object_utils:accessible_verbs($root_class)")
    assert outcome.status == "done", outcome.lines()
    assert outcome.value == [verb.names for verb in world.objects[1].verbs]


def test_every_verb_without_the_d_bit_compiles_as_such(core: tuple[Textdump, World]) -> None:
    """The 20 that answer with error values (moo/lang/quiet.py) compile that way too; the
    others compile as test_lambdacore_verbs checks."""
    _, world = core
    quiet = [v for o in world.objects.values() for v in o.verbs if "d" not in v.perms]
    assert len(quiet) == 20
    for verb in quiet:
        if verb.program:
            assert compile_program(verb.program, debug=False).filename.endswith(" !d>")

"""Reading LambdaMOO textdumps (moo/textdump/reader.py): LambdaCore-17May04 whole, a
small dump with every kind of value, and damaged files, each refused with the line."""

from __future__ import annotations

import pytest

from moo.textdump.model import CLEAR, NONE, PF_CHOWN, PF_READ, PREP_NONE
from moo.textdump.reader import TextdumpError, read_textdump
from moo.world.values import Err, ObjRef
from tests.unit.lang.test_lambdacore_verbs import lambdacore

SMALL = (
    "\n".join(
        [
            "** LambdaMOO Database, Format Version 4 **",
            *("3", "1", "0", "1", "2"),  # objects, programs, a dummy, users, the user #2
            "#0",
            *("System", "", "0", "2"),  # name, old handles, flags, owner
            *("-1", "-1", "-1", "-1", "2", "-1"),  # location contents next parent child sibling
            *("1", "hello", "2", "173", "-1"),  # one verb: names owner perms prep
            *("2", "answer", "things"),  # two property definitions
            "2",  # two property values:
            *("0", "42", "2", "5"),  # INT 42, owner #2, perms r+c
            *("4", "6", "0", "7", "2", "a string", "1", "-1", "3", "2", "9", "1.5"),
            *("4", "1", "0", "0", "2", "1"),  # ... {0}}, owner #2, perms r
            "#1 recycled",
            "#2",
            *("Wizard", "", "7", "2"),
            *("-1", "-1", "-1", "0", "-1", "-1"),
            "0",  # no verbs
            *("1", "wizardly"),
            "3",  # its own property first, then the parent's
            *("0", "1", "2", "1"),
            *("5", "2", "5"),  # answer: CLEAR (inherited)
            *("2", "mine", "2", "3"),
            *("#0:0", 'return "hello";', "."),
            *("0 clocks", "1 queued tasks", "0 3 1700000000 77"),
            *("0", "-111", "0 -7 -8 2 -9 2 0 -10 1", "No", "More", "Parse", "Infos"),
            *("hello", "hello", "2 variables", "x", "0", "5", "y", "6"),
            *("x = x + 1;", "."),
            *("0 suspended tasks", "1 active connections with listeners", "2 0"),
        ]
    )
    + "\n"
)


def small() -> str:
    return SMALL


def test_lambdacore_reads_whole() -> None:
    dump = read_textdump(lambdacore().read_text(encoding="latin-1"))
    assert dump.version == 4
    assert len(dump.objects) == 97 and all(obj is not None for obj in dump.objects)
    assert len(dump.programs) == 1727
    system = dump.objects[0]
    assert system is not None and system.name == "The System Object"
    login = system.verbs[0]
    assert (login.names, login.owner, login.prep) == ("do_login_command", 2, PREP_NONE)
    assert (login.dobj, login.iobj) == ("this", "this")  # "this none this", rxd
    names = dump.property_names(0)
    assert len(names) == len(system.propvals)
    assert system.propvals[names.index("login")].value == ObjRef(10)  # $login
    assert dump.programs[(0, 0)][0] == '"...This code should only be run as a server task...";'
    [task] = dump.forked_tasks
    assert (task.id, task.verb, task.first_lineno) == (1643574649, "disfunc", 9)
    assert task.program[0] == "for feature in (this.features)"
    assert dump.suspended_task_count == 0 and dump.connections == []


def test_every_kind_of_value_and_a_recycled_object() -> None:
    dump = read_textdump(small())
    system, recycled, wizard = dump.objects
    assert recycled is None and system is not None and wizard is not None
    assert dump.users == [2]
    assert [p.value for p in system.propvals] == [
        42,
        [7, "a string", ObjRef(-1), Err.E_DIV, 1.5, [0]],
    ]
    assert dump.property_names(2) == ["wizardly", "answer", "things"]
    assert [p.value for p in wizard.propvals] == [1, CLEAR, "mine"]
    assert system.propvals[0].perms == PF_READ | PF_CHOWN
    assert dump.programs == {(0, 0): ['return "hello";']}
    [task] = dump.forked_tasks
    assert task.variables == {"x": 5, "y": NONE} and task.program == ["x = x + 1;"]
    assert (task.id, task.start_time, task.this, task.player) == (77, 1700000000, 0, 2)
    assert dump.connections == [(2, 0)]


def test_windows_line_ends_read_the_same() -> None:
    assert read_textdump(small().replace("\n", "\r\n")) == read_textdump(small())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace("Format Version 4", "Format Version 5"), "newer than 4"),
        (lambda t: t.replace("** LambdaMOO", "** OtherMOO"), "line 1: expected the"),
        (lambda t: t[: t.index("#2\n")], "the file ends where object #2 should be"),
        (lambda t: t.replace("#2\nWizard", "#3\nWizard"), "expected object #2, found #3"),
        (lambda t: t.replace("4\n1\n0\n0", "4\n1\n12\n0"), "unknown value type 12"),
        (lambda t: t.replace("3\n2\n9\n1.5", "3\n99\n9\n1.5"), "no MOO error is numbered 99"),
        (lambda t: t.replace("9\n1.5", "9\nbig"), "a float should be here"),
        (lambda t: t.replace("#0:0", "#0:3"), "#0:3, which has no such verb"),
        (lambda t: t.replace("x = x + 1;\n.\n", "x = x + 1;\n"), "task 77 .it ends with a '.'"),
        (lambda t: t.replace("\n3\n0\n1\n2\n1\n", "\n2\n0\n1\n2\n1\n"), "#2 has 2"),
        (lambda t: t.replace("173", "rxd"), "its perms should be a number"),
        (lambda t: t.replace("2 variables", "2 vars"), "expected 'N variables'"),
        (lambda t: t.replace("\n2 0\n", "\n2 0 9\n"), "one or two numbers"),
        # Only ASCII digits with one optional minus are numbers, as LambdaMOO's strtol
        # reads them here; a verb's perms must unpack into LambdaMOO's bits and specs.
        (lambda t: t.replace("0 3 1700000000 77", "0 3 1700000000 --77"), "four numbers"),
        (lambda t: t.replace("\n2 0\n", "\n2 \u00b2\n"), "one or two numbers"),
        (lambda t: t.replace("\n173\n", "\n48\n"), "verb perms 48"),
        (lambda t: t.replace("\n173\n", "\n-1\n"), "verb perms -1"),
        (lambda t: t.replace("\n42\n", "\n+42\n"), "an integer should be a number"),
    ],
)
def test_a_damaged_file_is_refused_with_where(change: object, message: str) -> None:
    assert callable(change)
    with pytest.raises(TextdumpError, match=message):
        read_textdump(change(small()))


def test_deeply_nested_lists_are_refused_not_a_crash() -> None:
    nested = "4\n1\n" * 5000 + "0\n0\n"  # {{{...{0}...}}}, in the place of 42
    text = small().replace("\n0\n42\n", "\n" + nested, 1)
    with pytest.raises(TextdumpError, match="nested more than 100"):
        read_textdump(text)

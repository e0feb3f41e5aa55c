"""requirements.lock agrees with pyproject.toml: every dependency (and test extra) is pinned,
with hashes, at a version its specifier allows. ``./dev lock`` refreshes the lock after a change."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)")


def locked_pins(text: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in text.splitlines():
        match = PIN.match(line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def declared_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"]) + list(project["optional-dependencies"]["test"])
    return [Requirement(line) for line in lines]


def disagreements(requirements: list[Requirement], pins: dict[str, str]) -> list[str]:
    problems = []
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None:
            problems.append(f"{requirement.name} is not in requirements.lock")
        elif not requirement.specifier.contains(pinned, prereleases=True):
            problems.append(f"{requirement.name}=={pinned} does not satisfy {requirement}")
    return problems


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    pins = locked_pins((ROOT / "requirements.lock").read_text())
    assert disagreements(declared_requirements(), pins) == []


def test_every_pin_carries_a_hash() -> None:
    text = (ROOT / "requirements.lock").read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
    pinned = [block for block in blocks if PIN.match(block)]
    assert pinned, "requirements.lock pins nothing"
    assert [block.split()[0] for block in pinned if "--hash=sha256:" not in block] == []


def test_a_lock_that_lags_behind_pyproject_is_caught() -> None:
    pins = {"asyncssh": "2.13.0", "sqlalchemy": "2.0.30"}
    requirements = [
        Requirement("asyncssh>=2.24,<3"),
        Requirement("sqlalchemy>=2.0,<3"),
        Requirement("newthing>=1"),
    ]
    assert disagreements(requirements, pins) == [
        "asyncssh==2.13.0 does not satisfy asyncssh<3,>=2.24",
        "newthing is not in requirements.lock",
    ]

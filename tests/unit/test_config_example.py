"""config.example.yaml must document every key, with the defaults the code really uses."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from moo.config import Config, load

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


def _keys(value: object, prefix: str = "") -> set[str]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: set[str] = set()
        for field in dataclasses.fields(value):
            out |= _keys(getattr(value, field.name), f"{prefix}{field.name}.")
        return out
    return {prefix.rstrip(".")}


def test_example_config_loads_to_exactly_the_defaults() -> None:
    assert load(EXAMPLE) == Config()


def test_example_config_names_every_key() -> None:
    text = EXAMPLE.read_text()
    for key in _keys(Config()):
        assert f"{key.rsplit('.', 1)[-1]}:" in text, f"{key} is not documented in the example"

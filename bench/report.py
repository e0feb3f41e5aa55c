"""What every bench does with its figures: print them as JSON and keep them in
``bench/results/`` (git-ignored: the figures belong in the notes that quote them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def publish(result: dict[str, Any], path: Path) -> None:
    """Print ``result`` as indented JSON and write the same text to ``path``."""
    text = json.dumps(result, indent=2)
    print(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")

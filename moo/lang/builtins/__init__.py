"""Every builtin function, in one registry (``BUILTINS``), one module per family.

Importing this package imports each module in it, so a new family is a new file: nothing
here lists them.
"""

from __future__ import annotations

import importlib
import pkgutil

from moo.lang.builtins.registry import BUILTINS, Builtin, builtin

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["BUILTINS", "Builtin", "builtin"]

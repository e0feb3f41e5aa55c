"""Python verb code and its binding to objects.

A module under ``verbs/`` declares a verb with the ``@verb`` decorator, naming
the object by its ``$name`` (or ``#id``), the verb names and the argument spec:

    @verb("$room", "l*ook", "any any any")
    def look(ctx, cmd): ...

That adds a ``Binding`` to the registry. ``World`` keeps only the verb
*record* (``VerbDef``), whose ``impl`` is the verb's stable identity, ``"py:<target>:<first
name>"`` (``py:$room:l*ook``), not where its code lives: moving a function to another module
or renaming it changes nothing in a world. A verb whose first name changes keeps its
identity with ``key=`` (the old ``<target>:<first name>``). The dispatcher resolves an impl
here to the function; records written before identities (``py:<module>.<function>``) still
resolve, and ``loader.sync_verbs`` rewrites them at the next start.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from moo.errors import MooError

if TYPE_CHECKING:
    from moo.commands.context import VerbContext
    from moo.commands.parser import Command

VerbFunction = Callable[["VerbContext", "Command"], Any]

PY_SCHEME = "py:"


@dataclass(frozen=True)
class Binding:
    target: str  # "$room" or "#7"
    names: str
    dobj: str
    prep: str
    iobj: str
    perms: str
    impl: str


_functions: dict[str, VerbFunction] = {}
_bindings: list[Binding] = []
_by_code_path: dict[str, str] = {}  # "py:<module>.<function>" (the old impls) -> identity


def verb(
    target: str,
    names: str,
    args: str = "none none none",
    *,
    perms: str = "rxd",
    key: str | None = None,
) -> Callable[[VerbFunction], VerbFunction]:
    """Declare ``function`` as verb ``names`` on ``target`` with argument spec "dobj prep iobj";
    its identity is ``key`` or "<target>:<first name>" (ValueError if two verbs share one)."""
    parts = args.split()
    if len(parts) != 3:
        raise ValueError(f"verb {names!r}: argument spec must be 'dobj prep iobj', got {args!r}")
    dobj, prep, iobj = parts

    def decorate(function: VerbFunction) -> VerbFunction:
        impl = f"{PY_SCHEME}{key or target + ':' + names.split()[0]}"
        if impl in _functions and _functions[impl] is not function:
            raise ValueError(f"two verbs share the identity {impl!r}: give one a key=")
        _functions[impl] = function
        _by_code_path[f"{PY_SCHEME}{function.__module__}.{function.__qualname__}"] = impl
        _bindings.append(Binding(target, names, dobj, prep.replace("_", " "), iobj, perms, impl))
        return function

    return decorate


def load_verb_modules(package: str = "verbs") -> None:
    """Import every module of the verbs package so their decorators register."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__, prefix=f"{package}."):
        importlib.import_module(info.name)


def bindings() -> list[Binding]:
    return list(_bindings)


def current_identity(impl: str) -> str | None:
    """The identity an old ``py:<module>.<function>`` impl now has (None if unknown)."""
    return _by_code_path.get(impl)


def resolve(impl: str) -> VerbFunction:
    """The function behind a verb record's ``impl``; MooError when the code is missing."""
    function = _functions.get(impl) or _functions.get(_by_code_path.get(impl, ""))
    if function is None:
        raise MooError(f"The code for this verb ({impl}) is not installed on this server.")
    return function

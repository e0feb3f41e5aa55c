"""LambdaMOO's ``d`` (debug) bit: a verb without it does not raise.

In LambdaMOO every failing operation of a verb goes through ``PUSH_ERROR``: with the verb's
``d`` bit set the error is raised; without it, the error becomes the value of the expression
that failed and the verb goes on (``x = 1 / 0`` sets ``x`` to ``E_DIV``; ``raise(E_PERM)``
is ``E_PERM``; a statement that fails, such as ``{a} = {}`` or ``for x in (5)``, does
nothing). What a verb it *calls* raises is not its own failure: that error goes on up the
stack whatever the caller's bit, as in LambdaMOO.

The compiler writes such a verb (``codegen``, ``debug=False``) with each expression that
can fail in a closure called through ``quiet``, and each statement that can fail in a
``try`` that ``statement_failed`` decides. An error that has left a verb frame carries
traceback lines (``Task.left``): that is how one raised by a callee is told from one raised
here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moo.lang.errors import MooRaise
from moo.world.values import Err


def quiet(expression: Callable[[], Any]) -> Any:
    """The value of ``expression()``, or the MOO error it raised here (a variable read
    before it is assigned is ``E_VARNF``). An error from a verb it called goes on."""
    try:
        return expression()
    except MooRaise as error:
        if error.traceback:
            raise
        return error.code
    except NameError as error:  # a MOO variable (``v_name``) not yet assigned
        if not getattr(error, "name", "").startswith("v_"):
            raise  # a bug, not MOO code: it must not pass for E_VARNF
        return Err.E_VARNF


def statement_failed(error: MooRaise) -> None:
    """A failed statement of a verb without ``d``: nothing, unless the error came from a
    verb it called (then it goes on)."""
    if error.traceback:
        raise error

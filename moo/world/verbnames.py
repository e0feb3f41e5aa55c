"""MOO verb-name matching.

A verb record's ``names`` is a space-separated list; each name may hold one
``*``: ``l*ook`` matches "l", "lo", "loo" and "look"; ``foo*`` matches "foo"
followed by anything; a lone ``*`` matches every word. Matching ignores case.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4096)
def _patterns(names: str) -> tuple[tuple[str, str, bool], ...]:
    """Each name as (required prefix, optional rest, trailing-star)."""
    out = []
    for name in names.lower().split():
        star = name.find("*")
        if star < 0:
            out.append((name, "", False))
        elif star == len(name) - 1:
            out.append((name[:-1], "", True))
        else:
            out.append((name[:star], name[star + 1 :], False))
    return tuple(out)


def verbname_matches(names: str, word: str) -> bool:
    """True when ``word`` is one of ``names`` under MOO's wildcard rules."""
    word = word.lower()
    for required, optional, open_ended in _patterns(names):
        if open_ended:
            if word.startswith(required):
                return True
        elif optional:
            if word.startswith(required) and (required + optional).startswith(word):
                return True
        elif word == required:
            return True
    return False

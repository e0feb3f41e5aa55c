"""asyncssh, imported with its one known third-party deprecation warning silenced.

cryptography 46+ deprecates DSA, and asyncssh 2.24 touches ``dsa.DSAPrivateKey`` and friends
while importing (``asyncssh/crypto/misc.py`` and ``asyncssh/crypto/dsa.py``), so every import
printed about a dozen ``CryptographyDeprecationWarning`` lines, and under pytest's
``filterwarnings = ["error"]`` it failed collection. We never offer DSA keys; the warning says
nothing an operator can act on.

Every module of ours imports asyncssh from here, so the filter is installed before asyncssh's
first import in every process (the server, the SSH gate, the tests' own SSH clients go through
pytest's identical filter in pyproject.toml). The filter names the category, the message and
the two emitting modules: any other warning still shows (and is an error under pytest).

Remove this module (import asyncssh directly again) once an asyncssh release stops touching
DSA at import, or when the lock moves to a cryptography that no longer has DSA at all.
"""

from __future__ import annotations

import warnings

from cryptography.utils import CryptographyDeprecationWarning

DSA_WARNING_MODULES = r"asyncssh\.crypto\.(dsa|misc)"


def silence_known_warnings() -> None:
    """Ignore cryptography's DSA deprecation when asyncssh's crypto modules raise it, only then."""
    warnings.filterwarnings(
        "ignore",
        message="DSA is deprecated",
        category=CryptographyDeprecationWarning,
        module=DSA_WARNING_MODULES,
    )


silence_known_warnings()

import asyncssh  # noqa: E402  (the filter above must be in place first)

__all__ = ["asyncssh", "silence_known_warnings"]

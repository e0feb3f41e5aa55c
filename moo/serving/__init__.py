"""The layers of ``moo.server.Server``, listed in moo/server.py's docstring.

A package rather than ``moo/server_*.py`` modules so that the import-linter contracts
(pyproject.toml) forbid it under one name, as they forbid ``moo.server``.
"""

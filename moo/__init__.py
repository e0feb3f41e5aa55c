"""A MOO-style text world server."""

__version__ = "0.1.0"

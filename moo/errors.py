"""One error tree for the server, caught at the boundary (the session loop).

Verbs raise these; the session catches them, the player gets one clear line
(``str(error)``), and only unexpected exceptions reach the log with a traceback.
"""

from __future__ import annotations


class MooError(Exception):
    """Base of every error the server raises on purpose."""


class ConfigError(MooError):
    """A config file or flag is wrong; the message names the key and the bad value."""


class VerbError(MooError):
    """A command could not be carried out; the message is shown to the player."""


class PermissionDenied(VerbError):
    """The player may not do this; the message says what was refused."""


class WorldError(MooError):
    """A world operation was invalid (bad id, recursive move, recycled object...)."""


class CheckpointError(MooError):
    """Writing or reading a checkpoint failed."""


class ProtocolError(MooError):
    """A peer sent bytes that break a wire protocol (gate frames, handoff messages)."""


class ChannelClosed(ProtocolError):
    """The other side of a hot upgrade's control channel closed it (it called it off)."""

"""Every message that crosses a process boundary, as typed msgspec Structs.

One module per conversation, each with its protocol version carried by its first message:

- ``gate.py``: the SSH gate <-> the world server (``GATE_PROTOCOL``), msgpack frames.
- ``upgrade.py``: a running server <-> its hot-upgrade replacement (``HANDOFF_PROTOCOL``).

A message that does not decode is a ``moo.errors.ProtocolError`` naming what was wrong;
a first message with another version is refused with an error naming both versions.
"""

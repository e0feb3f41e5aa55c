"""Tell systemd how the server is doing (``sd_notify(3)``), when it runs as a unit.

What the server sends (see deploy/moo.service):

- ``READY=1`` after a cold start, once every listener is accepting (by default the
  front sends it, once the first engine is attached; engines behind it are started
  without ``$NOTIFY_SOCKET`` and say nothing: the front stays the unit's main process);
- with ``--single-process``, ``MAINPID=<pid>\\nREADY=1`` from the replacement after a
  hot upgrade: the main pid has changed, and systemd only believes a pid sent by a
  process other than the main one when the unit has ``NotifyAccess=all``. The
  replacement must send it before the old server exits, or systemd sees its main
  process gone and stops the unit;
- ``STOPPING=1`` when shutdown begins.

Why hand-written: the protocol is one datagram of ``KEY=VALUE`` lines on an AF_UNIX
socket named by ``$NOTIFY_SOCKET`` (a path, or the abstract namespace when it starts
with ``@``), about twenty lines here; the libraries that do it (``systemd-python``,
``sdnotify``) would be a dependency, and the first a C build, for that.

``notify`` never raises: systemd that cannot be told is logged, never a reason to
stop serving. Without ``$NOTIFY_SOCKET`` (not under systemd) it does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)

# sendto on a datagram socket blocks only while the receiver's queue is full; systemd
# drains it at once, so this bound is for a stuck manager, not for normal use.
SEND_TIMEOUT = 2.0


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``state`` (newline-separated ``KEY=VALUE`` lines) to ``$NOTIFY_SOCKET``.

    ``environ`` defaults to ``os.environ``. Returns True when the datagram was sent,
    False when NOTIFY_SOCKET is unset or empty, not a path or ``@name``, or sending
    failed (logged as a warning). Never raises. Blocks at most SEND_TIMEOUT seconds.
    """
    env = os.environ if environ is None else environ
    where = env.get("NOTIFY_SOCKET", "")
    if not where:
        return False
    if where.startswith("@"):
        address = "\0" + where[1:]
    elif where.startswith("/"):
        address = where
    else:
        log.warning("NOTIFY_SOCKET=%r is neither a path nor @name; systemd not told", where)
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.settimeout(SEND_TIMEOUT)
            sock.sendto(state.encode(), address)
    except OSError as error:
        log.warning("cannot tell systemd %r through %s: %s", state, where, error)
        return False
    return True

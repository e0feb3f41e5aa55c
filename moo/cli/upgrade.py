"""``moo upgrade``: ask a running server to upgrade, roll back, or say how it stands.

One request over the data dir's admin socket (``moo.upgrade.admin``); every message's
text is printed as it arrives. Exit codes: 0 the final message says ok, 1 it says the
server refused or failed, 2 no answer (no server, timeout, a bad config or option; the
reason as ``moo: <reason>`` on stderr, printed by ``cli.main``). ``--data-dir`` defaults
to the config's ``data_dir`` (``data`` without a config), as for ``moo checkpoint``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moo.config import load
from moo.errors import MooError
from moo.upgrade.admin import admin_request, admin_socket_path

Out = Callable[[str], None]

DEFAULT_TIMEOUT = 300.0


def add_upgrade_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    text = "hot-upgrade a running server, roll it back, or show the upgrade status"
    upgrade = sub.add_parser("upgrade", help=text, description=text)
    upgrade.add_argument(
        "--to",
        metavar="CMD",
        help="the replacement's command line, split by shell rules "
        "(default: the running server's own)",
    )
    upgrade.add_argument(
        "--rollback", action="store_true", help="go back to the server that ran before"
    )
    upgrade.add_argument(
        "--status", action="store_true", help="only show the state (not with --to or --rollback)"
    )
    upgrade.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="the running server's data directory (default: the config's)",
    )
    upgrade.add_argument(
        "--config", type=Path, metavar="FILE", help="YAML config file (for data_dir)"
    )
    upgrade.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"seconds to wait for the final answer (default: {DEFAULT_TIMEOUT:g})",
    )


def upgrade_request(args: argparse.Namespace) -> dict[str, Any]:
    """The request for these options. Raises MooError for a bad combination."""
    if args.status:
        if args.to is not None or args.rollback:
            raise MooError("upgrade: --status cannot be combined with --to or --rollback")
        return {"op": "status"}
    return {"op": "upgrade", "to": args.to, "rollback": args.rollback}


def run(args: argparse.Namespace, out: Out = print) -> int:
    """Send the request and print the replies. Returns 0 or 1; raises MooError (exit 2)."""
    request = upgrade_request(args)
    if not args.timeout > 0:
        raise MooError(f"upgrade: --timeout must be more than 0 seconds, got {args.timeout:g}")
    data_dir = args.data_dir or load(args.config).data_dir

    def show(message: dict[str, Any]) -> None:
        text = message.get("text")
        if isinstance(text, str):
            out(text)

    final = admin_request(admin_socket_path(data_dir), request, show, args.timeout)
    return 0 if final.get("ok") is True else 1

"""The ``moo`` command: ``serve`` runs the server, ``checkpoint`` manages a data dir's
checkpoints (printing in ``checkpoint_cli.py``), ``script`` plays a transcript against one,
``upgrade`` asks a running server to hot-upgrade (``upgrade_cli.py``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from moo import __version__, upgrade_cli
from moo.config import Config, env_wizard_password, load, parse_listen, with_overrides
from moo.errors import MooError


def _print(line: str) -> None:
    print(line, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moo", description="A MOO-style text world server.")
    parser.add_argument("--version", action="version", version=f"moo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--config", type=Path, help="YAML config file (see config.example.yaml)")
    serve.add_argument("--data-dir", type=Path, help="where the world and keys are kept")
    serve.add_argument("--telnet", metavar="HOST:PORT", help="telnet address (port 0: any; 'off')")
    serve.add_argument("--ssh", metavar="HOST:PORT", help="SSH address (port 0: any; 'off')")
    serve.add_argument(
        "--web", metavar="HOST:PORT", help="web client address (port 0: any; 'off', the default)"
    )
    serve.add_argument(
        "--wizard-password", metavar="PW", help="set the wizard's password (or MOO_WIZARD_PASSWORD)"
    )
    serve.add_argument(
        "--force-recover",
        action="store_true",
        help="start even if recovery must drop damaged journal records",
    )
    # A hot upgrade starts the replacement with the control channel's fd (moo/upgrade/).
    serve.add_argument("--upgrade-fd", type=int, help=argparse.SUPPRESS)

    add_checkpoint_parser(sub)
    upgrade_cli.add_upgrade_parser(sub)

    script = sub.add_parser("script", help="play a transcript over telnet and check the replies")
    script.add_argument("file", type=Path, help="the transcript (see tests/transcripts/)")
    script.add_argument("--host", default="127.0.0.1")
    script.add_argument("--port", type=int, default=7777)
    script.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait for each expected line"
    )
    script.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="substitute ${NAME} in the transcript (repeatable)",
    )
    return parser


def add_checkpoint_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``moo checkpoint ACTION``; each action takes ``--data-dir`` and ``--config``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir", type=Path, help="the data directory (default: the config's, else ./data)"
    )
    common.add_argument(
        "--config", type=Path, help="YAML config file (data_dir, retention, records_url)"
    )
    checkpoint = sub.add_parser(
        "checkpoint", help="list, verify, prune, archive or restore a data dir's checkpoints"
    )
    actions = checkpoint.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, text: str) -> argparse.ArgumentParser:
        return actions.add_parser(name, parents=[common], help=text, description=text)

    action("list", "one row per checkpoint, newest first (header checks only)")
    show = action("show", "every header field, the record and the journal after it")
    show.add_argument("id", metavar="ID", help="a generation number or 'latest'")
    verify = action("verify", "full checksum of one checkpoint or all; exit 1 if any fails")
    verify.add_argument("id", metavar="ID", nargs="?", help="default: all")
    rm = action("rm", "delete one checkpoint (never the only one that verifies)")
    rm.add_argument("id", metavar="ID")
    prune = action("prune", "delete old checkpoints (never the newest that verifies)")
    prune.add_argument("--keep", type=int, metavar="N", help="default: persist.keep_checkpoints")
    prune.add_argument("--max-age", metavar="AGE", help="also delete older than AGE: 7d, 12h, 30m")
    prune.add_argument("--dry-run", action="store_true", help="say what would be deleted")
    action("usage", "bytes and files used by checkpoints, journal and records")
    archive = action("archive", "write a checkpoint and the journal after it to a tar.gz")
    archive.add_argument("id", metavar="ID")
    archive.add_argument("file", metavar="FILE.tar.gz", type=Path)
    extract = action("extract", "check an archive completely, then make it the data dir's world")
    extract.add_argument("file", metavar="FILE.tar.gz", type=Path)
    extract.add_argument(
        "--force", action="store_true", help="move an existing world aside to DIR.replaced-TIME"
    )
    restore = action("restore", "go back to a checkpoint (newer files are moved aside)")
    restore.add_argument("id", metavar="ID")


def serve_config(args: argparse.Namespace) -> Config:
    config = load(args.config)
    telnet = parse_listen("--telnet", args.telnet, config.telnet) if args.telnet else None
    ssh = parse_listen("--ssh", args.ssh, config.ssh) if args.ssh else None
    web = parse_listen("--web", args.web, config.web) if args.web else None
    return with_overrides(
        config,
        data_dir=args.data_dir,
        telnet=telnet,
        ssh=ssh,
        web=web,
        wizard_password=args.wizard_password or env_wizard_password(),
    )


def serve_arguments(argv: list[str]) -> list[str]:
    """This ``serve`` command's own arguments, to give a hot-upgrade replacement again."""
    rest = argv[argv.index("serve") + 1 :] if "serve" in argv else []
    kept: list[str] = []
    skip = False
    for word in rest:
        if skip:
            skip = False
        elif word == "--upgrade-fd":
            skip = True
        elif not word.startswith("--upgrade-fd="):
            kept.append(word)
    return kept


def run_serve(args: argparse.Namespace, argv: list[str]) -> int:
    from moo.app import serve

    config = serve_config(args)
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every job run
    logging.getLogger("websockets").setLevel(logging.WARNING)  # and this every page served
    main = serve(
        config,
        _print,
        force_recover=args.force_recover,
        serve_args=serve_arguments(argv),
        upgrade_fd=args.upgrade_fd,
    )
    if config.event_loop == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return run_serve(args, argv)
        if args.command == "checkpoint":
            from moo.checkpoint_cli import run

            return run(args, _print)
        if args.command == "upgrade":
            return upgrade_cli.run(args, _print)
        if args.command == "script":
            from moo.script import run_script_command

            return run_script_command(args)
    except MooError as error:
        print(f"moo: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2

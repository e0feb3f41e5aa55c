"""The ``moo`` command: ``serve`` runs the server, ``checkpoint`` manages a data dir's
checkpoints (printing in ``cli/checkpoint.py``), ``script`` plays a transcript against one,
``upgrade`` asks a running server to hot-upgrade (``cli/upgrade.py``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

from moo import __version__
from moo.cli import upgrade as upgrade_cli
from moo.config import Config, env_wizard_password, load, parse_listen, with_overrides
from moo.errors import MooError


def _print(line: str) -> None:
    """One line to stdout in one write: a front and its engine share the stream, and
    ``print`` writes the text and its newline separately when Python's output is
    unbuffered (PYTHONUNBUFFERED), so another process's line could land between them
    (seen: "telnet listening on ...metrics listening on ...", and a test waiting for its
    ``metrics`` line saw none)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


LINK_SECRET_HELP = "the TCP engine link's shared secret (default: DATA_DIR/link-secret)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moo", description="A MOO-style text world server.")
    parser.add_argument("--version", action="version", version=f"moo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--config", type=Path, help="YAML config file (see config.example.yaml)")
    where.add_argument("--data-dir", type=Path, help="where the world and keys are kept")
    listen = argparse.ArgumentParser(add_help=False)
    listen.add_argument("--telnet", metavar="HOST:PORT", help="telnet address (port 0: any; 'off')")
    listen.add_argument("--ssh", metavar="HOST:PORT", help="SSH address (port 0: any; 'off')")
    listen.add_argument(
        "--telnet-tls", metavar="HOST:PORT", help="telnet over TLS address (default: off)"
    )
    listen.add_argument(
        "--web", metavar="HOST:PORT", help="web client address (port 0: any; 'off', the default)"
    )
    metrics = argparse.ArgumentParser(add_help=False)
    metrics.add_argument(
        "--metrics", metavar="HOST:PORT", help="Prometheus metrics address (default: off)"
    )
    world = argparse.ArgumentParser(add_help=False)
    world.add_argument(
        "--wizard-password", metavar="PW", help="set the wizard's password (or MOO_WIZARD_PASSWORD)"
    )
    world.add_argument(
        "--force-recover",
        action="store_true",
        help="start even if recovery must drop damaged journal records",
    )

    serve = sub.add_parser("serve", parents=[where, listen, metrics, world], help="run the server")
    serve.add_argument(
        "--single-process",
        action="store_true",
        help="one process holds the connections and the world (config single_process);"
        " by default a front holds them and restarts the engine behind it if it dies,"
        " with nobody disconnected",
    )
    # What the default was asked with before it became the default (accepted, no effect).
    serve.add_argument("--front", action="store_true", help=argparse.SUPPRESS)
    # A hot upgrade starts the replacement with the control channel's fd (moo/upgrade/).
    serve.add_argument("--upgrade-fd", type=int, help=argparse.SUPPRESS)

    front = sub.add_parser(
        "front", parents=[where, listen], help="hold the connections; engines attach to it"
    )
    front.add_argument(
        "--spawn-engine",
        action="store_true",
        help="start the engine itself, and another whenever it dies (moo serve does)",
    )
    front.add_argument(
        "--engine-listen",
        metavar="HOST:PORT",
        help="also take engines over TCP here (authenticated with the link secret; port 0: any)",
    )
    front.add_argument("--link-secret-file", type=Path, help=LINK_SECRET_HELP)
    engine = sub.add_parser(
        "engine", parents=[where, metrics, world], help="run the world behind a front"
    )
    engine.add_argument(
        "--front-socket", type=Path, help="the front's socket (default: DATA_DIR/run/front.sock)"
    )
    engine.add_argument(
        "--front-address", metavar="HOST:PORT", help="attach to the front over TCP instead"
    )
    engine.add_argument("--link-secret-file", type=Path, help=LINK_SECRET_HELP)
    engine.add_argument("--upgrade-fd", type=int, help=argparse.SUPPRESS)
    # A front's spare engine: imports, then waits for "go" on stdin (moo/engine/spare.py).
    engine.add_argument("--spare", action="store_true", help=argparse.SUPPRESS)

    sub.add_parser("status", parents=[where], help="the processes running on a data directory")
    export = sub.add_parser(
        "export", parents=[where], help="write the world as a LambdaMOO textdump (may run live)"
    )
    export.add_argument("file", type=Path, metavar="FILE", help="the textdump to write")
    imports = sub.add_parser(
        "import", parents=[where], help="make a LambdaMOO textdump a new data directory's world"
    )
    imports.add_argument("file", type=Path, metavar="FILE", help="the textdump to read")
    imports.add_argument(
        "--force", action="store_true", help="move an existing world aside to DIR.replaced-TIME"
    )

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


LISTEN_FLAGS = {
    "telnet": "--telnet",
    "ssh": "--ssh",
    "telnet_tls": "--telnet-tls",
    "metrics": "--metrics",
    "web": "--web",
    "engine_listen": "--engine-listen",
}


def serve_config(args: argparse.Namespace) -> Config:
    """The config file with the command line's overrides (each listener, the data dir,
    the wizard's password); a subcommand without one of the flags leaves it as it is."""
    config = load(args.config)
    listens = {
        key: parse_listen(flag, value, getattr(config, key))
        for key, flag in LISTEN_FLAGS.items()
        if (value := getattr(args, key, None))
    }
    link = replace(
        config.link,
        front_address=getattr(args, "front_address", None) or config.link.front_address,
        secret_file=getattr(args, "link_secret_file", None) or config.link.secret_file,
    )
    return with_overrides(
        config,
        data_dir=args.data_dir,
        wizard_password=getattr(args, "wizard_password", None) or env_wizard_password(),
        link=link,
        **listens,
    )


def serve_arguments(argv: list[str], command: str = "serve") -> list[str]:
    """This ``serve`` (or ``engine``) command's own arguments, to give a hot-upgrade
    replacement again."""
    rest = argv[argv.index(command) + 1 :] if command in argv else []
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


def _start_logging(config: Config, process: str) -> None:
    logging.basicConfig(
        level=config.log_level.upper(),
        format=f"%(asctime)s %(levelname)s {process}%(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every job run
    logging.getLogger("websockets").setLevel(logging.WARNING)  # and this every page served


def run_serve(args: argparse.Namespace, argv: list[str]) -> int:
    """A front that starts the engine behind it, or with ``--single-process`` (or config
    ``single_process``) the whole server in this process. A single-process server's hot
    upgrade starts its replacement as ``moo serve ... --upgrade-fd N``: one process too."""
    config = serve_config(args)
    single = args.single_process or config.single_process or args.upgrade_fd is not None
    if args.front and single:
        raise MooError("serve: --front and --single-process (or single_process) contradict")
    if not single:
        return run_front(args, spawn=True)
    from moo.app import serve

    _start_logging(config, "")
    main = serve(
        config,
        _print,
        force_recover=args.force_recover,
        serve_args=serve_arguments(argv),
        upgrade_fd=args.upgrade_fd,
    )
    return _run_loop(config, main)


def run_front(args: argparse.Namespace, *, spawn: bool) -> int:
    """``moo front`` (``moo serve``: with ``spawn``, the front starts the engine;
    the wizard password reaches it in MOO_WIZARD_PASSWORD, never on a command line)."""
    from moo.front.process import engine_command, serve_front

    config = serve_config(args)
    _start_logging(config, "front ")
    if config.wizard_password is not None:
        os.environ["MOO_WIZARD_PASSWORD"] = config.wizard_password
    command = None
    if spawn:
        force = bool(getattr(args, "force_recover", False))
        command = engine_command(
            args.config, config.data_dir, force, getattr(args, "metrics", None)
        )
    return _run_loop(config, serve_front(config, _print, command=command))


def run_engine(args: argparse.Namespace, argv: list[str]) -> int:
    if args.spare:
        from moo.engine.spare import wait_for_go

        code = wait_for_go()
        if code is not None:
            return code
        argv = [word for word in argv if word != "--spare"]
    from moo.engine.process import serve_engine

    config = serve_config(args)
    _start_logging(config, "engine ")
    main = serve_engine(
        config,
        _print,
        front_socket=args.front_socket,
        force_recover=args.force_recover,
        engine_args=serve_arguments(argv, "engine"),
        upgrade_fd=args.upgrade_fd,
    )
    return _run_loop(config, main)


def _run_loop(config: Config, main: Coroutine[Any, Any, int]) -> int:
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
        if args.command == "front":
            return run_front(args, spawn=args.spawn_engine)
        if args.command == "engine":
            return run_engine(args, argv)
        if args.command == "status":
            from moo.cli.status import print_status

            return print_status(serve_config(args).data_dir, _print)
        if args.command == "import":
            from moo.cli.importing import run_import

            return run_import(serve_config(args), args.file, args.force, _print)
        if args.command == "export":
            from moo.cli.export import run_export

            return run_export(serve_config(args), args.file, _print)
        if args.command == "checkpoint":
            from moo.cli.checkpoint import run

            return run(args, _print)
        if args.command == "upgrade":
            return upgrade_cli.run(args, _print)
        if args.command == "script":
            from moo.cli.script import run_script_command

            return run_script_command(args)
    except MooError as error:
        print(f"moo: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2

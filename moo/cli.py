"""The ``moo`` command: ``serve`` runs the server, ``script`` plays a transcript against one."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from moo.config import Config, env_wizard_password, load, parse_listen, with_overrides
from moo.errors import MooError


def _print(line: str) -> None:
    print(line, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moo", description="A MOO-style text world server.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--config", type=Path, help="YAML config file (see config.example.yaml)")
    serve.add_argument("--data-dir", type=Path, help="where the world and keys are kept")
    serve.add_argument("--telnet", metavar="HOST:PORT", help="telnet address (port 0: any; 'off')")
    serve.add_argument("--ssh", metavar="HOST:PORT", help="SSH address (port 0: any; 'off')")
    serve.add_argument(
        "--wizard-password", metavar="PW", help="set the wizard's password (or MOO_WIZARD_PASSWORD)"
    )
    serve.add_argument(
        "--force-recover",
        action="store_true",
        help="start even if recovery must drop damaged journal records",
    )

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


def serve_config(args: argparse.Namespace) -> Config:
    config = load(args.config)
    telnet = parse_listen("--telnet", args.telnet, config.telnet) if args.telnet else None
    ssh = parse_listen("--ssh", args.ssh, config.ssh) if args.ssh else None
    return with_overrides(
        config,
        data_dir=args.data_dir,
        telnet=telnet,
        ssh=ssh,
        wizard_password=args.wizard_password or env_wizard_password(),
    )


def run_serve(args: argparse.Namespace) -> int:
    from moo.app import serve

    config = serve_config(args)
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if config.event_loop == "uvloop":
        import uvloop

        return uvloop.run(serve(config, _print, force_recover=args.force_recover))
    return asyncio.run(serve(config, _print, force_recover=args.force_recover))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return run_serve(args)
        if args.command == "script":
            from moo.script import run_script_command

            return run_script_command(args)
    except MooError as error:
        print(f"moo: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2

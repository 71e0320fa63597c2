"""The ``chanwatch`` command line: run, login, migrate, health."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="chanwatch",
        description="Self-hosted Telegram channel monitor with keyword alerts.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="run the service (needs a logged-in user session)")
    sub.add_parser("login", help="log the user account in interactively, once")
    sub.add_parser("migrate", help="apply database migrations and exit")
    sub.add_parser("health", help="exit 0 if the running service wrote a fresh heartbeat")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the chosen command; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    print(f"chanwatch: {args.command} is not implemented yet", file=sys.stderr)
    return 1

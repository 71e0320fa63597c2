"""``chanwatch web [--host 127.0.0.1 --port 8001]``: the archive in a browser, read-only.

Datasette over the database (bot/web/). Listening anywhere but on the loopback needs
``WEB_PASSWORD`` (environment or .env), and then every request must carry it (HTTP Basic
with any user name, or ``Authorization: Bearer …``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import ipaddress
import sys

from bot.cli_tools import Tool
from bot.cli_tools.archive import (
    ToolError,
    _environment,
    add_database_arguments,
    cache_dir,
    database_path,
    fail,
    time_zone,
)

INSTALL_HINT = ("the web view needs Datasette: pip install 'chanwatch[web]'"
                " (make installs it)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The tool's arguments."""
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; any other needs"
                             " WEB_PASSWORD)")
    parser.add_argument("--port", type=int, default=8001, help="port (default 8001)")
    add_database_arguments(parser)


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach the address."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def password(args: argparse.Namespace) -> str | None:
    """WEB_PASSWORD from the environment or .env (None when unset or blank)."""
    value = _environment(getattr(args, "env_file", ".env")).get("WEB_PASSWORD", "")
    return value if value.strip() else None


def run(args: argparse.Namespace) -> int:
    """Check everything, then serve until stopped; the exit code."""
    if importlib.util.find_spec("datasette") is None:
        return fail(INSTALL_HINT)
    secret = password(args)
    if not is_loopback(args.host) and secret is None:
        return fail(f"refusing to serve the archive on {args.host} without a password:"
                    " set WEB_PASSWORD (or use --host 127.0.0.1)")
    if not 0 < args.port < 65536:
        return fail(f"--port must be between 1 and 65535, not {args.port}")
    try:
        return serve(args, secret)
    except ToolError as exc:
        return fail(str(exc))


def serve(args: argparse.Namespace, secret: str | None) -> int:
    """Open the archive, listen, and serve it."""
    from bot.clock import SystemClock
    from bot.match import Lemmatizer
    from bot.regions.places import PlaceMatcher
    from bot.web.plugin import ChanwatchPlugin
    from bot.web.site import DATABASE, SchemaError, build_app, listen, table_names
    from bot.web.site import serve as serve_app

    path = database_path(args)
    tz = time_zone(args)
    if not path.is_file():
        raise ToolError(f"no database at {path} (set DATA_DIR or DATABASE_PATH, or pass --db)")
    try:
        table_names(path)
    except SchemaError as exc:
        raise ToolError(str(exc)) from None
    try:
        sock = listen(args.host, args.port)
    except OSError as exc:
        raise ToolError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
                        ) from None
    with sock:
        lemmatizer = Lemmatizer()
        places = PlaceMatcher.cached(lemmatizer, cache_dir(path))
        plugin = ChanwatchPlugin(DATABASE, lemmatizer, places, SystemClock(), tz)
        ds, app = build_app(path, plugin, secret)
        host = f"[{args.host}]" if ":" in args.host else args.host
        guard = "password required" if secret else "no password: this machine only"
        print(f"chanwatch: the archive, read-only, at http://{host}:{args.port}/{DATABASE}"
              f" ({guard}; Ctrl+C stops)", file=sys.stderr, flush=True)
        asyncio.run(serve_app(ds, app, sock))
    return 0


TOOL = Tool("web", "the archive in a browser (Datasette, read-only)", add_arguments, run)

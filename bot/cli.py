"""The ``chanwatch`` command line: run, login, migrate, health."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.clock import SystemClock
from bot.config import ConfigError, Settings, load_settings, secrets_of
from bot.logs import configure_logging

if TYPE_CHECKING:
    from bot.telegram.login import Prompts

log = logging.getLogger(__name__)

# Exit codes a container supervisor can act on.
EXIT_OK = 0
EXIT_FAILURE = 1  # unexpected crash: restart
EXIT_NOT_LOGGED_IN = 3  # run `chanwatch login` first: restarting will not help
EXIT_TEMPFAIL = 75  # Telegram unreachable or database busy: restart later
EXIT_CONFIG = 78  # configuration error: fix .env, restarting will not help
STOP_TIMEOUT = 5.0
# Login: Telethon sleeps through shorter flood waits; longer ones are reported and end the login.
LOGIN_FLOOD_SLEEP = 10
HEALTH_MAX_AGE = 90


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="chanwatch",
        description="Self-hosted Telegram channel monitor with keyword alerts.",
        epilog="Settings come from the environment and ./.env; see README.md.",
    )
    parser.add_argument("--env-file", default=".env", help="settings file (default: ./.env)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="run the service (needs a logged-in user session)")
    sub.add_parser("login", help="log the user account in interactively, once")
    sub.add_parser("migrate", help="apply database migrations and exit")
    health = sub.add_parser("health",
                            help="exit 0 if the running service wrote a fresh heartbeat")
    health.add_argument("--verbose", action="store_true",
                        help="and print the whole report (clients, channels, outbox, media,"
                             " sizes), as /health does")
    match = sub.add_parser(
        "match", help="filter JSON lines {\"id\", \"text\"} from stdin through a rule"
    )
    match.add_argument("rule", help='a rule, e.g. \'дрон* AND (Шебекино OR Shebekino)\'')
    sub.add_parser(
        "tag-regions",
        help="JSON lines {\"id\", \"text\"} from stdin → regions and places mentioned",
    )
    demo = sub.add_parser(
        "demo", help="try chanwatch offline: a fake Telegram, real posts, the real service"
    )
    demo.add_argument("--posts", type=_positive_int, default=80,
                      help="how many sample posts to replay (default 80, at most 339)")
    demo.add_argument("--speed", type=float, default=10.0,
                      help="posts per second during the replay (default 10)")
    demo.add_argument("--interactive", action="store_true",
                      help="after the script, type commands as the admin yourself")
    demo.add_argument("--data-dir", type=Path, default=None,
                      help="keep the demo's database here (default: a new temporary folder)")
    from bot.cli_tools import tools

    for tool in tools():
        tool.add_arguments(sub.add_parser(tool.name, help=tool.help))
    return parser


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the chosen command; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    if args.command == "health":
        return cmd_health(args.env_file, verbose=args.verbose)
    if args.command == "tag-regions":
        return cmd_tag_regions(sys.stdin, sys.stdout)
    if args.command == "match":
        return cmd_match(args.rule, sys.stdin, sys.stdout)
    from bot.cli_tools import tools

    for tool in tools():
        if args.command == tool.name:
            return tool.run(args)
    if args.command == "demo":
        from bot.sandbox.demo import DemoOptions
        from bot.sandbox.demo import main as demo_main

        # The demo needs no settings: it makes its own, pointing at the fake Telegram.
        configure_logging("WARNING")
        return demo_main(DemoOptions(args.posts, args.speed, args.interactive, args.data_dir))
    try:
        settings = load_settings(env_file=args.env_file)
    except ConfigError as exc:
        print(f"chanwatch: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level, settings.log_format, secrets_of(settings))
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    if args.command == "login":
        return _login_until_ctrl_c(settings)
    return asyncio.run(run_service(settings))


async def _migrate(settings: Settings) -> int:
    from bot.store import Database, MigrationError, apply_migrations

    db = await Database.open(settings.database_path)
    try:
        applied = await apply_migrations(db, SystemClock())
    except MigrationError as exc:
        print(f"chanwatch: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        await db.close()
    print(f"chanwatch: {len(applied)} migration(s) applied to {settings.database_path}")
    return EXIT_OK


async def cmd_login(settings: Settings, prompts: Prompts | None = None) -> int:
    """Log the user account in, asking on the terminal (or through `prompts`); the exit code."""
    from bot.telegram.clients import disconnect, make_client
    from bot.telegram.login import LoginStopped, LoginWait, log_in, terminal_prompts

    client = make_client(settings, settings.user_session_path,
                         flood_sleep_threshold=LOGIN_FLOOD_SLEEP)
    try:
        done = await log_in(client, prompts or terminal_prompts())
    except LoginWait as exc:
        print(f"chanwatch: {exc}", file=sys.stderr)
        return EXIT_TEMPFAIL
    except LoginStopped as exc:
        print(f"chanwatch: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except (ConnectionError, OSError) as exc:
        print(f"chanwatch: cannot reach Telegram: {exc}", file=sys.stderr)
        return EXIT_TEMPFAIL
    finally:
        await disconnect(client)
    state = "already logged in" if done.already else "logged in"
    print(f"chanwatch: {state} as {done.name} (id {done.user_id});"
          f" session saved to {settings.user_session_path}")
    return EXIT_OK


def _login_until_ctrl_c(settings: Settings) -> int:
    try:
        return asyncio.run(cmd_login(settings))
    except KeyboardInterrupt:  # Ctrl-C while waiting for Telegram; at a prompt it is handled
        if sys.stderr.isatty():
            print(file=sys.stderr)  # off the line the terminal echoed ^C on
        print("chanwatch: login stopped (Ctrl-C; the account is not logged in)", file=sys.stderr)
        return EXIT_FAILURE


async def run_service(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT; return the exit code."""
    from bot.app import App
    from bot.media.ocr import OcrUnavailable
    from bot.store import MigrationError, StoreBusy
    from bot.telegram.clients import NotLoggedIn

    app = App(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await app.start()
    except NotLoggedIn as exc:
        print(f"chanwatch: {exc}. Run `chanwatch login` once first"
              " (in a container: docker compose run --rm chanwatch login).", file=sys.stderr)
        return EXIT_NOT_LOGGED_IN
    except MigrationError as exc:
        print(f"chanwatch: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except OcrUnavailable as exc:
        print(f"chanwatch: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (StoreBusy, ConnectionError, OSError) as exc:
        print(f"chanwatch: cannot start: {exc}", file=sys.stderr)
        return EXIT_TEMPFAIL
    failed = asyncio.ensure_future(app.tasks.failed.wait())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({failed, stopping}, return_when=asyncio.FIRST_COMPLETED)
    failed.cancel()
    stopping.cancel()
    log.info("stopping")
    try:
        await asyncio.wait_for(app.stop(), STOP_TIMEOUT)
    except TimeoutError:
        log.error("shutdown took longer than %.0fs", STOP_TIMEOUT)
        return EXIT_FAILURE
    finally:
        _ignore_signals_from_now_on(loop)
    return EXIT_FAILURE if app.tasks.failed.is_set() else EXIT_OK


def _ignore_signals_from_now_on(loop: asyncio.AbstractEventLoop) -> None:
    """Stopped: a further SIGTERM (an impatient operator, a supervisor repeating it) must not
    kill the exiting process with -15. Closing the loop would put the default action back;
    the loop's handlers are removed here and the signals ignored instead."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
        signal.signal(sig, signal.SIG_IGN)


def cmd_health(env_file: str, *, verbose: bool = False) -> int:
    """Healthy when the heartbeat file is younger than HEALTH_MAX_AGE seconds; ``verbose``
    also prints the report /health shows, from the database and status.json."""
    from dotenv import dotenv_values

    env: dict[str, str] = {}
    if Path(env_file).is_file():
        env = {k: v for k, v in dotenv_values(env_file).items() if v}
    env.update(os.environ)
    data_dir = Path(env.get("DATA_DIR") or "./data")
    path = data_dir / "heartbeat"
    try:
        age: float | None = dt.datetime.now(dt.UTC).timestamp() - path.stat().st_mtime
    except FileNotFoundError:
        age = None
    if age is None:
        print(f"unhealthy: no heartbeat at {path}")
        code = EXIT_FAILURE
    elif age > HEALTH_MAX_AGE:
        print(f"unhealthy: last heartbeat {age:.0f}s ago")
        code = EXIT_FAILURE
    else:
        print(f"healthy: last heartbeat {age:.0f}s ago")
        code = EXIT_OK
    if verbose:
        db_raw = env.get("DATABASE_PATH", "").strip()
        db_path = Path(db_raw) if db_raw else data_dir / "chanwatch.sqlite3"
        lines = (asyncio.run(_health_report(db_path, data_dir)) if db_path.is_file()
                 else [f"no database at {db_path}"])
        for line in lines:
            print(line)
    return code


async def _health_report(db_path: Path, data_dir: Path) -> list[str]:
    from bot.services.health import LiveState, gather, render
    from bot.store import Database, Store

    db = await Database.open(db_path)
    try:
        report = await gather(Store(db, SystemClock()), db_path, data_dir,
                              LiveState.read(data_dir), dt.datetime.now(dt.UTC))
    finally:
        await db.close()
    return render(report)


def cmd_match(rule: str, lines: TextIO, out: TextIO) -> int:
    """Read JSON lines with id and text (and optional channel); print the matching ones.

    Output: one JSON line {"id": …, "spans": [[start, end], …]} per matching post; spans are
    character offsets into its text. A malformed rule or input line is reported on stderr.
    """
    from bot.match import CompiledRule, Lemmatizer, RuleIndex, RuleSyntaxError, parse_rule
    from bot.match.query import RegionFilter, leaves

    try:
        query = parse_rule(rule)
    except RuleSyntaxError as exc:
        print(f"chanwatch: cannot understand the rule: {exc.message}\n{exc.pointer()}",
              file=sys.stderr)
        return 2
    lemmatizer = Lemmatizer()
    places = None
    if any(isinstance(leaf, RegionFilter) for leaf in leaves(query)):
        places = _places(lemmatizer)
    try:
        index = RuleIndex.build(lemmatizer, [CompiledRule(0, 0, query)], places)
    except ValueError as exc:  # a region: that names no single place
        print(f"chanwatch: {exc}", file=sys.stderr)
        return 2
    reader = _JsonLines(lines)
    for item, text in reader:
        channel = item.get("channel")
        hits = index.match(text, channel if isinstance(channel, str) else None)
        if hits:
            spans = [list(span) for span in hits[0].spans]
            out.write(json.dumps({"id": item.get("id"), "spans": spans}, ensure_ascii=False)
                      + "\n")
    return 1 if reader.bad else 0


def cmd_tag_regions(lines: TextIO, out: TextIO) -> int:
    """For every JSON line {"id", "text"}: the first-level regions and places it mentions."""
    from bot.match import Lemmatizer

    places = _places(Lemmatizer())
    reader = _JsonLines(lines)
    for item, text in reader:
        hits = places.find(text)
        out.write(json.dumps({
            "id": item.get("id"),
            "regions": sorted({h.region for h in hits}),
            "places": [{"name": h.text, "span": [h.start, h.end], "place": h.place.id,
                        "region": h.region} for h in hits],
        }, ensure_ascii=False) + "\n")
    return 1 if reader.bad else 0


def _places(lemmatizer: Any) -> Any:
    """The place matcher for CLI tools, compiled once into the user's cache directory."""
    from bot.regions.places import PlaceMatcher

    cache = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "chanwatch"
    return PlaceMatcher.cached(lemmatizer, cache)


class _JsonLines:
    """Objects with a string "text" from JSON lines; bad lines are reported and counted."""

    def __init__(self, lines: TextIO) -> None:
        self._lines = lines
        self.bad = 0

    def __iter__(self) -> Iterator[tuple[dict[str, Any], str]]:
        for number, line in enumerate(self._lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                text = item["text"]
                if not isinstance(text, str):
                    raise TypeError("text must be a string")
            except (ValueError, KeyError, TypeError) as exc:
                self.bad += 1
                print(f"chanwatch: line {number} skipped: {exc}", file=sys.stderr)
                continue
            yield item, text

"""What every archive tool opens: the database, the dictionaries, the gazetteer, search."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from bot.archive.search import ArchiveSearch
from bot.clock import Clock, SystemClock
from bot.match import Lemmatizer
from bot.regions.places import PlaceMatcher
from bot.store import Database, Store, apply_migrations


class ToolError(Exception):
    """Bad input for a tool: printed as one line, exit code 2."""


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """--db and --tz, shared by the archive tools."""
    parser.add_argument("--db", type=Path, default=None,
                        help="the database file (default: DATABASE_PATH, else"
                             " $DATA_DIR/chanwatch.sqlite3)")
    parser.add_argument("--tz", default=None,
                        help="time zone for dates typed and shown (default: TIMEZONE, else UTC)")


def _environment(env_file: str) -> Mapping[str, str]:
    merged: dict[str, str] = {}
    if Path(env_file).is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ)
    return merged


def database_path(args: argparse.Namespace) -> Path:
    """The database the tool works on."""
    if args.db is not None:
        return Path(args.db).expanduser()
    env = _environment(getattr(args, "env_file", ".env"))
    if env.get("DATABASE_PATH", "").strip():
        return Path(env["DATABASE_PATH"].strip()).expanduser()
    return Path(env.get("DATA_DIR", "").strip() or "./data").expanduser() / "chanwatch.sqlite3"


def media_dir(args: argparse.Namespace) -> Path:
    """The media store: $DATA_DIR/media, or beside the database named by --db."""
    if args.db is None:
        data_dir = _environment(getattr(args, "env_file", ".env")).get("DATA_DIR", "").strip()
        if data_dir:
            return Path(data_dir).expanduser() / "media"
    return database_path(args).parent / "media"


def time_zone(args: argparse.Namespace) -> ZoneInfo:
    """The zone dates are read and shown in."""
    raw = args.tz or _environment(getattr(args, "env_file", ".env")).get("TIMEZONE") or "UTC"
    try:
        return ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolError(
            f"unknown time zone {raw!r} (use an IANA name such as Europe/Kyiv)") from None


def cache_dir(db_path: Path) -> Path:
    """Where the compiled gazetteer is cached: beside the database, as the service does."""
    return db_path.parent / "cache"


@dataclass
class Archive:
    """An open archive for one tool run."""

    db: Database
    store: Store
    lemmatizer: Lemmatizer
    places: PlaceMatcher
    search: ArchiveSearch
    clock: Clock
    path: Path


@asynccontextmanager
async def open_archive(args: argparse.Namespace, *, create: bool = False,
                       ) -> AsyncIterator[Archive]:
    """Open (and migrate) the database; ToolError if it does not exist and ``create`` is off."""
    path = database_path(args)
    if not create and not path.is_file():
        raise ToolError(f"no database at {path} (set DATA_DIR or DATABASE_PATH, or pass --db)")
    clock = SystemClock()
    db = await Database.open(path)
    try:
        await apply_migrations(db, clock)
        lemmatizer = Lemmatizer()
        places = PlaceMatcher.cached(lemmatizer, cache_dir(path))
        store = Store(db, clock)
        yield Archive(db, store, lemmatizer, places, ArchiveSearch(store, lemmatizer, places),
                      clock, path)
    finally:
        await db.close()


@asynccontextmanager
async def open_store(args: argparse.Namespace) -> AsyncIterator[tuple[Store, Path]]:
    """The database alone (migrated), for tools that need no word forms or places."""
    path = database_path(args)
    if not path.is_file():
        raise ToolError(f"no database at {path} (set DATA_DIR or DATABASE_PATH, or pass --db)")
    clock = SystemClock()
    db = await Database.open(path)
    try:
        await apply_migrations(db, clock)
        yield Store(db, clock), path
    finally:
        await db.close()


def fail(message: str) -> int:
    """Print one line for the user; the exit code for bad input."""
    print(f"chanwatch: {message}", file=sys.stderr)
    return 2

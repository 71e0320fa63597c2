"""``chanwatch backup [--db FILE] [--dir DIR] [--keep N]``: an online backup now.

The same as the service's own (bot/store/backup.py): SQLite's backup API, one consistent
moment, while the service runs; checked with integrity_check before it gets its name.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from bot.cli_tools import Tool
from bot.cli_tools.archive import database_path, fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The tool's arguments."""
    parser.add_argument("--db", type=Path, default=None,
                        help="the database file (default: DATABASE_PATH, else"
                             " $DATA_DIR/chanwatch.sqlite3)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where to write it (default: backups/ beside the database)")
    parser.add_argument("--keep", type=int, default=None,
                        help="then delete all but the newest N backups there")


def run(args: argparse.Namespace) -> int:
    """Take the backup; print where it went."""
    from bot.store.backup import BackupError, take_backup

    db = database_path(args)
    folder = args.dir if args.dir is not None else db.parent / "backups"
    if args.keep is not None and args.keep < 1:
        return fail("--keep must be at least 1")
    try:
        taken = take_backup(db, folder, dt.datetime.now(dt.UTC), keep=args.keep)
    except BackupError as exc:
        print(f"chanwatch: {exc}", file=sys.stderr)
        return 1
    print(taken.path)
    print(f"chanwatch: backup of {db} written: {taken.size / 1e6:.1f} MB in"
          f" {taken.seconds:.1f} s, integrity ok", file=sys.stderr)
    return 0


TOOL = Tool("backup", "an online backup of the database, checked", add_arguments, run)

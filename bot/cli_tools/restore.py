"""``chanwatch restore FILE [--db FILE]``: put a backup in place of the database.

Refused while a service runs on the database, and for a file that fails integrity_check; the
database it replaces is moved aside (``….before-restore-<time>``, with its WAL), never deleted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from bot.cli_tools import Tool
from bot.cli_tools.archive import database_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The tool's arguments."""
    parser.add_argument("backup", type=Path, help="a backup file (chanwatch backup wrote it)")
    parser.add_argument("--db", type=Path, default=None,
                        help="the database to replace (default: DATABASE_PATH, else"
                             " $DATA_DIR/chanwatch.sqlite3)")


def run(args: argparse.Namespace) -> int:
    """Restore; exit 0 done, 1 refused (the service runs, or the backup is bad)."""
    from bot.store.backup import BackupError, restore

    db = database_path(args)
    try:
        aside = restore(args.backup, db, dt.datetime.now(dt.UTC))
    except BackupError as exc:
        print(f"chanwatch: {exc}", file=sys.stderr)
        return 1
    kept = f"; the one it replaced is {aside}" if aside else ""
    print(f"chanwatch: {args.backup} restored to {db}{kept}", file=sys.stderr)
    return 0


TOOL = Tool("restore", "put a backup in place of the database (service stopped)",
            add_arguments, run)

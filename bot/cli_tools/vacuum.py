"""``chanwatch vacuum [--db FILE]``: give the space retention and deletions freed back to
the disk (VACUUM, and the full-text indexes merged). The service must be stopped."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli_tools import Tool
from bot.cli_tools.archive import database_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The tool's arguments."""
    parser.add_argument("--db", type=Path, default=None,
                        help="the database file (default: DATABASE_PATH, else"
                             " $DATA_DIR/chanwatch.sqlite3)")


def run(args: argparse.Namespace) -> int:
    """Vacuum; exit 0 done, 1 refused (the service runs) or failed."""
    from bot.store.backup import BackupError, vacuum

    db = database_path(args)
    try:
        before, after = vacuum(db)
    except BackupError as exc:
        print(f"chanwatch: {exc}", file=sys.stderr)
        return 1
    print(f"chanwatch: {db} vacuumed: {before / 1e6:.1f} MB → {after / 1e6:.1f} MB",
          file=sys.stderr)
    return 0


TOOL = Tool("vacuum", "give freed space back to the disk (service stopped)", add_arguments, run)

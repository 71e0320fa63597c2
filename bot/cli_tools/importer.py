"""``chanwatch import PATH…``: Telegram Desktop exports and chanwatch JSONL into the archive.

Formats are told apart by content (README: Import formats). Each file is one transaction: a
malformed file is reported in one line with its position and leaves nothing behind; files
before it stay imported. A progress bar on stderr when it is a terminal; the summary on
stdout. Imported posts are searchable at once and never alert.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.cli_tools import Tool
from bot.cli_tools.archive import ToolError, add_database_arguments, fail, open_archive, time_zone


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The tool's arguments."""
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="result.json of Telegram Desktop, or chanwatch .jsonl / .jsonl.gz")
    parser.add_argument("--username", default=None,
                        help="the channel's @username, for its links (Telegram Desktop exports"
                             " do not carry it; one file only)")
    add_database_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Import the files; the exit code."""
    from bot.archive.tdexport import ImportFormatError

    try:
        return asyncio.run(import_files(args))
    except ToolError as exc:
        return fail(str(exc))
    except ImportFormatError as exc:
        return fail(str(exc))


async def import_files(args: argparse.Namespace) -> int:
    """Import what ``args`` name and print the summary."""
    from bot.archive.importer import Importer, ImportProgress, ImportSummary
    from bot.archive.tdexport import ImportFormatError

    paths: list[Path] = args.paths
    for path in paths:
        if not path.is_file():
            raise ToolError(f"{path}: no such file")
    if args.username and len(paths) > 1:
        raise ToolError("--username names the channel of one export: give one file with it")
    tz = time_zone(args)  # for exports without date_unixtime (their dates are local time)
    bar = _bar(sum(p.stat().st_size for p in paths)) if sys.stderr.isatty() else None
    shown = {"bytes": 0}

    def progress(at: ImportProgress) -> None:
        if bar is not None:
            bar.set_description(at.path.name, refresh=False)
            bar.update(max(0, at.done_bytes - shown["bytes"]))
            shown["bytes"] = at.done_bytes

    summary = ImportSummary()
    try:
        async with open_archive(args, create=True) as archive:
            importer = Importer(archive, tz=tz, username=args.username, progress=progress)
            await importer.prepare()
            for path in paths:
                shown["bytes"] = 0
                try:
                    await importer.import_file(path, summary)
                except ImportFormatError as exc:
                    kept = (f"; {summary.line()} before it" if summary.files else "")
                    raise ImportFormatError(f"{exc} — nothing of it was imported{kept}"
                                            ) from None
    finally:
        if bar is not None:
            bar.close()
    print(summary.line())
    return 0


def _bar(total: int) -> Any:
    """A tqdm bar over the bytes of the files (tqdm ships no type hints: imported by name)."""
    import importlib

    tqdm: Any = importlib.import_module("tqdm").tqdm
    return tqdm(total=total, unit="B", unit_scale=True, file=sys.stderr, leave=False)


TOOL = Tool("import", "import Telegram Desktop exports or chanwatch JSONL into the archive",
            add_arguments, run)

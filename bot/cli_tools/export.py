"""``chanwatch export --format csv|jsonl|gexf [QUERY] [--since --until] [-o FILE]``.

The posts a query matches (no query: every post in the period), oldest first, streamed in
constant memory to FILE or stdout (bot/archive/export.py; columns in README "Export
columns"). A FILE ending in ``.gz`` is gzipped. FILE is written beside itself and renamed
when complete, so a failed export leaves nothing half-written. A progress bar goes to stderr
when it is a terminal; the summary line goes to stderr always. Every rule appears in
matched_rules (``/export`` shows only the chat's own).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import importlib
import os
import sys
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from bot.cli_tools import Tool
from bot.cli_tools.archive import ToolError, add_database_arguments, fail, open_archive, time_zone
from bot.clock import SystemClock

if TYPE_CHECKING:
    from bot.archive.export import Sink


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The tool's arguments."""
    from bot.archive.export import FORMATS

    parser.add_argument("query", nargs="*",
                        help="a query in the rule language (quote it); none: every post")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="csv, jsonl (one JSON object per post) or gexf (the forward"
                             " network, for Gephi)")
    parser.add_argument("--evidence", type=Path, default=None, metavar="DIR",
                        help="an evidence bundle in the new directory DIR instead: posts with"
                             " every version, their media files, MANIFEST.sha256")
    parser.add_argument("--since", help="7d, 24h, 2026-11-01 or 2026-11-01 18:00")
    parser.add_argument("--until", help="the same forms; a date includes that day")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="the file to write (default: stdout); a name ending .gz is"
                             " gzipped")
    add_database_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run the export; the exit code."""
    try:
        return asyncio.run(export_to(args))
    except ToolError as exc:
        return fail(str(exc))


async def export_to(args: argparse.Namespace) -> int:
    """Write the export ``args`` describe, then the summary line on stderr."""
    from bot.archive.window import WindowError, parse_when

    if (args.format is None) == (args.evidence is None):
        raise ToolError("give either --format csv|jsonl|gexf or --evidence DIR")
    if args.evidence is not None and args.output is not None:
        raise ToolError("--evidence writes a directory; -o is for --format")
    tz = time_zone(args)
    text = " ".join(args.query)
    now = SystemClock().now()
    try:  # the times first: a typo costs no loading of dictionaries
        since = parse_when(args.since, now, tz) if args.since else None
        until = parse_when(args.until, now, tz, end=True) if args.until else None
    except WindowError as exc:
        raise ToolError(str(exc)) from None
    if since is not None and until is not None and since >= until:
        raise ToolError("the start of the period lies after its end")
    if args.evidence is not None:
        return await _evidence(args, text, since, until, tz)
    with _Destination(args.output) as out:
        async with open_archive(args) as archive:
            chosen = _selection(archive, text, since, until)
            started = time.monotonic()  # the export itself, not loading the dictionaries
            with await _progress(archive, chosen) as bar:
                summary = await _export(archive, chosen, args.format, out, bar)
    print(_summary_line(summary, args, tz, time.monotonic() - started), file=sys.stderr)
    return 0


def _selection(archive: Any, text: str, since: Any, until: Any) -> Any:
    """The query compiled against the archive, or a ToolError saying what is wrong."""
    from bot.archive.export import selection
    from bot.match import RuleSyntaxError

    try:
        return selection(archive.search, text, since, until)
    except RuleSyntaxError as exc:
        raise ToolError(f"cannot understand the query: {exc.message}\n{exc.pointer()}"
                        ) from None
    except ValueError as exc:  # a region: that names no place
        raise ToolError(str(exc)) from None


async def _evidence(args: argparse.Namespace, text: str, since: Any, until: Any,
                    tz: Any) -> int:
    """Write an evidence bundle (bot/media/bundle.py) and say what it holds."""
    from bot.cli_tools.archive import media_dir
    from bot.media.bundle import BundleError, write_bundle
    from bot.media.files import MediaFiles

    if args.evidence.exists():
        raise ToolError(f"{args.evidence} exists already; name a new directory")
    async with open_archive(args) as archive:
        chosen = _selection(archive, text, since, until)
        about = {"query": text or None, "since": since.isoformat() if since else None,
                 "until": until.isoformat() if until else None,
                 "chanwatch": _version(), "database": str(archive.path)}
        try:
            with await _progress(archive, chosen) as bar:
                summary = await write_bundle(
                    archive, chosen, MediaFiles(media_dir(args)), args.evidence, about,
                    archive.clock.now(), progress=bar.update if bar is not None else None)
        except BundleError as exc:
            raise ToolError(str(exc)) from None
        except OSError as exc:
            raise ToolError(f"cannot write {args.evidence}: {exc.strerror}") from None
    missing = f", {summary.missing} files not kept" if summary.missing else ""
    print(f"chanwatch: evidence bundle {args.evidence}: {summary.posts} posts,"
          f" {summary.files} files ({summary.bytes:,} bytes){missing};"
          f" bundle sha256 {summary.bundle_sha256}", file=sys.stderr)
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chanwatch")
    except PackageNotFoundError:
        return "unknown"


async def _export(archive: Any, chosen: Any, fmt: str, out: Sink, bar: Any) -> Any:
    from bot.archive.export import export

    return await export(archive, chosen, fmt, out,
                        progress=bar.update if bar is not None else None)


async def _progress(archive: Any, chosen: Any) -> AbstractContextManager[Any]:
    """A tqdm bar over the posts to export when stderr is a terminal; else nothing."""
    if not sys.stderr.isatty():
        return nullcontext()
    from bot.archive.search import CompiledSearch

    # imported by name: tqdm ships no type hints, and the bar is used as Any anyway
    tqdm: Any = importlib.import_module("tqdm").tqdm

    if isinstance(chosen, CompiledSearch):
        total = (await archive.search.count(chosen)).total
    else:
        total = await archive.store.archive.count(None, chosen)
    bar: AbstractContextManager[Any] = tqdm(total=total, unit="posts", file=sys.stderr,
                                            dynamic_ncols=True)
    return bar


class _Destination:
    """stdout, or FILE written as FILE.partial and renamed when the export is complete."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._partial = path.with_name(path.name + ".partial") if path is not None else None
        self._handle: Sink | None = None
        self._file: BinaryIO | None = None

    def __enter__(self) -> Sink:
        if self._path is None or self._partial is None:
            return sys.stdout.buffer
        try:
            self._file = open(self._partial, "wb")  # closed in __exit__
        except OSError as exc:
            raise ToolError(f"cannot write {self._path}: {exc.strerror}") from None
        self._handle = self._file
        if self._path.name.endswith(".gz"):
            self._handle = gzip.GzipFile(fileobj=self._file, mode="wb", mtime=0)
        return self._handle

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if self._path is None or self._partial is None:
            sys.stdout.buffer.flush()
            return
        assert self._handle is not None and self._file is not None
        if isinstance(self._handle, gzip.GzipFile):
            self._handle.close()
        self._file.close()
        if exc is None:
            os.replace(self._partial, self._path)
        else:
            self._partial.unlink(missing_ok=True)


def _summary_line(summary: Any, args: argparse.Namespace, tz: Any, seconds: float) -> str:
    where = str(args.output) if args.output is not None else "stdout"
    if args.format == "gexf":
        return (f"chanwatch: forward network of {summary.posts} forwarded posts:"
                f" {summary.nodes} nodes, {summary.edges} edges, to {where}")
    span = ""
    if summary.first is not None and summary.last is not None:
        span = (f" ({summary.first.astimezone(tz):%Y-%m-%d %H:%M} –"
                f" {summary.last.astimezone(tz):%Y-%m-%d %H:%M} {tz.key})")
    rate = f", {summary.posts / seconds:.0f} posts/s" if seconds > 0 and summary.posts else ""
    return f"chanwatch: {summary.posts} posts exported{span} to {where} in {seconds:.1f} s{rate}"


TOOL = Tool("export", "export matching posts as CSV, JSON lines or a GEXF forward network",
            add_arguments, run)

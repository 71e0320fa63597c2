"""``chanwatch stats [rule N | region X | @channel | QUERY] [--period 7d] --png out.png``.

The counts, caption and chart of ``/stats`` (bot/archive/stats.py) from a terminal: the
caption on stdout, the chart written to ``--png``. ``--since``/``--until`` choose any other
period (hours up to 48 h, days beyond). ``rule N`` is a chat's rule: name the chat with
``--chat``. Exit codes: 0 done, 1 no post matched (no PNG written), 2 bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from bot.archive.stats import (
    DEFAULT_PERIOD,
    PERIODS,
    ArchiveStats,
    StatsError,
    parse_selector,
    period_buckets,
    period_words,
    region_namer,
    summary,
    window_buckets,
)
from bot.archive.window import WindowError, parse_when
from bot.cli_tools import Tool
from bot.cli_tools.archive import ToolError, add_database_arguments, fail, open_archive, time_zone
from bot.match import RuleSyntaxError
from bot.store import Store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The tool's arguments."""
    parser.add_argument("selector", nargs="*",
                        help="rule N, region PLACE, @channel, a query in the rule language,"
                             " or nothing for every post")
    parser.add_argument("--period", choices=tuple(PERIODS), default=DEFAULT_PERIOD,
                        help="the last 24 hours, or the last 7, 30 or 90 days (default 7d)")
    parser.add_argument("--since", help="instead of --period: 7d, 2026-11-01, 2026-11-01 18:00")
    parser.add_argument("--until", help="the same forms; a date includes that day (default now)")
    parser.add_argument("--chat", type=int, default=None,
                        help="the chat whose rule N is meant (its numeric id)")
    parser.add_argument("--png", type=Path, default=None, help="write the chart to this file")
    add_database_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Count, print the caption, write the chart; the exit code."""
    try:
        return asyncio.run(stats(args, sys.stdout))
    except ToolError as exc:
        return fail(str(exc))


async def stats(args: argparse.Namespace, out: TextIO) -> int:
    """Print the caption of the stats ``args`` describe and write the chart."""
    tz = time_zone(args)
    if args.png is not None and not args.png.parent.is_dir():
        raise ToolError(f"cannot write {args.png}: no folder {args.png.parent}")
    async with open_archive(args) as archive:
        now = archive.clock.now()
        try:
            selector = parse_selector(" ".join(args.selector))
            query, label = selector.query, selector.label
            if selector.rule is not None:
                query, label = await _rule(archive.store, args.chat, selector.rule)
            period: str | None = args.period
            if args.since or args.until:
                until = parse_when(args.until, now, tz, end=True) if args.until else now
                since = (parse_when(args.since, now, tz) if args.since
                         else until - PERIODS[args.period])
                buckets, period = window_buckets(since, until, tz), None
            else:
                buckets = period_buckets(args.period, now, tz)
            compiled = (archive.search.compile(query, buckets.since, buckets.until)
                        if query is not None else None)
        except RuleSyntaxError as exc:
            raise ToolError(f"cannot understand the query: {exc.message}\n{exc.pointer()}"
                            ) from None
        except (StatsError, WindowError, ValueError) as exc:
            raise ToolError(str(exc)) from None
        result = await ArchiveStats(archive.store, archive.search).compute(compiled, buckets)
        if result.total == 0:
            print(f"chanwatch: no stored post matches {label} in the"
                  f" {period_words(buckets, period)}", file=sys.stderr)
            return 1
        lines = summary(result, label, period, region_namer(archive.places))
        out.write("\n".join(lines) + "\n")
    if args.png is not None:
        from bot.chart import render_stacked_chart  # matplotlib: only when drawing

        png = render_stacked_chart(buckets.starts, result.series, title=lines[0],
                                   per=buckets.per, tz=tz)
        _write_whole(args.png, png)
        print(f"chanwatch: chart written to {args.png}", file=sys.stderr)
    return 0


async def _rule(store: Store, chat: int | None, number: int) -> tuple[str, str]:
    """The expression of a chat's rule ``number`` and its label."""
    if chat is None:
        raise ToolError(f"rule {number} is a chat's rule: say which chat with --chat ID")
    rule = next((r for r in await store.rules.of_chat(chat) if r.number == number), None)
    if rule is None:
        raise ToolError(f"chat {chat} has no rule #{number}")
    return rule.expression, f"rule #{number} {rule.expression}"


def _write_whole(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file: never a half-written chart."""
    fd, tmp = tempfile.mkstemp(prefix=".stats-", suffix=".png", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


TOOL = Tool("stats", "posts per hour or day by channel, as /stats charts them (--png FILE)",
            add_arguments, run)

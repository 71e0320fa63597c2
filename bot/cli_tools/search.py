"""``chanwatch search QUERY [--since --until --limit --json]``: the archive from a terminal.

The same language, the same search and the same results as ``/search`` (bot/archive/search.py),
newest first; text lines by default, one JSON object per post with ``--json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any, TextIO

from bot.cli_tools import Tool
from bot.cli_tools.archive import ToolError, add_database_arguments, fail, open_archive, time_zone

SNIPPET = 300


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The tool's arguments."""
    parser.add_argument("query", nargs="+", help="a query in the rule language (quote it)")
    parser.add_argument("--since", help="7d, 24h, 2026-11-01 or 2026-11-01 18:00")
    parser.add_argument("--until", help="the same forms; a date includes that day")
    parser.add_argument("--limit", type=int, default=20, help="posts to show (default 20)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    add_database_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run the search and print it; the exit code."""
    try:
        return asyncio.run(search(args, sys.stdout))
    except ToolError as exc:
        return fail(str(exc))


async def search(args: argparse.Namespace, out: TextIO) -> int:
    """Print the results of the search ``args`` describe."""
    from bot.archive.window import WindowError, parse_when
    from bot.match import RuleSyntaxError
    from bot.render import format_time, highlight

    if args.limit <= 0:
        raise ToolError("--limit must be a positive number")
    tz = time_zone(args)
    text = " ".join(args.query)
    async with open_archive(args) as archive:
        now = archive.clock.now()
        try:
            since = parse_when(args.since, now, tz) if args.since else None
            until = parse_when(args.until, now, tz, end=True) if args.until else None
            compiled = archive.search.compile(text, since, until)
        except RuleSyntaxError as exc:
            raise ToolError(f"cannot understand the query: {exc.message}\n{exc.pointer()}"
                            ) from None
        except (WindowError, ValueError) as exc:
            raise ToolError(str(exc)) from None
        page = await archive.search.page(compiled, size=args.limit)
        for hit in page.hits:
            p = hit.post
            if args.json:
                out.write(json.dumps(_as_json(hit), ensure_ascii=False) + "\n")
                continue
            marks = (" ✏️ edited" if p.edits else "") + (" 🗑 deleted" if p.deleted_at else "")
            out.write(f"{format_time(p.post.date, tz)}  {p.channel_title}{marks}\n"
                      f"{p.post.permalink}\n"
                      f"{'[text in image] ' if hit.in_image else ''}"
                      f"{_plain(highlight(hit.text, hit.spans, SNIPPET))}\n\n")
        about = "" if page.count.exact else "about "
        print(f"chanwatch: {about}{page.count.total} posts match; {len(page.hits)} shown",
              file=sys.stderr)
    return 0


def _plain(html: str) -> str:
    """The highlighted snippet for a terminal: bold as **…**, entities unescaped."""
    import html as html_lib

    return html_lib.unescape(html.replace("<b>", "**").replace("</b>", "**"))


def _as_json(hit: Any) -> dict[str, Any]:
    from bot.clock import to_iso

    p = hit.post
    return {
        "post_id": p.id, "channel_id": p.post.channel_id,
        "channel_username": p.post.channel_username, "channel_title": p.channel_title,
        "message_id": p.post.message_id, "date": to_iso(p.post.date),
        "text": p.post.text, "spans": [list(s) for s in hit.spans],
        # "image": the spans point into image_text, what OCR read in the post's pictures
        "found_in": "image" if hit.in_image else "text", "image_text": p.image_text or None,
        "edits": p.edits, "deleted_at": to_iso(p.deleted_at) if p.deleted_at else None,
        "link": p.post.permalink,
    }


TOOL = Tool("search", "search the archive with the rule language (as /search does)",
            add_arguments, run)

"""``chanwatch similar IMAGE_FILE [--max-distance N] [--limit N] [--json]``: stored posts with
that picture (its perceptual hash within N bits, bot/media/phash.py), the nearest first."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TextIO

from bot.cli_tools import Tool
from bot.cli_tools.archive import (
    ToolError,
    add_database_arguments,
    fail,
    media_dir,
    open_store,
    time_zone,
)
from bot.media.phash import SAME_IMAGE_DISTANCE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The tool's arguments."""
    parser.add_argument("image", type=Path, help="an image file (JPEG, PNG, WebP, ...)")
    parser.add_argument("--max-distance", type=int, default=SAME_IMAGE_DISTANCE,
                        help=f"bits of 64 that may differ (default {SAME_IMAGE_DISTANCE})")
    parser.add_argument("--limit", type=int, default=20, help="posts to show (default 20)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    add_database_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Look the image up and print the posts; the exit code."""
    try:
        return asyncio.run(similar(args, sys.stdout))
    except ToolError as exc:
        return fail(str(exc))


async def similar(args: argparse.Namespace, out: TextIO) -> int:
    """Print the stored posts whose image is like ``args.image``."""
    from bot.media.phash import image_phash
    from bot.render import format_time

    if not 0 <= args.max_distance <= 64:
        raise ToolError("--max-distance must be from 0 to 64")
    if args.limit <= 0:
        raise ToolError("--limit must be a positive number")
    if not args.image.is_file():
        raise ToolError(f"no such file: {args.image}")
    phash = image_phash(args.image)
    if phash is None:
        raise ToolError(f"{args.image} is not an image that can be read")
    tz = time_zone(args)
    async with open_store(args) as (store, _):
        found = await store.media.similar(phash, args.max_distance, args.limit)
        media_root = media_dir(args)
        for hit in found:
            path = media_root / hit.sha256[:2] / f"{hit.sha256}.{hit.ext}"
            if args.json:
                out.write(json.dumps({
                    "distance": hit.distance, "channel_id": hit.channel_id,
                    "channel_username": hit.channel_username, "channel_title": hit.channel_title,
                    "message_id": hit.message_id, "date": hit.date.isoformat(),
                    "link": hit.permalink, "sha256": hit.sha256, "file": str(path),
                    "deleted_at": hit.deleted_at.isoformat() if hit.deleted_at else None,
                }, ensure_ascii=False) + "\n")
                continue
            deleted = "  🗑 deleted" if hit.deleted_at else ""
            out.write(f"{hit.distance:>2}  {format_time(hit.date, tz)}  {hit.channel_title}"
                      f"{deleted}\n    {hit.permalink}\n    {path}\n")
    print(f"chanwatch: {len(found)} posts with a similar image (perceptual hash"
          f" {phash.split()[0]},"
          f" at most {args.max_distance} bits apart)", file=sys.stderr)
    return 0


TOOL = Tool("similar", "stored posts that carry the same (or a near) image", add_arguments, run)

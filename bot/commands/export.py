"""/export csv|jsonl [query] [since …] [until …]: the matching posts as a file in the chat.

The file is built on disk (bot/archive/export.py UploadFile), oldest post first, gzipped past
``GZIP_ABOVE`` and refused past Telegram's upload limit, where the reply names the
``chanwatch export`` command that does the same on the server. Only this chat's rules appear
in matched_rules. No query: every stored post in the period.
"""

from __future__ import annotations

import datetime as dt
import shlex
from zoneinfo import ZoneInfo

from bot.archive.export import (
    GZIP_ABOVE,
    UPLOAD_LIMIT,
    ArchiveAccess,
    ExportSummary,
    Selection,
    TooLarge,
    UploadFile,
    export,
    selection,
)
from bot.archive.search import CompiledSearch
from bot.archive.window import WindowError, split_window
from bot.commands.context import CommandContext, Reply, Services
from bot.commands.replies import syntax_error_reply, warn
from bot.commands.search import index_note
from bot.match import RuleSyntaxError
from bot.render import esc

FILE_FORMATS = ("csv", "jsonl")
USAGE_EXPORT = ("Usage: /export csv|jsonl [query] [since 7d|2026-11-01] [until 2026-11-05] —"
                " the matching posts as a file, e.g. /export csv Белгород since 7d")


async def cmd_export(ctx: CommandContext, svc: Services) -> str | Reply:
    """Send the posts a query matches as a CSV or JSON-lines file."""
    return await export_reply(ctx, svc, gzip_above=GZIP_ABOVE, limit=UPLOAD_LIMIT)


async def export_reply(ctx: CommandContext, svc: Services, *, gzip_above: int,
                       limit: int) -> str | Reply:
    """``/export`` with the gzip threshold and the size limit given (tests make them small)."""
    if svc.archive is None:
        return "Export is not available on this instance."
    fmt, _, rest = ctx.args.strip().partition(" ")
    fmt = fmt.lower()
    if fmt not in FILE_FORMATS:
        return USAGE_EXPORT
    tz = await svc.chats.zone_of(ctx.chat_id)
    try:
        text, since, until = split_window(rest, svc.clock.now(), tz)
        chosen = selection(svc.archive, text, since, until)
    except RuleSyntaxError as exc:
        return syntax_error_reply(exc)
    except (WindowError, ValueError) as exc:  # a time, or a region: that names no place
        return warn(exc)
    with UploadFile(gzip_above=gzip_above, limit=limit) as file:
        try:
            summary = await export(ArchiveAccess(svc.store, svc.archive), chosen, fmt, file,
                                   chat_id=ctx.chat_id)
            data = file.finish()
        except TooLarge:
            return _too_large(fmt, text, chosen, tz, limit)
        compressed = file.compressed
    what = f" matching <code>{esc(text)}</code>" if text else ""
    if summary.posts == 0:
        return f"📦 No stored post{what} in that period, nothing to export." + (
            await index_note(svc))
    stamp = svc.clock.now().astimezone(tz)
    name = f"chanwatch-{stamp:%Y%m%d-%H%M}.{fmt}" + (".gz" if compressed else "")
    return Reply(_caption(summary, what, fmt, compressed, tz) + await index_note(svc),
                 file=data, file_name=name)


def _caption(summary: ExportSummary, what: str, fmt: str, compressed: bool,
             tz: ZoneInfo) -> str:
    assert summary.first is not None and summary.last is not None
    n = summary.posts
    kind = fmt.upper() if fmt == "csv" else "JSON lines"
    return (f"📦 <b>{n}</b> post{'s' if n != 1 else ''}{what},"
            f" {esc(_span(summary.first, summary.last, tz))}, oldest first"
            f" ({kind}{', gzip' if compressed else ''}).")


def _span(first: dt.datetime, last: dt.datetime, tz: ZoneInfo) -> str:
    a, b = first.astimezone(tz), last.astimezone(tz)
    zone = b.tzname() or tz.key
    return f"{a:%Y-%m-%d %H:%M} – {b:%Y-%m-%d %H:%M} {zone}"


def _too_large(fmt: str, text: str, chosen: Selection, tz: ZoneInfo, limit: int) -> str:
    window = chosen.window if isinstance(chosen, CompiledSearch) else chosen
    words = ["chanwatch", "export", "--format", fmt]
    if text:
        words.append(text)
    for flag, moment in (("--since", window.since), ("--until", window.until)):
        if moment is not None:
            words += [flag, f"{moment.astimezone(tz):%Y-%m-%d %H:%M}"]
    if window.since is not None or window.until is not None:
        words += ["--tz", tz.key]
    words += ["-o", f"export.{fmt}"]
    return (f"⚠️ This export is larger than {_size(limit)} even gzipped, more than Telegram"
            " lets a bot send. Narrow the query or the period, or run it on the server:\n"
            f"<code>{esc(shlex.join(words))}</code>")


def _size(n: int) -> str:
    mb = 1024 * 1024
    if n >= mb:
        return f"{n // mb} MB"
    return f"{n // 1024} KB" if n >= 1024 else f"{n} bytes"

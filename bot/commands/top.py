"""/top [24h|7d] [query]: the most viewed and the most forwarded posts, and their growth."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.archive.search import CompiledSearch
from bot.archive.top import TopEntry, TopLists, TopPosts
from bot.archive.window import parse_duration
from bot.commands.context import CommandContext, Services
from bot.commands.replies import syntax_error_reply, warn
from bot.match import RuleSyntaxError
from bot.render import esc, format_time, highlight

PERIODS = {"24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7)}
DEFAULT_PERIOD = "24h"
SIZE = 5
SNIPPET = 120
USAGE_TOP = ("Usage: /top [24h|7d] [query] — the most viewed and the most forwarded posts,"
             " e.g. /top 7d Белгород")


class PeriodError(ValueError):
    """A period /top does not cover."""


def split_period(args: str) -> tuple[str, str]:
    """(period, query) from the arguments: the period first or last, 24h when not given."""
    text = args.strip()
    if not text:
        return DEFAULT_PERIOD, ""
    head, _, tail = text.partition(" ")
    if head.lower() in PERIODS:
        return head.lower(), tail.strip()
    rest, _, last = text.rpartition(" ")
    if rest and last.lower() in PERIODS:
        return last.lower(), rest.strip()
    if parse_duration(head) is not None or (rest and parse_duration(last) is not None):
        raise PeriodError("/top covers the last 24h or the last 7d")
    return DEFAULT_PERIOD, text


async def cmd_top(ctx: CommandContext, svc: Services) -> str:
    """The five most viewed and five most forwarded posts of the period, with their growth."""
    if svc.archive is None:
        return "Top posts are not available on this instance."
    try:
        period, query = split_period(ctx.args)
    except PeriodError as exc:
        return f"{warn(exc)}\n{USAGE_TOP}"
    until = svc.clock.now()
    since = until - PERIODS[period]
    search: CompiledSearch | None = None
    if query:
        try:
            search = svc.archive.compile(query, since, until)
        except RuleSyntaxError as exc:
            return syntax_error_reply(exc)
        except ValueError as exc:  # a region: that names no place
            return warn(exc)
    lists = await TopPosts(svc.store).top(since, until, search, SIZE)
    tz = await svc.chats.zone_of(ctx.chat_id)
    return render_top(lists, period, search.text if search else None, tz)


def render_top(lists: TopLists, period: str, query: str | None, tz: ZoneInfo) -> str:
    """The two lists as Telegram HTML (numbers now, growth in the period in brackets)."""
    about = f"of the last {period}" + (f" matching <code>{esc(query)}</code>" if query else "")
    if not lists.views and not lists.forwards:
        return f"📈 No post {about} shows views or forwards yet."
    lines = [f"📈 <b>Top posts</b> {about} — now (growth in the period):"]
    for title, entries, none in (("👁 Most viewed", lists.views, "No views yet."),
                                 ("🔁 Most forwarded", lists.forwards, "Not forwarded yet.")):
        lines.append(f"\n<b>{title}</b>")
        if not entries:
            lines.append(none)
        lines += [_entry(entry, n, tz) for n, entry in enumerate(entries, start=1)]
    return "\n".join(lines)


def _entry(entry: TopEntry, number: int, tz: ZoneInfo) -> str:
    p, g = entry.post, entry.growth
    numbers = [_number("👁", p.post.views, g.views if g else None),
               _number("🔁", p.post.forwards, g.forwards if g else None),
               _number("❤️", p.reactions, g.reactions if g else None)]
    mark = " · 🗑 deleted" if p.deleted_at else ""
    text = (highlight(p.post.text, entry.spans, limit=SNIPPET) if p.post.text
            else f"<i>({esc(p.post.media or 'no text')})</i>")
    return (f"{number}. <b>{esc(p.channel_title)}</b> · {esc(format_time(p.post.date, tz))}"
            f" · {' · '.join(n for n in numbers if n)}{mark}\n{text}\n"
            f'<a href="{esc(p.post.permalink)}">{esc(p.post.permalink)}</a>')


def _number(icon: str, now: int | None, growth: int | None) -> str:
    if now is None:
        return ""
    return f"{icon} {now:,}" + (f" ({growth:+,})" if growth is not None else "")

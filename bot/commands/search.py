"""/search: the archive in the rule language, 5 posts a message, "More ▸" for the next 5.

A search is saved (``searches``) when it is first run, and its button carries the saved
search's id and the last post shown, so "More ▸" works after a restart too.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.archive.search import CompiledSearch, SearchHit, SearchPage
from bot.archive.window import WindowError, split_window
from bot.clock import to_iso
from bot.commands.context import CommandContext, Reply, Services
from bot.commands.replies import BUTTON_EXPIRED, USAGE_SEARCH, syntax_error_reply, warn
from bot.match import RuleSyntaxError
from bot.render import IN_IMAGE, esc, format_time, highlight

PAGE = 5
SNIPPET = 300
MORE = "More ▸"


async def cmd_search(ctx: CommandContext, svc: Services) -> str | Reply:
    """Search stored posts: newest first, the total, a button for more."""
    if svc.archive is None:
        return "Search is not available on this instance."
    if not ctx.args:
        return USAGE_SEARCH
    tz = await svc.chats.zone_of(ctx.chat_id)
    try:
        text, since, until = split_window(ctx.args, svc.clock.now(), tz)
        if not text:
            return USAGE_SEARCH
        compiled = svc.archive.compile(text, since, until)
    except RuleSyntaxError as exc:
        return syntax_error_reply(exc)
    except (WindowError, ValueError) as exc:  # a time, or a region: that names no place
        return warn(exc)
    page = await svc.archive.page(compiled, size=PAGE)
    search_id = None
    if page.next is not None:
        search_id = await svc.store.archive.save_search(ctx.chat_id, compiled.text, since, until)
    return await _reply(svc, compiled, page, tz, search_id, shown_before=0)


async def more_button(ctx: CommandContext, svc: Services,
                      data: str) -> tuple[str, str | Reply | None]:
    """"More ▸" under search results (``search:<id>:<last post id>:<shown so far>``)."""
    parts = data.split(":")
    if svc.archive is None or len(parts) != 4 or not all(p.isdigit() for p in parts[1:]):
        return BUTTON_EXPIRED, None
    search_id, last_id, shown = int(parts[1]), int(parts[2]), int(parts[3])
    saved = await svc.store.archive.saved_search(search_id)
    last = await svc.store.archive.posts([last_id])
    if saved is None or saved.chat_id != ctx.chat_id or not last:
        return BUTTON_EXPIRED, None
    try:
        compiled = svc.archive.compile(saved.query, saved.since, saved.until)
    except ValueError:  # RuleSyntaxError too: the language changed since
        return BUTTON_EXPIRED, None
    tz = await svc.chats.zone_of(ctx.chat_id)
    page = await svc.archive.page(compiled, (to_iso(last[0].post.date), last_id), size=PAGE)
    if not page.hits:
        return "No more results.", None
    reply = await _reply(svc, compiled, page, tz, search_id, shown_before=shown)
    return "", Reply(reply.html if isinstance(reply, Reply) else reply,
                     reply.buttons if isinstance(reply, Reply) else (), new_message=True)


async def _reply(svc: Services, compiled: CompiledSearch, page: SearchPage, tz: ZoneInfo,
                 search_id: int | None, shown_before: int) -> str | Reply:
    window = _window_text(compiled, tz)
    if not page.hits:
        head = f"🔎 No stored post matches <code>{esc(compiled.text)}</code>{window}."
        return head + await index_note(svc)
    total = page.count.total
    about = "" if page.count.exact else "about "
    first, last = shown_before + 1, shown_before + len(page.hits)
    head = (f"🔎 <b>{about}{total}</b> post{'s' if total != 1 else ''} match"
            f"{'es' if total == 1 else ''} <code>{esc(compiled.text)}</code>{window}"
            f" — {first}–{last}, newest first:")
    lines = [head + await index_note(svc)]
    lines += [_entry(hit, tz, n) for n, hit in enumerate(page.hits, start=first)]
    html = "\n\n".join(lines)
    if page.next is None or search_id is None:
        return html
    return Reply(html, ((MORE, f"search:{search_id}:{page.next[1]}:{last}"),))


def _entry(hit: SearchHit, tz: ZoneInfo, number: int) -> str:
    p = hit.post
    marks = ("" if not p.edits else " · ✏️ edited") + (" · 🗑 deleted" if p.deleted_at else "")
    if hit.in_image:  # the post's own text bolds nothing; the picture's text is quoted
        text = (highlight(p.post.text, (), limit=SNIPPET // 2) + "\n" if p.post.text else "")
        text += f"{IN_IMAGE}: «{highlight(hit.text, hit.spans, limit=SNIPPET)}»"
    else:
        text = highlight(p.post.text, hit.spans, limit=SNIPPET)
    return (f"{number}. <b>{esc(p.channel_title)}</b> · {esc(format_time(p.post.date, tz))}"
            f"{marks}\n{text}\n"
            f'<a href="{esc(p.post.permalink)}">{esc(p.post.permalink)}</a>')


def _window_text(compiled: CompiledSearch, tz: ZoneInfo) -> str:
    since, until = compiled.window.since, compiled.window.until
    out = ""
    if since is not None:
        out += f" since {esc(_day_or_time(since, tz))}"
    if until is not None:
        out += f" until {esc(_day_or_time(until, tz, end=True))}"
    return out


def _day_or_time(moment: dt.datetime, tz: ZoneInfo, end: bool = False) -> str:
    """A date when the moment is a local midnight (``end``: the day before, inclusive)."""
    local = moment.astimezone(tz)
    if (local.hour, local.minute, local.second) != (0, 0, 0):
        return f"{local:%Y-%m-%d %H:%M}"
    return f"{(local - dt.timedelta(days=1)) if end else local:%Y-%m-%d}" + (
        " (inclusive)" if end else "")


async def index_note(svc: Services) -> str:
    """A line saying the index of older posts is still being built ("" once it is done).

    /search, /stats and /export all add it: their results miss what is not indexed yet.
    """
    if svc.indexer is None:
        return ""
    progress = await svc.indexer.progress()
    if progress.finished:
        return ""
    percent = 100 * progress.done // max(progress.total, 1)
    return (f"\n⏳ The search index of older posts is still being built ({percent}% done);"
            " results may be incomplete.")

"""Message building: pure functions producing Telegram HTML with everything from posts escaped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape
from zoneinfo import ZoneInfo

from bot.models import Post, Rule

Span = tuple[int, int]
SNIPPET_CHARS = 500
_CONTEXT_BEFORE = 200


def esc(text: str) -> str:
    """Escape text for Telegram HTML (text nodes and attribute values)."""
    return escape(text, quote=True)


def merge_spans(spans: Sequence[Span]) -> list[Span]:
    """Sort spans and merge the overlapping or touching ones."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, spans: Sequence[Span], limit: int = SNIPPET_CHARS) -> str:
    """Return an escaped snippet of ``text`` around the first span, spans in bold."""
    merged = merge_spans(spans)
    start = 0
    if len(text) > limit and merged:
        start = max(0, merged[0][0] - _CONTEXT_BEFORE)
    end = min(len(text), start + limit)
    # Never cut a highlighted word in half.
    for s, e in merged:
        if s < end < e:
            end = e
    out: list[str] = ["…" if start > 0 else ""]
    pos = start
    for s, e in merged:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(esc(text[pos:s]))
        out.append(f"<b>{esc(text[s:e])}</b>")
        pos = e
    out.append(esc(text[pos:end]))
    if end < len(text):
        out.append("…")
    return "".join(out)


def format_time(moment: dt.datetime, tz: ZoneInfo) -> str:
    """A post time as people read it in their chat's time zone."""
    local = moment.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or tz.key}"


def human_delay(delay: dt.timedelta) -> str:
    """A delay as people say it: 45 s, 12 min, 3 h 5 min, 2 d 4 h."""
    seconds = int(delay.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def render_alert(
    *, channel_title: str, post: Post, spans: Sequence[Span], rules: Sequence[Rule], tz: ZoneInfo,
    note: str | None = None, places: Sequence[str] = (),
) -> str:
    """The alert a chat receives for one post, naming every rule of the chat that fired.

    ``note`` (already HTML) says why the alert is unusual: found late, or made by an edit.
    """
    lines = [
        f"🔔 <b>{esc(channel_title)}</b> · {esc(format_time(post.date, tz))}",
        *([note] if note else []),
        *(["📍 " + esc("; ".join(dict.fromkeys(places)))] if places else []),
        highlight(post.text, spans) if post.text else f"<i>[{esc(post.media or 'no text')}]</i>",
        f'<a href="{esc(post.permalink)}">{esc(post.permalink)}</a>',
    ]
    names = ", ".join(f"#{r.number} <code>{esc(shorten(r.expression))}</code>" for r in rules)
    lines.append(("Rule " if len(rules) == 1 else "Rules ") + names)
    return "\n".join(lines)


def render_deleted(*, channel_title: str, text: str, permalink: str,
                   rule_numbers: Sequence[int]) -> str:
    """The notice that a post a rule alerted on was deleted (its text is kept)."""
    rules = ", ".join(f"#{n}" for n in rule_numbers)
    snippet = highlight(text, [], limit=300) if text else "<i>[no text]</i>"
    return (f"🗑 <b>{esc(channel_title)}</b> deleted a post that rule {rules} alerted on:\n"
            f"{snippet}\n<s>{esc(permalink)}</s>")


def also_label(*, channel_title: str, username: str | None, permalink: str) -> str:
    """How a repeat of a story is named in an alert's "also in" line: a link to it."""
    name = f"@{username}" if username else channel_title
    return f'<a href="{esc(permalink)}">{esc(name)}</a>'


def render_also(also: Sequence[str]) -> str:
    """The line added to an alert when the same story shows up in other channels."""
    if not also:
        return ""
    return "\n↪ also in " + ", ".join(dict.fromkeys(also))


def render_summary(*, channel_title: str, post: Post, spans: Sequence[Span], tz: ZoneInfo,
                   rules: Sequence[Rule]) -> str:
    """An alert in one line, for the message that folds alerts held by quiet hours."""
    local = post.date.astimezone(tz)
    flat = post.text.replace("\n", " ")  # same length: the spans stay valid
    text = highlight(flat, spans, limit=160) if flat else f"<i>[{esc(post.media or 'no text')}]</i>"
    numbers = ", ".join(f"#{r.number}" for r in rules)
    return (f"• <b>{esc(channel_title)}</b> {local:%H:%M} — {text}"
            f' <a href="{esc(post.permalink)}">open</a> ({numbers})')


DELETED_BEFORE_SENT = "🗑 <i>deleted from the channel before this alert was sent</i>"


def render_fold(summaries: Sequence[str]) -> str:
    """The one message that delivers the alerts held during quiet hours."""
    n = len(summaries)
    head = f"🌙 Quiet hours are over. {n} alert{'s' if n != 1 else ''} arrived meanwhile:"
    return "\n".join([head, *summaries])


def shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def split_lines(html: str, limit: int = 4000) -> list[str]:
    """Cut a reply into messages under Telegram's 4,096 characters, between lines.

    Replies are built line by line with every tag closed on its line, so a cut between
    lines never splits a tag; a single overlong line is cut hard (it has no markup).
    """
    parts: list[str] = []
    current = ""
    for line in html.split("\n"):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts

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


def render_alert(
    *, channel_title: str, post: Post, spans: Sequence[Span], rules: Sequence[Rule], tz: ZoneInfo
) -> str:
    """The alert a chat receives for one post, naming every rule of the chat that fired."""
    lines = [
        f"🔔 <b>{esc(channel_title)}</b> · {esc(format_time(post.date, tz))}",
        highlight(post.text, spans) if post.text else f"<i>[{esc(post.media or 'no text')}]</i>",
        f'<a href="{esc(post.permalink)}">{esc(post.permalink)}</a>',
    ]
    names = ", ".join(f"#{r.number} <code>{esc(r.expression)}</code>" for r in rules)
    lines.append(("Rule " if len(rules) == 1 else "Rules ") + names)
    return "\n".join(lines)

"""Message building: pure functions producing Telegram HTML with everything from posts escaped.

An alert is rendered here once, when it is sent, from the ``AlertEvent`` ingest stored
(bot/events.py): as Telegram HTML (``render_alert``, its fold line ``render_summary``, its
buttons) and as the webhook's JSON event (``webhook_event``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import to_iso
from bot.events import Alert, AlertEvent, AlertPost, AlsoEntry, Span, StoredAlert
from bot.models import Buttons, ButtonSpec

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


DELETED_BEFORE_SENT = "🗑 <i>deleted from the channel before this alert was sent</i>"


def late_text(event: AlertEvent) -> str | None:
    """Why an alert is unusual, in plain text (the webhook event's ``late``), or None."""
    if event.late_by is not None:
        return f"⏱ {human_delay(event.late_by)} late: found when catching up"
    if event.edited_match:
        return "✏️ edited: the new text matches"
    return None


def _send_notes(deleted: bool, queued_for: dt.timedelta | None) -> list[str]:
    """What became true while the alert waited to be sent."""
    notes = []
    if deleted:  # the text is evidence: the alert goes anyway, and says so
        notes.append(DELETED_BEFORE_SENT)
    if queued_for is not None:  # send limits or a flood wait held it back
        notes.append(f"⏳ <i>sent {esc(human_delay(queued_for))} after it was found"
                     " (delivery queue)</i>")
    return notes


def _event_notes(event: AlertEvent) -> list[str]:
    """Why the alert was unusual when it was made: found late, or made by an edit."""
    notes = []
    if event.late_by is not None:
        notes.append(f"⏱ <i>{esc(human_delay(event.late_by))} late: found when catching up</i>")
    if event.edited_match:
        notes.append("✏️ <i>edited: the new text matches</i>")
    return notes


IN_IMAGE = "📷 text in image"
IMAGE_SNIPPET_CHARS = 300


def _post_text(post: AlertPost, spans: Sequence[Span], limit: int = SNIPPET_CHARS) -> str:
    if post.text:
        return highlight(post.text, spans, limit)
    return f"<i>[{esc(post.media or 'no text')}]</i>"


def _alert_text(alert: AlertEvent, limit: int = SNIPPET_CHARS) -> list[str]:
    """The post's text with what fired in bold; found in its picture, the post's text bolds
    nothing and the picture's text follows, quoted, with what fired in bold."""
    if not alert.image_text:
        return [_post_text(alert.post, alert.spans, limit)]
    quoted = highlight(alert.image_text, alert.spans, min(limit, IMAGE_SNIPPET_CHARS))
    return [_post_text(alert.post, (), limit), f"{IN_IMAGE}: «{quoted}»"]


def render_alert(
    alert: Alert, tz: ZoneInfo, *, deleted: bool = False,
    queued_for: dt.timedelta | None = None, also: Sequence[AlsoEntry] = (),
    translation: str = "",
) -> str:
    """The alert a chat receives for one post, naming every rule of the chat that fired.

    Rendered when it is sent: ``deleted`` (the channel deleted the post meanwhile),
    ``queued_for`` (how long it waited in the delivery queue, when that is worth saying),
    ``also`` (the same story elsewhere) and ``translation`` (HTML, already escaped).
    """
    tail = render_also(also) + translation
    if isinstance(alert, StoredAlert):  # made at ingest by an older version: notes at its end
        return "\n".join([alert.html, *_send_notes(deleted, queued_for)]) + tail
    post, rules = alert.post, alert.rules
    lines = [
        f"🔔 <b>{esc(alert.channel.title)}</b> · {esc(format_time(post.date, tz))}",
        *_send_notes(deleted, queued_for),
        *_event_notes(alert),
        *(["📍 " + esc("; ".join(dict.fromkeys(alert.places)))] if alert.places else []),
        *_alert_text(alert),
        f'<a href="{esc(post.permalink)}">{esc(post.permalink)}</a>',
    ]
    names = ", ".join(f"#{r.number} <code>{esc(shorten(r.expression))}</code>" for r in rules)
    lines.append(("Rule " if len(rules) == 1 else "Rules ") + names)
    return "\n".join(lines) + tail


def alert_buttons(alert: Alert) -> Buttons:
    """Under an alert: mute the rules that fired for 1 h / 24 h, and open the post."""
    if isinstance(alert, StoredAlert):
        return alert.buttons
    ids = ",".join(str(r.id) for r in alert.rules[:6])
    what = "rule" if len(alert.rules) == 1 else "rules"
    return (
        (ButtonSpec(f"🔕 Mute {what} 1h", data=f"mute:{ids}:1h"),
         ButtonSpec("🔕 24h", data=f"mute:{ids}:24h")),
        (ButtonSpec("Open post ↗", url=alert.post.permalink),),
    )


def render_deleted(*, channel_title: str, text: str, permalink: str,
                   rule_numbers: Sequence[int]) -> str:
    """The notice that a post a rule alerted on was deleted (its text is kept)."""
    rules = ", ".join(f"#{n}" for n in rule_numbers)
    snippet = highlight(text, [], limit=300) if text else "<i>[no text]</i>"
    return (f"🗑 <b>{esc(channel_title)}</b> deleted a post that rule {rules} alerted on:\n"
            f"{snippet}\n<s>{esc(permalink)}</s>")


def also_label(also: AlsoEntry) -> str:
    """How a repeat of a story is named in an alert's "also in" line: a link to it.

    A ``str`` is a label an older version stored as HTML; it is used as it is.
    """
    if isinstance(also, str):
        return also
    return f'<a href="{esc(also.url)}">{esc(also.name)}</a>'


def render_also(also: Sequence[AlsoEntry]) -> str:
    """The line added to an alert when the same story shows up in other channels."""
    if not also:
        return ""
    return "\n↪ also in " + ", ".join(dict.fromkeys(map(also_label, also)))


def render_also_notice(also: Sequence[AlsoEntry]) -> str:
    """"Also in" as a message of its own, when the alert's Telegram message id is unknown."""
    return "↪ The story of the alert above is also in " + ", ".join(
        dict.fromkeys(map(also_label, also)))


def render_summary(alert: Alert, tz: ZoneInfo, *, also: Sequence[AlsoEntry] = (),
                   deleted: bool = False) -> str:
    """An alert in one line, for the message that folds alerts held by quiet hours."""
    tail = render_also(also) + (f" — {DELETED_BEFORE_SENT}" if deleted else "")
    if isinstance(alert, StoredAlert):
        return (alert.summary or alert.html) + tail
    post = alert.post
    local = post.date.astimezone(tz)
    flat = replace(alert, post=replace(post, text=post.text.replace("\n", " ")),
                   image_text=alert.image_text.replace("\n", " "))  # spans stay valid
    numbers = ", ".join(f"#{r.number}" for r in alert.rules)
    return (f"• <b>{esc(alert.channel.title)}</b> {local:%H:%M} — "
            f"{' '.join(_alert_text(flat, limit=160))}"
            f' <a href="{esc(post.permalink)}">open</a> ({numbers})') + tail


def render_fold(summaries: Sequence[str]) -> str:
    """The one message that delivers the alerts held during quiet hours."""
    n = len(summaries)
    head = f"🌙 Quiet hours are over. {n} alert{'s' if n != 1 else ''} arrived meanwhile:"
    return "\n".join([head, *summaries])


def webhook_event(event: AlertEvent, *, deleted: bool = False) -> dict[str, Any]:
    """The webhook event of an alert (payload version 1; README: Webhooks)."""
    post = event.post
    payload: dict[str, Any] = {
        "version": 1, "type": "alert", "id": f"{event.chat_id}:{event.key}",  # same on retries
        "chat_id": event.chat_id, "sent_at": to_iso(event.found_at),
        "channel": {"id": event.channel.id, "username": event.channel.username,
                    "title": event.channel.title},
        "post": {"id": post.message_id, "url": post.permalink, "date": to_iso(post.date),
                 "text": post.text, "views": post.views, "media": post.media,
                 "forwarded_from": post.forwarded_from, "edited": post.edited},
        "rules": [{"number": r.number, "expression": r.expression} for r in event.rules],
        "matched": event.matched, "places": list(dict.fromkeys(event.places)),
        "late": late_text(event),
    }
    if event.image_text:  # the words matched are in the text OCR read in the post's picture
        payload["found_in"] = "image"
        payload["image_text"] = event.image_text
    if deleted:
        payload["deleted_before_sent"] = True
    return payload


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

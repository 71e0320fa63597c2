"""Webhook payloads: the event, and its shape for each format (pure; no I/O).

The event (format ``json`` POSTs it unchanged, UTF-8, ``Content-Type: application/json``)::

    {"version": 1, "type": "alert", "chat_id": -100123, "sent_at": "2026-11-25T12:00:00+00:00",
     "channel": {"id": 1234567, "username": "rybar", "title": "Рыбарь"},
     "post": {"id": 6512, "url": "https://t.me/rybar/6512",
              "date": "2026-11-25T11:59:30+00:00", "text": "…full text…", "views": 12300,
              "media": "photo", "forwarded_from": null, "edited": false},
     "rules": [{"number": 1, "expression": "дрон* AND Шебекино"}],
     "matched": ["дроны", "Шебекино"], "places": ["Шебекино"], "late": null}

- ``version``: the payload version; fields are only ever added within a version.
- ``type``: ``"alert"``, or ``"test"`` for the event ``/webhook test`` sends, which has only
  ``version``, ``type``, ``chat_id``, ``sent_at`` and ``"text": "chanwatch webhook test"``.
- ``sent_at``, ``post.date``: ISO 8601 with a UTC offset. ``post.text`` is the full text
  (``""`` for a post without text; ``post.media`` then names what it is: photo, video, …).
  ``post.edited``: the alert was made by an edit. ``forwarded_from``: null or the origin.
- ``rules``: every rule of the chat that fired; ``matched``: the words that matched;
  ``places``: places recognised in the post; ``late``: null, or a note for a post found late,
  like ``"⏱ 12 min late: found when catching up"`` (for an alert made by an edit:
  ``"✏️ edited: the new text matches"``).
- ``id``: ``<chat id>:<post key>``, the same on every retry; ``deleted_before_sent``: true
  (and only then present) when the channel deleted the post before the event was sent.

An alert's event is made when it is sent by :func:`bot.render.webhook_event`, from the same
``AlertEvent`` the Telegram alert is rendered from; the formats below summarise that event,
so every format says the same thing.

The other formats, each a summary of the same event:

- ``slack`` (Slack incoming webhooks, Mattermost): ``{"text": "<mrkdwn>"}`` with the channel
  title linked to the post; the post text is cut to 3,000 characters.
- ``discord``: ``{"content": <summary ≤ 2,000>, "embeds": [{"title", "url", "description"
  (post text ≤ 4,096), "timestamp"}], "allowed_mentions": {"parse": []}}`` — the post cannot
  ping ``@everyone``.
- ``ntfy``: the summary as a plain-text body of at most 4,096 bytes (ntfy's message limit;
  longer bodies would turn into attachments), with headers ``Title`` (the channel title),
  ``Click`` (the post) and ``Tags``. HTTP header values are Latin-1 at best, so a title with
  other characters is sent as RFC 2047 encoded words (``=?utf-8?b?…?=``), which the ntfy
  server decodes for every parameter header.

Lengths are counted in UTF-16 units (as JavaScript-based services count them; never fewer
than characters) or, for ntfy, in UTF-8 bytes; a cut never splits a character or separates a
base letter from its combining marks, and ends with "…".
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from bot.render import human_delay
from bot.webhook_urls import FORMATS

SLACK_TEXT_CHARS = 3000
DISCORD_CONTENT_CHARS = 2000
DISCORD_TITLE_CHARS = 256
DISCORD_DESCRIPTION_CHARS = 4096
NTFY_BODY_BYTES = 4096
NTFY_TITLE_CHARS = 200
ELLIPSIS = "…"


def _utf16_units(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def _utf8_bytes(ch: str) -> int:
    return len(ch.encode("utf-8", "replace"))


def _glued(text: str, cut: int) -> bool:
    """Whether cutting ``text`` at ``cut`` would tear a character from what modifies it."""
    after = text[cut] if cut < len(text) else ""
    before = text[cut - 1] if cut > 0 else ""
    return bool(after) and (
        unicodedata.combining(after) > 0
        or unicodedata.category(after) in ("Mn", "Me")
        or after == "\u200d" or before == "\u200d"
        or "\ufe00" <= after <= "\ufe0f" or "\U000e0100" <= after <= "\U000e01ef"
        or "\U0001f3fb" <= after <= "\U0001f3ff"
        or "\U000e0020" <= after <= "\U000e007f"
        or ("\U0001f1e6" <= before <= "\U0001f1ff" and "\U0001f1e6" <= after <= "\U0001f1ff")
    )


def clip(text: str, limit: int, *, unit: Literal["utf16", "utf8"] = "utf16") -> str:
    """``text`` cut to at most ``limit`` UTF-16 units (or UTF-8 bytes), ending with "…".

    The cut falls between characters (never inside a surrogate pair or a UTF-8 sequence) and
    never separates a letter from its combining marks or an emoji from its modifiers.
    """
    size = _utf16_units if unit == "utf16" else _utf8_bytes
    if sum(map(size, text)) <= limit:
        return text
    budget = limit - size(ELLIPSIS)
    used = cut = 0
    for ch in text:
        used += size(ch)
        if used > budget:
            break
        cut += 1
    while cut > 0 and _glued(text, cut):
        cut -= 1
    return text[:cut].rstrip() + ELLIPSIS if budget >= 0 else ""


@dataclass(frozen=True)
class _Facts:
    """What the summaries say, read defensively from an event."""

    test: bool
    title: str
    url: str | None
    date: str | None
    text: str
    media: str | None
    edited: bool
    forwarded_from: str | None
    late: str | None
    places: list[str]
    rules: list[tuple[str, str]]


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _late(value: Any) -> str | None:
    """The event's ``late`` note (a text; a number of seconds is accepted too)."""
    if value is None or value is False:
        return None
    if isinstance(value, bool):
        return "late"
    if isinstance(value, int | float):
        return f"{human_delay(dt.timedelta(seconds=float(value)))} late"
    return _text(value) or "late"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _facts(event: dict[str, Any]) -> _Facts:
    channel = _mapping(event.get("channel"))
    post = _mapping(event.get("post"))
    username = _text(channel.get("username"))
    title = _text(channel.get("title")) or (f"@{username}" if username else None)
    url = _text(post.get("url"))
    if url is not None and not url.lower().startswith(("https://", "http://")):
        url = None
    rules: list[tuple[str, str]] = []
    for rule in event.get("rules") or ():
        if isinstance(rule, dict):
            number = rule.get("number")
            rules.append((f"#{number}" if number is not None else "",
                          str(rule.get("expression") or "")))
    places = [str(p) for p in event.get("places") or () if p]
    forwarded = post.get("forwarded_from")
    if isinstance(forwarded, dict):
        forwarded = forwarded.get("title") or forwarded.get("username")
    return _Facts(
        test=event.get("type") == "test",
        title=" ".join((title or "chanwatch").split()),
        url=url,
        date=_text(post.get("date")),
        text=text if isinstance(text := post.get("text"), str) else "",
        media=_text(post.get("media")),
        edited=post.get("edited") is True,
        forwarded_from=_text(str(forwarded)) if forwarded else None,
        late=_late(event.get("late")),
        places=list(dict.fromkeys(places)),
        rules=rules,
    )


def _notes(facts: _Facts) -> list[str]:
    """The lines saying what is unusual about the alert (plain text)."""
    lines = []
    if facts.test:
        lines.append("🧪 Test from chanwatch: this webhook works.")
    if facts.late:
        lines.append(facts.late if facts.late.startswith("⏱") else f"⏱ {facts.late}")
    if facts.edited:
        lines.append("✏️ edited post")
    if facts.forwarded_from:
        lines.append(f"↪ forwarded from {facts.forwarded_from}")
    if facts.places:
        lines.append("📍 " + "; ".join(facts.places))
    return lines


def _rules_line(facts: _Facts, code: Callable[[str], str]) -> str | None:
    if not facts.rules:
        return None
    names = ", ".join(f"{n} {code(e)}".strip() for n, e in facts.rules)
    return ("Rule " if len(facts.rules) == 1 else "Rules ") + names


def _body_text(facts: _Facts) -> str:
    """The post's text, or what kind of post it is when it has none."""
    if facts.text.strip():
        return facts.text.strip()
    return f"[{facts.media or 'no text'}]" if not facts.test else ""


def _icon(facts: _Facts) -> str:
    return "🧪" if facts.test else "🔔"


def _json_body(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8", "replace")  # lone surrogates (broken input) become "?"


def _shape_json(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    return {"Content-Type": "application/json; charset=utf-8"}, _json_body(event)


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _shape_slack(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    facts = _facts(event)
    title = _slack_escape(facts.title)
    head = f"<{_slack_escape(facts.url)}|{title}>" if facts.url else title
    lines = [f"{_icon(facts)} *{head}*", *map(_slack_escape, _notes(facts))]
    if body := _body_text(facts):
        lines.append(_slack_escape(clip(body, SLACK_TEXT_CHARS)))
    if rules := _rules_line(facts, lambda e: f"`{_slack_escape(e.replace('`', 'ˋ'))}`"):
        lines.append(rules)
    return ({"Content-Type": "application/json; charset=utf-8"},
            _json_body({"text": "\n".join(lines)}))


_DISCORD_SPECIAL = re.compile(r"([\\*_~`|>\[\]()#-])")


def _discord_escape(text: str) -> str:
    return _DISCORD_SPECIAL.sub(r"\\\1", text)


def _shape_discord(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    facts = _facts(event)
    lines = [f"{_icon(facts)} **{_discord_escape(facts.title)}**",
             *map(_discord_escape, _notes(facts))]
    if rules := _rules_line(facts, lambda e: f"`{e.replace('`', 'ˋ')}`"):
        lines.append(rules)
    embed: dict[str, Any] = {"title": clip(facts.title, DISCORD_TITLE_CHARS)}
    if facts.url:
        embed["url"] = facts.url
    if body := _body_text(facts):
        embed["description"] = clip(body, DISCORD_DESCRIPTION_CHARS)
    if facts.date:
        embed["timestamp"] = facts.date
    payload = {
        "content": clip("\n".join(lines), DISCORD_CONTENT_CHARS),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},  # "@everyone" in a post pings nobody
    }
    return {"Content-Type": "application/json; charset=utf-8"}, _json_body(payload)


def _header_value(text: str) -> str:
    """A header value ntfy reads back as ``text``: ASCII as is, anything else RFC 2047."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if text.isascii() and "=?" not in text:
        return text
    words: list[bytes] = []
    chunk = b""
    for ch in text:  # each encoded word ≤ 75 characters, never splitting a character
        data = ch.encode("utf-8", "replace")
        if len(chunk) + len(data) > 45:
            words.append(chunk)
            chunk = b""
        chunk += data
    words.append(chunk)
    return " ".join(f"=?utf-8?b?{b64encode(w).decode('ascii')}?=" for w in words if w)


def _shape_ntfy(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    facts = _facts(event)
    headers = {
        "Content-Type": "text/plain; charset=utf-8",
        "Title": _header_value(clip(facts.title, NTFY_TITLE_CHARS)),
        "Tags": "test_tube" if facts.test else "bell",
    }
    if facts.url and facts.url.isascii() and facts.url.isprintable():
        headers["Click"] = facts.url
    tail = [line for line in (_rules_line(facts, str), facts.url) if line]
    head = _notes(facts)
    fixed = "\n".join([*head, *tail])
    body = _body_text(facts)
    if body:
        room = NTFY_BODY_BYTES - len(fixed.encode("utf-8", "replace")) - 2
        body = clip(body, max(room, 0), unit="utf8")
    message = "\n".join(part for part in ("\n".join(head), body, "\n".join(tail)) if part)
    message = clip(message or facts.title, NTFY_BODY_BYTES, unit="utf8")
    return headers, message.encode("utf-8", "replace")


_SHAPES: dict[str, Callable[[dict[str, Any]], tuple[dict[str, str], bytes]]] = {
    "json": _shape_json,
    "slack": _shape_slack,
    "discord": _shape_discord,
    "ntfy": _shape_ntfy,
}


def shape(fmt: str, event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """The headers and body that deliver ``event`` in format ``fmt`` (one of FORMATS).

    Header values are always ASCII. Missing or odd fields of the event are tolerated (a test
    event may carry no post). Raises ValueError for an unknown format.
    """
    try:
        shaper = _SHAPES[fmt]
    except KeyError:
        raise ValueError(f"unknown webhook format {fmt!r}; use one of {', '.join(FORMATS)}") \
            from None
    return shaper(event)

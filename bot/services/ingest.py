"""The one path every post takes: match, then store post + matches + alerts + cursor at once."""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot.clock import Clock, to_iso
from bot.match import MatchHit
from bot.match.index import PLACE_MARK
from bot.models import AlertDraft, Buttons, ButtonSpec, Post, Rule
from bot.render import (
    Span,
    also_label,
    esc,
    human_delay,
    render_alert,
    render_deleted,
    render_summary,
)
from bot.schedule import chat_zone, quiet_until
from bot.services.notify import AdminNotifier
from bot.services.rules import RulesService
from bot.store import RuleHitRecord, SaveResult, Store, alert_key

log = logging.getLogger(__name__)
LATE_AFTER = dt.timedelta(minutes=1)  # a reconciled post older than this is marked late


class IngestService:
    """Turns a ``Post`` from any source into stored rows and queued alerts."""

    def __init__(
        self, store: Store, rules: RulesService, default_tz: ZoneInfo, clock: Clock,
        notifier: AdminNotifier,
    ) -> None:
        self._store = store
        self._rules = rules
        self._default_tz = default_tz
        self._clock = clock
        self._notifier = notifier

    async def ingest(self, post: Post, *, source: str = "live") -> SaveResult:
        """Store one post; alert each chat whose rules match it, once per chat.

        ``source`` is live, reconcile (alerts say how late they are) or backfill (matches are
        recorded for search and digests, but nothing is sent).
        """
        _, records, alerts = await self._prepare(post, source)
        return await self._store.posts.save(post, records, alerts, source=source)

    async def ingest_many(self, posts: Sequence[Post], *, source: str) -> list[SaveResult]:
        """``ingest`` for a batch of posts in order, stored in one transaction."""
        items = [await self._prepare(post, source) for post in posts]
        return await self._store.posts.save_many(items, source=source)

    async def _prepare(
        self, post: Post, source: str
    ) -> tuple[Post, list[RuleHitRecord], list[AlertDraft]]:
        """Match a post once; render its alerts (none for backfill)."""
        hits = self._rules.index.match(post.text, post.channel_username)
        records = [RuleHitRecord(h.rule_id, h.spans) for h in hits]
        alerts: list[AlertDraft] = []
        if hits and source != "backfill":
            alerts = await self._drafts(post, hits_by_chat(hits, self._rules.rules_by_id),
                                        self._late_note(post, source))
        return post, records, alerts

    def _late_note(self, post: Post, source: str) -> str | None:
        delay = self._clock.now() - post.date
        if source == "reconcile" and delay > LATE_AFTER:
            return f"⏱ <i>{esc(human_delay(delay))} late: found when catching up</i>"
        return None

    async def apply_edit(self, post: Post) -> bool:
        """Record an edit; alert chats the new text matches for the first time. True if new.

        The new version, its matches and its alerts are stored in one transaction (a crash
        cannot keep the edit and lose the alert it earned); chats already alerted on the
        post, or whose rules matched it before, are left out inside that transaction.
        """
        if await self._store.posts.text(post.channel_id, post.message_id) in (None, post.text):
            return False  # unknown, or nothing changed (most re-reads): no matching needed
        hits = self._rules.index.match(post.text, post.channel_username)
        records = [RuleHitRecord(h.rule_id, h.spans, h.chat_id) for h in hits]
        alerts: list[AlertDraft] = []
        if hits:
            alerts = await self._drafts(post, hits_by_chat(hits, self._rules.rules_by_id),
                                        "✏️ <i>edited: the new text matches</i>")
        edit = await self._store.posts.save_edit(post, records, alerts)
        return edit is not None and edit.changed

    async def apply_deletions(self, channel_id: int, message_ids: Sequence[int]) -> int:
        """Flag deleted posts and tell the chats whose rules asked; return how many were new."""
        deleted = await self._store.posts.mark_deleted(channel_id, message_ids)
        if not deleted:
            return 0
        channel = await self._store.channels.get(channel_id)
        title = channel.title if channel else str(channel_id)
        for post in deleted:
            by_chat: dict[int, list[int]] = defaultdict(list)
            for chat_id, number in post.notify:
                by_chat[chat_id].append(number)
            for chat_id, numbers in by_chat.items():
                html = render_deleted(channel_title=title, text=post.text,
                                      permalink=post.permalink, rule_numbers=numbers)
                await self._notifier.tell_chat(
                    chat_id, html, f"deleted:{channel_id}:{post.message_id}")
        return len(deleted)

    async def _drafts(
        self, post: Post, by_chat: dict[int, ChatHits], note: str | None
    ) -> list[AlertDraft]:
        """Render each chat's alert, for the rules that alert instantly and are not muted.

        Mode and mute are read from the database now (they change without a rebuild); the
        matches of digest-only and muted rules are still stored for digests and /test.
        """
        channel = await self._store.channels.get(post.channel_id)
        title = channel.title if channel else str(post.channel_id)
        username = channel.username if channel else post.channel_username
        chats = await self._store.chats.by_ids(by_chat)
        current = await self._store.rules.by_ids(
            r.id for found in by_chat.values() for r in found.rules)
        now = self._clock.now()
        label = also_label(channel_title=title, username=username, permalink=post.permalink)
        drafts = []
        for chat_id, found in sorted(by_chat.items()):
            rules = [current.get(r.id, r) for r in found.rules]
            instant = [r for r in rules if r.instant and not r.muted(now)]
            if not instant:
                continue
            chat = chats.get(chat_id)
            tz = chat_zone(chat, self._default_tz)
            html = render_alert(channel_title=title, post=post, spans=found.spans,
                                rules=instant, tz=tz, note=note, places=found.places)
            summary = render_summary(channel_title=title, post=post, spans=found.spans, tz=tz,
                                     rules=instant)
            held = quiet_until(now, tz, chat.quiet_start, chat.quiet_end) if chat else None
            event = alert_event(chat_id, post, title, username, instant, found, note, now)
            drafts.append(AlertDraft(chat_id, html, summary, alert_buttons(instant, post),
                                     held, label, event))
        return drafts


def alert_event(chat_id: int, post: Post, title: str, username: str | None,
                rules: Sequence[Rule], found: ChatHits, note: str | None,
                now: dt.datetime) -> str:
    """The webhook event of an alert (version 1; README: Webhooks), as JSON text."""
    matched = list(dict.fromkeys(post.text[a:b] for a, b in sorted(found.spans)))
    event = {
        "version": 1, "type": "alert", "id": f"{chat_id}:{alert_key(post)}",  # same on retries
        "chat_id": chat_id, "sent_at": to_iso(now),
        "channel": {"id": post.channel_id, "username": username, "title": title},
        "post": {"id": post.message_id, "url": post.permalink, "date": to_iso(post.date),
                 "text": post.text, "views": post.views, "media": post.media,
                 "forwarded_from": post.fwd_from, "edited": post.edit_date is not None},
        "rules": [{"number": r.number, "expression": r.expression} for r in rules],
        "matched": matched, "places": list(dict.fromkeys(found.places)),
        "late": html.unescape(re.sub(r"<[^>]+>", "", note)) if note else None,
    }
    return json.dumps(event, ensure_ascii=False)


def alert_buttons(rules: Sequence[Rule], post: Post) -> Buttons:
    """Under an alert: mute the rules that fired for 1 h / 24 h, and open the post."""
    ids = ",".join(str(r.id) for r in rules[:6])
    what = "rule" if len(rules) == 1 else "rules"
    return (
        (ButtonSpec(f"🔕 Mute {what} 1h", data=f"mute:{ids}:1h"),
         ButtonSpec("🔕 24h", data=f"mute:{ids}:24h")),
        (ButtonSpec("Open post ↗", url=post.permalink),),
    )


@dataclass
class ChatHits:
    """What one chat's alert for a post shows: its rules that fired, spans, places."""

    rules: list[Rule] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    places: list[str] = field(default_factory=list)


def hits_by_chat(hits: list[MatchHit], rules_by_id: dict[int, Rule]) -> dict[int, ChatHits]:
    """Group rule hits by chat: one alert per chat names all of its rules that fired."""
    grouped: dict[int, ChatHits] = defaultdict(ChatHits)
    for hit in hits:
        rule = rules_by_id.get(hit.rule_id)
        if rule is None:
            continue
        chat = grouped[hit.chat_id]
        chat.rules.append(rule)
        chat.spans.extend(hit.spans)
        chat.places.extend(f.removeprefix(PLACE_MARK) for f in hit.fired
                           if f.startswith(PLACE_MARK))
    return dict(grouped)

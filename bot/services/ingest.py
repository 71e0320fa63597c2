"""The one path every post takes: match, then store post + matches + alerts + cursor at once."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot.archive.terms import TermMaker
from bot.clock import Clock
from bot.events import AlertChannel, AlertEvent, AlertPost, FiredRule, Span
from bot.match import MatchHit
from bot.match.analysis import TextAnalysis
from bot.match.dedup import fingerprint, story_keys
from bot.match.index import PLACE_MARK
from bot.models import Channel, Post, PostSource, Rule
from bot.render import render_deleted
from bot.schedule import chat_zone, quiet_until
from bot.services.notify import AdminNotifier
from bot.services.rules import RulesService
from bot.store import AlertDraft, RuleHitRecord, SaveResult, Store, alert_key
from bot.store.media import OcrItem

log = logging.getLogger(__name__)
LATE_AFTER = dt.timedelta(minutes=1)  # a reconciled post older than this is marked late
IMAGE_ALERT_WITHIN = dt.timedelta(hours=1)  # text read in a picture alerts within this


class IngestService:
    """Turns a ``Post`` from any source into stored rows and queued alerts."""

    def __init__(
        self, store: Store, rules: RulesService, default_tz: ZoneInfo, clock: Clock,
        notifier: AdminNotifier, terms: TermMaker | None = None,
        on_media: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        # told when a stored post carries a photo or document (the downloader looks then)
        self._on_media = on_media
        # the full-text index's terms, written with each post (bot/archive/terms.py)
        self.terms = terms or TermMaker.for_places(rules.lemmatizer, rules.places)
        self._rules = rules
        self._default_tz = default_tz
        self._clock = clock
        self._notifier = notifier
        self.stored: Counter[str] = Counter()  # new posts by source (bot/metrics.py)
        self.alerts_queued = 0

    async def ingest(self, post: Post, *, source: str = "live") -> SaveResult:
        """Store one post; alert each chat whose rules match it, once per chat.

        ``source`` is live, reconcile (alerts say how late they are) or backfill (matches are
        recorded for search and digests, but nothing is sent).
        """
        analysis = self._rules.index.analyse(post.text)  # read once: matching and terms
        _, records, alerts = await self._prepare(post, source, analysis)
        result = await self._store.posts.save(post, records, alerts, source=source,
                                              keys=story_keys(post, alerting=bool(alerts),
                                                              tokens=analysis.tokens),
                                              terms=self.terms.of(post.text, analysis))
        self._media_queued([post])
        self._count(source, [result])
        return result

    async def ingest_many(self, posts: Sequence[Post], *, source: str) -> list[SaveResult]:
        """``ingest`` for a batch of posts in order, stored in one transaction."""
        analyses = [self._rules.index.analyse(post.text) for post in posts]
        items = [await self._prepare(post, source, a) for post, a in zip(posts, analyses,
                                                                           strict=True)]
        keys = [story_keys(post, alerting=bool(alerts), tokens=a.tokens)
                for (post, _, alerts), a in zip(items, analyses, strict=True)]
        terms = [self.terms.of(post.text, a) for post, a in zip(posts, analyses, strict=True)]
        results = await self._store.posts.save_many(items, source=source, keys=keys,
                                                    terms=terms)
        self._media_queued(posts)
        self._count(source, results)
        return results

    def _count(self, source: str, results: Sequence[SaveResult]) -> None:
        self.stored[source] += sum(r.created for r in results)
        self.alerts_queued += sum(r.alerts_enqueued for r in results)

    def _media_queued(self, posts: Sequence[Post]) -> None:
        if self._on_media is not None and any(p.media_file is not None for p in posts):
            self._on_media()

    async def _prepare(
        self, post: Post, source: str, analysis: TextAnalysis | None = None,
    ) -> tuple[Post, list[RuleHitRecord], list[AlertDraft]]:
        """Match a post once; render its alerts (none for backfill)."""
        hits = self._rules.index.match(post.text, post.channel_username, analysis)
        records = [RuleHitRecord(h.rule_id, h.spans) for h in hits]
        alerts: list[AlertDraft] = []
        if hits and source != "backfill":
            alerts = await self._drafts(post, hits_by_chat(hits, self._rules.rules_by_id),
                                        late_by=self._late_by(post, source))
        return post, records, alerts

    def _late_by(self, post: Post, source: str) -> dt.timedelta | None:
        """How late a post found when catching up is (None: not worth saying)."""
        delay = self._clock.now() - post.date
        if source == "reconcile" and delay > LATE_AFTER:
            return delay
        return None

    async def apply_edit(self, post: Post) -> bool:
        """Record an edit; alert chats the new text matches for the first time. True if new.

        The new version, its matches and its alerts are stored in one transaction (a crash
        cannot keep the edit and lose the alert it earned); chats already alerted on the
        post, or whose rules matched it before, are left out inside that transaction.
        """
        stored = await self._store.posts.text(post.channel_id, post.message_id)
        if stored is None:
            return False  # unknown
        if stored == post.text:  # most re-reads: no matching needed; a new photo is filed
            if post.media_file is not None and await self._store.media.file_new(post):
                self._media_queued([post])
            return False
        analysis = self._rules.index.analyse(post.text)
        hits = self._rules.index.match(post.text, post.channel_username, analysis)
        records = [RuleHitRecord(h.rule_id, h.spans, h.chat_id) for h in hits]
        alerts: list[AlertDraft] = []
        if hits:
            alerts = await self._drafts(post, hits_by_chat(hits, self._rules.rules_by_id),
                                        edited_match=True)
        edit = await self._store.posts.save_edit(
            post, records, alerts,
            fingerprint=fingerprint(post.text, analysis.tokens) if alerts else None,
            terms=self.terms.of(post.text, analysis))
        self._media_queued([post])
        return edit is not None and edit.changed

    async def apply_image_text(self, item: OcrItem, text: str) -> int | None:
        """Index and match the text OCR read in a post's picture; alert chats it is news to.

        The post's rules run on the picture's text as on a post's own; matches are kept (for
        search, digests, /stats) with ``in_image``. Alerts go only for posts that arrived
        live or by catch-up within ``IMAGE_ALERT_WITHIN`` (a backlog read after OCR is turned
        on finds months-old pictures: they are searchable, not news), and only to chats not
        alerted on the post already. Returns how many alerts were queued (None: done before).
        """
        found = await self._store.archive.posts([item.post_id])
        if not found:
            return None
        stored = found[0]
        post = stored.post
        hits: list[MatchHit] = []
        terms = None
        if text.strip():
            analysis = self._rules.index.analyse(text)
            hits = self._rules.index.match(text, post.channel_username, analysis)
            terms = self.terms.of(text, analysis)
        records = [RuleHitRecord(h.rule_id, (), h.chat_id) for h in hits]
        alerts: list[AlertDraft] = []
        now = self._clock.now()
        fresh = (stored.source in (PostSource.LIVE, PostSource.RECONCILE)
                 and now - stored.received_at <= IMAGE_ALERT_WITHIN)
        if hits and fresh:
            late_by = self._late_by(post, stored.source)
            alerts = await self._drafts(post, hits_by_chat(hits, self._rules.rules_by_id),
                                        late_by=late_by, image_text=text)
        return await self._store.posts.save_image_text(post, item.post_id, item.file_id,
                                                       terms, records, alerts)

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
        self, post: Post, by_chat: dict[int, ChatHits], *,
        late_by: dt.timedelta | None = None, edited_match: bool = False,
        image_text: str = "",
    ) -> list[AlertDraft]:
        """Each chat's alert event, for the rules that alert instantly and are not muted.

        Mode and mute are read from the database now (they change without a rebuild); the
        matches of digest-only and muted rules are still stored for digests and /test. What
        the alert looks like is decided when it is sent (bot/render.py).
        """
        channel = await self._store.channels.get(post.channel_id)
        chats = await self._store.chats.by_ids(by_chat)
        current = await self._store.rules.by_ids(
            r.id for found in by_chat.values() for r in found.rules)
        now = self._clock.now()
        drafts = []
        for chat_id, found in sorted(by_chat.items()):
            rules = [current.get(r.id, r) for r in found.rules]
            instant = [r for r in rules if r.instant and not r.muted(now)]
            if not instant:
                continue
            chat = chats.get(chat_id)
            tz = chat_zone(chat, self._default_tz)
            held = quiet_until(now, tz, chat.quiet_start, chat.quiet_end) if chat else None
            event = alert_event(chat_id, post, channel, instant, found, now,
                                late_by=late_by, edited_match=edited_match,
                                image_text=image_text)
            drafts.append(AlertDraft(event, held))
        return drafts


def alert_event(chat_id: int, post: Post, channel: Channel | None, rules: Sequence[Rule],
                found: ChatHits, now: dt.datetime, *, late_by: dt.timedelta | None = None,
                edited_match: bool = False, image_text: str = "") -> AlertEvent:
    """What one chat's alert for a post says (README: Webhooks has its JSON form)."""
    return AlertEvent(
        chat_id=chat_id, key=alert_key(post), found_at=now,
        channel=AlertChannel(
            post.channel_id, channel.username if channel else post.channel_username,
            channel.title if channel else str(post.channel_id)),
        post=AlertPost(
            message_id=post.message_id, date=post.date, text=post.text,
            permalink=post.permalink, views=post.views, media=post.media,
            forwarded_from=post.fwd_from, edited=post.edit_date is not None,
            grouped_id=post.grouped_id),
        rules=tuple(FiredRule(r.id, r.number, r.expression) for r in rules),
        spans=tuple((a, b) for a, b in found.spans), places=tuple(dict.fromkeys(found.places)),
        late_by=late_by, edited_match=edited_match, image_text=image_text,
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

"""The one path every post takes: match, then store post + matches + alerts + cursor at once."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from zoneinfo import ZoneInfo

from bot.match import MatchHit
from bot.models import AlertDraft, Post, Rule
from bot.render import Span, render_alert
from bot.services.rules import RulesService
from bot.store import RuleHitRecord, SaveResult, Store

log = logging.getLogger(__name__)


class IngestService:
    """Turns a ``Post`` from any source into stored rows and queued alerts."""

    def __init__(
        self, store: Store, rules: RulesService, default_tz: ZoneInfo,
        on_enqueued: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._rules = rules
        self._default_tz = default_tz
        self._on_enqueued = on_enqueued

    async def ingest(self, post: Post) -> SaveResult:
        """Store one post; alert each chat whose rules match it, once per chat."""
        hits = self._rules.index.match(post.text)
        records = [RuleHitRecord(h.rule_id, h.spans) for h in hits]
        alerts: list[AlertDraft] = []
        if hits:
            alerts = await self._drafts(post, hits_by_chat(hits, self._rules.rules_by_id))
        result = await self._store.save_post(post, records, alerts)
        if result.alerts_enqueued and self._on_enqueued:
            self._on_enqueued()
        return result

    async def _drafts(
        self, post: Post, by_chat: dict[int, tuple[list[Rule], list[Span]]]
    ) -> list[AlertDraft]:
        channel = await self._store.channel(post.channel_id)
        title = channel.title if channel else str(post.channel_id)
        chats = await self._store.chats(by_chat)
        drafts = []
        for chat_id, (rules, spans) in sorted(by_chat.items()):
            chat = chats.get(chat_id)
            tz = ZoneInfo(chat.tz) if chat and chat.tz else self._default_tz
            html = render_alert(channel_title=title, post=post, spans=spans, rules=rules, tz=tz)
            drafts.append(AlertDraft(chat_id, html))
        return drafts


def hits_by_chat(
    hits: list[MatchHit], rules_by_id: dict[int, Rule]
) -> dict[int, tuple[list[Rule], list[Span]]]:
    """Group rule hits by chat: one alert per chat names all of its rules that fired."""
    grouped: dict[int, tuple[list[Rule], list[Span]]] = defaultdict(lambda: ([], []))
    for hit in hits:
        rule = rules_by_id.get(hit.rule_id)
        if rule is None:
            continue
        rules, spans = grouped[hit.chat_id]
        rules.append(rule)
        spans.extend(hit.spans)
    return dict(grouped)

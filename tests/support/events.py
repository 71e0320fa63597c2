"""Alert events built by hand, for tests that queue or render alerts without the ingest path."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bot.events import AlertChannel, AlertEvent, AlertPost, FiredRule, Span
from bot.models import Post, Rule
from bot.store import AlertDraft, alert_key


def alert_event(
    post: Post, chat_id: int = 1, *, title: str = "C", rules: Sequence[Rule | FiredRule] = (),
    spans: Sequence[Span] = (), places: Sequence[str] = (),
    late_by: dt.timedelta | None = None, edited_match: bool = False,
    found_at: dt.datetime | None = None,
) -> AlertEvent:
    """The event ingest would make for ``post`` in ``chat_id`` (default: rule #1 ``x``)."""
    fired = tuple(FiredRule(r.id, r.number, r.expression) for r in rules) or (
        FiredRule(1, 1, "x"),)
    return AlertEvent(
        chat_id=chat_id, key=alert_key(post), found_at=found_at or post.date,
        channel=AlertChannel(post.channel_id, post.channel_username, title),
        post=AlertPost(post.message_id, post.date, post.text, post.permalink, post.views,
                       post.media, post.fwd_from, post.edit_date is not None, post.grouped_id),
        rules=fired, spans=tuple(spans), places=tuple(places), late_by=late_by,
        edited_match=edited_match,
    )


def draft(post: Post, chat_id: int = 1, *, title: str = "C",
          held_until: dt.datetime | None = None) -> AlertDraft:
    """An alert to queue for ``post``: rule #1 ``x`` of ``chat_id`` fired."""
    return AlertDraft(alert_event(post, chat_id, title=title), held_until)

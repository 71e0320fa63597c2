"""What the repositories return besides the domain models (bot/models.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from bot.models import Post

Span = tuple[int, int]


@dataclass(frozen=True)
class RuleHitRecord:
    """A rule that matched a post, with the character spans that fired."""

    rule_id: int
    spans: Sequence[Span]
    chat_id: int = 0  # the rule's chat (needed only when storing an edit's matches)


@dataclass(frozen=True)
class SaveResult:
    """What storing one post did."""

    post_id: int
    created: bool
    alerts_enqueued: int


@dataclass(frozen=True)
class EditResult:
    """What recording an edit did."""

    post_id: int
    changed: bool
    alerted_chats: frozenset[int]


@dataclass(frozen=True)
class DeletedPost:
    """A post just marked deleted, with the chats that asked to hear about it."""

    post_id: int
    channel_id: int
    message_id: int
    text: str
    permalink: str
    notify: tuple[tuple[int, int], ...]  # (chat id, rule number)


def alert_key(post: Post) -> str:
    """One alert per chat per post; an album (one grouped_id) counts as one post."""
    if post.grouped_id:
        return f"album:{post.channel_id}:{post.grouped_id}"
    return f"post:{post.channel_id}:{post.message_id}"



@dataclass(frozen=True)
class HeldAlert:
    """An alert held back by quiet hours, to be folded into one message."""

    id: int
    summary: str
    also: tuple[str, ...]
    post_deleted: bool = False  # the channel deleted the post while the alert was held




DEFAULT_DEDUP_WINDOW = dt.timedelta(hours=6)

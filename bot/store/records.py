"""What the repositories return besides the domain models (bot/models.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from bot.events import Alert, AlertEvent, AlsoEntry
from bot.models import ChatKind, Post, WebhookFormat

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
class AlertDraft:
    """An alert to enqueue for one chat: its event, and whether quiet hours hold it."""

    event: AlertEvent
    held_until: dt.datetime | None = None  # quiet hours: deliver (folded) at this time

    @property
    def chat_id(self) -> int:
        return self.event.chat_id


@dataclass(frozen=True)
class HeldAlert:
    """An alert held back by quiet hours, to be folded into one message."""

    id: int
    alert: Alert
    also: tuple[AlsoEntry, ...] = ()
    post_deleted: bool = False  # the channel deleted the post while the alert was held
    tz: str | None = None  # the chat's /tz


# --- Outbox rows as the dispatcher reads them: one small type per kind --------------------


@dataclass(frozen=True, kw_only=True)
class Queued:
    """What every outbox row has: its chat and the random_id persisted before the first try."""

    id: int
    chat_id: int
    random_id: int
    attempts: int = 0

    @property
    def lane(self) -> tuple[int, int]:
        """Messages of one lane go out in order: a chat's Telegram messages, or one webhook."""
        return (self.chat_id, 0)


@dataclass(frozen=True, kw_only=True)
class TelegramMessage(Queued):
    """A message the bot account sends to a chat (it spends the chat's send budget)."""

    chat_kind: ChatKind = ChatKind.PRIVATE


@dataclass(frozen=True, kw_only=True)
class NoticeMessage(TelegramMessage):
    """A notice the bot sends on its own initiative (to admins, deletions, …): ready HTML."""

    html: str


@dataclass(frozen=True, kw_only=True)
class FoldMessage(TelegramMessage):
    """The one message that delivers the alerts held during quiet hours: ready HTML."""

    html: str


@dataclass(frozen=True, kw_only=True)
class DigestMessage(TelegramMessage):
    """A digest: its HTML, and its chart sent after the text."""

    html: str
    chart: bytes | None = None


@dataclass(frozen=True, kw_only=True)
class AlertMessage(TelegramMessage):
    """An alert, rendered when it is sent with what is known then."""

    alert: Alert
    created_at: dt.datetime  # when it was queued: a long wait is said in the alert
    also: tuple[AlsoEntry, ...] = ()  # the same story in other channels since
    tz: str | None = None  # the chat's /tz (None: the instance's TIMEZONE)
    post_id: int | None = None
    post_text: str | None = None  # the post's stored text, for translations
    post_deleted: bool = False  # the channel deleted the post before this was sent
    translate_lang: str | None = None  # the chat's /translate language
    media_alerts: bool = False  # the chat's /media: send it as the post's photo if there is one


@dataclass(frozen=True, kw_only=True)
class EditMessage(TelegramMessage):
    """A sent alert to change (its "also in" line grew): rendered again from its alert."""

    alert: Alert
    message_id: int | None  # the Telegram message to edit (None: unknown after a crash)
    also: tuple[AlsoEntry, ...] = ()
    tz: str | None = None
    # what the alert said when it was sent, so the edit says it again
    waited: dt.timedelta | None = None  # how long it had waited in the queue
    deleted_before_sent: bool = False
    post_id: int | None = None
    post_text: str | None = None  # for its translation
    translate_lang: str | None = None
    sent_as_photo: bool = False  # the alert went as a photo with the alert as its caption


@dataclass(frozen=True, kw_only=True)
class WebhookDelivery(Queued):
    """An event POSTed to one webhook; each webhook is its own lane.

    ``alert`` is the alert's event; ``payload`` the JSON of a test event, or of an alert
    queued by a version before 0006 (then ``alert`` is None).
    """

    webhook_id: int
    url: str | None  # None: the webhook is gone
    format: WebhookFormat = WebhookFormat.JSON
    alert: AlertEvent | None = None
    payload: str = ""
    post_deleted: bool = False

    @property
    def lane(self) -> tuple[int, int]:
        return (self.chat_id, self.webhook_id)


OutboxMessage = (AlertMessage | NoticeMessage | DigestMessage | FoldMessage | EditMessage
                 | WebhookDelivery)


DEFAULT_DEDUP_WINDOW = dt.timedelta(hours=6)


@dataclass(frozen=True)
class ArchivedPost:
    """A stored post as the archive shows it: search results, stats and export."""

    id: int
    post: Post
    channel_title: str
    received_at: dt.datetime
    deleted_at: dt.datetime | None
    edits: int  # how many times its text changed
    regions: tuple[str, ...]  # ISO codes of the first-level regions it names
    reactions: int | None
    source: str
    image_text: str = ""  # what OCR read in its pictures (read with search results)


@dataclass(frozen=True)
class SearchWindow:
    """Which posts a search looks at: published in [since, until), of these channels."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    channels: tuple[str, ...] = ()  # usernames (lower case); empty: every channel


@dataclass(frozen=True)
class SavedSearch:
    """A /search remembered for its "More ▸" button."""

    id: int
    chat_id: int
    query: str
    since: dt.datetime | None
    until: dt.datetime | None

"""Plain data that travels between layers. Nothing here knows about Telethon or SQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum, StrEnum


class PostSource(StrEnum):
    """How a post reached the archive (posts.source)."""

    LIVE = "live"  # the user account's updates, as they happen
    RECONCILE = "reconcile"  # caught up after a gap (alerts say how late they are)
    BACKFILL = "backfill"  # history read at /watch: matches recorded, nothing sent
    PREVIEW = "preview"  # polled from the channel's t.me/s web preview
    IMPORT = "import"  # read from an export file (chanwatch import): never alerts


@dataclass(frozen=True)
class StoryKeys:
    """What cross-channel dedup knows of a post (bot/match/dedup.py works them out).

    ``story``: its forward origin, or the post itself; ``fingerprint``: a MinHash signature of
    its text, only for posts that alert (None for short texts).
    """

    story: str
    fingerprint: bytes | None = None


@dataclass(frozen=True)
class MediaFile:
    """A photo or document a post carries, as far as Telegram describes it before download.

    ``ref``: the message's media object as Telegram serialises it (TL bytes, with the file
    reference of the moment), which is all a download needs; bot/telegram/media.py reads it.
    """

    file_id: int  # Telegram's photo or document id
    kind: str  # photo, video, round, voice, audio, gif, sticker, document
    mime: str
    ref: bytes
    size: int | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    file_name: str | None = None


@dataclass(frozen=True)
class Post:
    """One channel message, normalised by a source adapter."""

    channel_id: int
    message_id: int
    date: dt.datetime
    text: str
    permalink: str
    views: int | None = None
    forwards: int | None = None
    fwd_from: str | None = None  # "channel:<id>/<msg>", "user:<id>" or "name:<shown name>"
    reply_to: int | None = None
    grouped_id: int | None = None
    media: str | None = None  # photo, video, document, audio, voice, sticker, poll, ...
    edit_date: dt.datetime | None = None
    channel_username: str | None = None  # for channel: filters; not stored with the post
    reactions: int | None = None  # the sum over every reaction's count, as last read
    media_file: MediaFile | None = None  # what bot/media downloads (photos and documents)


@dataclass(frozen=True)
class TextTerms:
    """What the full-text index holds for a text (bot/archive/terms.py)."""

    terms: str  # space-separated FTS5 tokens, sorted
    regions: tuple[str, ...] = ()  # ISO 3166-2 codes of first-level regions named, sorted


class ChannelStatus(StrEnum):
    """Whether a channel is watched, and if not, why (channels.status)."""

    ACTIVE = "active"
    UNWATCHED = "unwatched"  # someone ran /unwatch
    PRIVATE = "private"  # became private, or the account was removed from it
    BANNED = "banned"  # allowed by the schema; nothing sets it today
    DELETED = "deleted"
    ERROR = "error"  # cannot be read (the preview poller gave up on it)


class ChannelSource(StrEnum):
    """How a channel is read (channels.source)."""

    LIVE = "live"  # the user account
    PREVIEW = "preview"  # the t.me/s web preview


@dataclass(frozen=True)
class Channel:
    """A watched (or formerly watched) channel."""

    id: int
    username: str | None
    title: str
    access_hash: int | None
    cursor: int
    status: ChannelStatus
    added_at: dt.datetime
    last_error: str | None = None
    source: ChannelSource = ChannelSource.LIVE


@dataclass(frozen=True)
class ChannelStats:
    """A channel with what ``/channels`` shows about it."""

    channel: Channel
    post_count: int
    last_post_at: dt.datetime | None


class ChatKind(str, Enum):
    """Where the bot is talking."""

    PRIVATE = "private"
    GROUP = "group"
    CHANNEL = "channel"


class WebhookFormat(StrEnum):
    """How a webhook's events are shaped (webhooks.format; bot/http/webhooks.py)."""

    JSON = "json"  # the event itself (payload v1)
    SLACK = "slack"
    DISCORD = "discord"
    NTFY = "ntfy"


@dataclass(frozen=True)
class Webhook:
    """Where a chat's alerts are also POSTed (chat_id None: the operator's WEBHOOK_URL)."""

    id: int
    chat_id: int | None
    number: int
    url: str
    format: WebhookFormat
    status: str
    last_error: str | None = None


class ChatStatus(StrEnum):
    """Whether a subscriber chat gets alerts (chats.status)."""

    ACTIVE = "active"
    PAUSED = "paused"  # its owner was denied (/deny); /allow makes it active again
    DEAD = "dead"  # the bot cannot write there (blocked, kicked); /start revives it


@dataclass(frozen=True)
class Chat:
    """A subscriber chat of the bot."""

    id: int
    kind: ChatKind
    title: str | None
    tz: str | None
    status: ChatStatus
    quiet_start: int | None = None  # minutes after local midnight
    quiet_end: int | None = None
    digest_cron: str | None = None
    digest_since: dt.datetime | None = None
    translate_lang: str | None = None
    media_alerts: bool = False  # /media on: alerts go as the post's photo with a caption


class RuleMode(StrEnum):
    """How a rule reports its matches (rules.mode)."""

    INSTANT = "instant"  # alerts at once, not in the digest
    DIGEST = "digest"  # only in the digest
    BOTH = "both"


@dataclass(frozen=True)
class Rule:
    """A stored alert rule of one chat."""

    id: int
    chat_id: int
    number: int
    expression: str
    mode: RuleMode
    created_at: dt.datetime
    notify_deleted: bool = False
    muted_until: dt.datetime | None = None

    def muted(self, now: dt.datetime) -> bool:
        """Whether instant alerts of this rule are muted at ``now``."""
        return self.muted_until is not None and self.muted_until > now

    @property
    def instant(self) -> bool:
        """Whether matches of this rule are alerted at once (mode instant or both)."""
        return self.mode in (RuleMode.INSTANT, RuleMode.BOTH)

    @property
    def in_digest(self) -> bool:
        """Whether matches of this rule count in the chat's digest (mode digest or both)."""
        return self.mode in (RuleMode.DIGEST, RuleMode.BOTH)


class Role(str, Enum):
    """What a person may do."""

    STRANGER = "stranger"
    MEMBER = "member"
    ADMIN = "admin"


@dataclass(frozen=True)
class ButtonSpec:
    """An inline button: callback ``data`` for the bot, or a ``url`` to open."""

    text: str
    data: str | None = None
    url: str | None = None


Buttons = tuple[tuple[ButtonSpec, ...], ...]  # rows of buttons


class OutboxKind(StrEnum):
    """What an outbox row is (outbox.kind); bot/store/records.py has one type per kind."""

    ALERT = "alert"
    NOTICE = "notice"
    DIGEST = "digest"
    FOLD = "fold"  # the alerts held by quiet hours, in one message
    EDIT = "edit"  # a change of a sent alert ("also in")
    WEBHOOK = "webhook"


class OutboxStatus(StrEnum):
    """Where an outbox row is in its life (outbox.status)."""

    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"  # given up on (the chat cannot receive, or too many failures)
    HELD = "held"  # an alert waiting for the end of the chat's quiet hours
    FOLDED = "folded"  # a held alert delivered inside a fold message

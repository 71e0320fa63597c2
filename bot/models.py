"""Plain data that travels between layers. Nothing here knows about Telethon or SQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum


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


@dataclass(frozen=True)
class Channel:
    """A watched (or formerly watched) channel."""

    id: int
    username: str | None
    title: str
    access_hash: int | None
    cursor: int
    status: str
    added_at: dt.datetime
    last_error: str | None = None
    source: str = "live"  # live (the user account) or preview (the t.me/s web preview)


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


@dataclass(frozen=True)
class Webhook:
    """Where a chat's alerts are also POSTed (chat_id None: the operator's WEBHOOK_URL)."""

    id: int
    chat_id: int | None
    number: int
    url: str
    format: str
    status: str
    last_error: str | None = None


@dataclass(frozen=True)
class Chat:
    """A subscriber chat of the bot."""

    id: int
    kind: ChatKind
    title: str | None
    tz: str | None
    status: str
    quiet_start: int | None = None  # minutes after local midnight
    quiet_end: int | None = None
    digest_cron: str | None = None
    digest_since: dt.datetime | None = None
    translate_lang: str | None = None


@dataclass(frozen=True)
class Rule:
    """A stored alert rule of one chat."""

    id: int
    chat_id: int
    number: int
    expression: str
    mode: str
    created_at: dt.datetime
    notify_deleted: bool = False
    muted_until: dt.datetime | None = None

    def muted(self, now: dt.datetime) -> bool:
        """Whether instant alerts of this rule are muted at ``now``."""
        return self.muted_until is not None and self.muted_until > now


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


@dataclass(frozen=True)
class OutboxItem:
    """A message waiting to be sent by the dispatcher."""

    id: int
    chat_id: int
    kind: str
    payload: str
    random_id: int
    attempts: int
    chat_kind: ChatKind = ChatKind.PRIVATE
    buttons: Buttons = ()
    attachment: bytes | None = None
    also: tuple[str, ...] = ()
    edit_message_id: int | None = None  # kind 'edit': the Telegram message to change
    ref_id: int | None = None
    post_id: int | None = None
    post_text: str | None = None  # for translations
    translate_lang: str | None = None  # the chat's /translate language
    webhook_id: int | None = None  # kind 'webhook': where the JSON event goes
    webhook_url: str | None = None
    webhook_format: str | None = None
    created_at: dt.datetime | None = None  # when it was queued
    post_deleted: bool = False  # the channel deleted the post before this was sent

    @property
    def lane(self) -> tuple[int, int]:
        """Messages of one lane go out in order: a chat's Telegram messages, or one webhook."""
        return (self.chat_id, self.webhook_id or 0)


@dataclass(frozen=True)
class AlertDraft:
    """An alert to enqueue for one chat, rendered before the write transaction."""

    chat_id: int
    html: str
    summary: str = ""  # one line, for folding held alerts into one message
    buttons: Buttons = ()
    held_until: dt.datetime | None = None  # quiet hours: deliver (folded) at this time
    also_label: str = ""  # how this post is named in "also in …" when it repeats a story
    event: str = ""  # the JSON event for the chat's webhooks (README: Webhooks)

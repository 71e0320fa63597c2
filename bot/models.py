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
class Chat:
    """A subscriber chat of the bot."""

    id: int
    kind: ChatKind
    title: str | None
    tz: str | None
    status: str


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


class Role(str, Enum):
    """What a person may do."""

    STRANGER = "stranger"
    MEMBER = "member"
    ADMIN = "admin"


@dataclass(frozen=True)
class OutboxItem:
    """A message waiting to be sent by the dispatcher."""

    id: int
    chat_id: int
    kind: str
    payload: str
    random_id: int
    attempts: int


@dataclass(frozen=True)
class AlertDraft:
    """An alert to enqueue for one chat, rendered before the write transaction."""

    chat_id: int
    html: str

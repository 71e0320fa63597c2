"""Telethon message → ``Post``: the one place that reads Telethon message objects."""

from __future__ import annotations

import datetime as dt
from typing import Any

from telethon.tl import types

from bot.models import Post


def permalink(channel_id: int, username: str | None, message_id: int) -> str:
    """Public link to a post; private channels get the t.me/c form (members only)."""
    if username:
        return f"https://t.me/{username}/{message_id}"
    return f"https://t.me/c/{channel_id}/{message_id}"


def _forward_origin(fwd: Any) -> str | None:
    if fwd is None:
        return None
    source = fwd.from_id
    if isinstance(source, types.PeerChannel):
        post = f"/{fwd.channel_post}" if fwd.channel_post else ""
        return f"channel:{source.channel_id}{post}"
    if isinstance(source, types.PeerUser):
        return f"user:{source.user_id}"
    if isinstance(source, types.PeerChat):
        return f"chat:{source.chat_id}"
    if fwd.from_name:
        return f"name:{fwd.from_name}"
    return "hidden"


def media_kind(message: Any) -> str | None:
    """A short name for what a message carries besides text."""
    media = message.media
    if media is None:
        return None
    for kind in ("photo", "video", "voice", "audio", "sticker", "gif", "poll", "geo", "contact"):
        if getattr(message, kind, None):
            return kind
    if isinstance(media, types.MessageMediaWebPage):
        return "webpage"
    if getattr(message, "document", None):
        return "document"
    return "other"


def reaction_count(reactions: Any) -> int | None:
    """The sum of a message's reaction counts (types.MessageReactions); None: it shows none.

    Every kind counts alike (emoji, custom emoji, paid stars): /top ranks engagement, not taste.
    """
    if reactions is None:
        return None
    return sum(int(r.count) for r in reactions.results)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def message_to_post(message: Any, username: str | None) -> Post:
    """Convert a channel message (types.Message) into a Post."""
    channel_id = message.peer_id.channel_id
    reply = message.reply_to
    date = _aware(message.date)
    assert date is not None
    return Post(
        channel_id=channel_id,
        message_id=message.id,
        date=date.astimezone(dt.UTC),
        text=message.message or "",
        permalink=permalink(channel_id, username, message.id),
        views=message.views,
        forwards=message.forwards,
        fwd_from=_forward_origin(message.fwd_from),
        reply_to=getattr(reply, "reply_to_msg_id", None) if reply else None,
        grouped_id=message.grouped_id,
        media=media_kind(message),
        edit_date=_aware(message.edit_date),
        channel_username=username,
        reactions=reaction_count(getattr(message, "reactions", None)),
    )

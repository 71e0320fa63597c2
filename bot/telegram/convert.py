"""Telethon message → ``Post``: the one place that reads Telethon message objects."""

from __future__ import annotations

import datetime as dt
from typing import Any

from telethon.tl import types

from bot.models import MediaFile, Post


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


def _largest_photo_size(photo: Any) -> tuple[int | None, int | None, int | None]:
    """(bytes, width, height) of the size Telethon downloads: the one with the most bytes."""
    best: tuple[int | None, int | None, int | None] = (None, None, None)
    for size in photo.sizes:
        if isinstance(size, types.PhotoSize):
            nbytes = size.size
        elif isinstance(size, types.PhotoSizeProgressive):
            nbytes = max(size.sizes) if size.sizes else 0
        else:  # stripped and path thumbnails are drawn from inline bytes, never downloaded
            continue
        if best[0] is None or nbytes > best[0]:
            best = (nbytes, size.w, size.h)
    return best


def media_file(message: Any) -> MediaFile | None:
    """The downloadable photo or document of a message (None: nothing to download)."""
    media = message.media
    if isinstance(media, types.MessageMediaPhoto) and isinstance(media.photo, types.Photo):
        size, width, height = _largest_photo_size(media.photo)
        if size is None:
            return None
        return MediaFile(file_id=media.photo.id, kind="photo", mime="image/jpeg",
                         ref=bytes(media), size=size, width=width, height=height)
    if isinstance(media, types.MessageMediaDocument) and isinstance(media.document,
                                                                     types.Document):
        doc = media.document
        width = height = file_name = None
        duration: float | None = None
        for attr in doc.attributes:
            if isinstance(attr, types.DocumentAttributeVideo):
                width, height, duration = attr.w, attr.h, float(attr.duration)
            elif isinstance(attr, types.DocumentAttributeAudio):
                duration = float(attr.duration)
            elif isinstance(attr, types.DocumentAttributeImageSize):
                width, height = attr.w, attr.h
            elif isinstance(attr, types.DocumentAttributeFilename):
                file_name = attr.file_name
        return MediaFile(file_id=doc.id, kind=media_kind(message) or "document",
                         mime=doc.mime_type or "application/octet-stream", ref=bytes(media),
                         size=doc.size, width=width, height=height, duration=duration,
                         file_name=file_name)
    return None


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
        media_file=media_file(message),
    )

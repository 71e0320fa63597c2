"""Telegram Desktop's "Export chat history" JSON (``result.json``) of a channel → posts.

The file is read as a stream (bot/archive/jsonstream.py): one message in memory at a time.
What Telegram Desktop writes (Telegram/SourceFiles/export/output/export_output_json.cpp):

- top level ``{"name", "type", "id", "messages": [...]}``; ``id`` is the bare channel id, the
  one Telegram's API and chanwatch use, so imported and live posts of a channel meet. Exports
  made before 2021 wrote the client's internal peer id instead (the channel id plus 2^33), and a
  numeric ``from_id``; both are recognised. A full account export (``chats.list``) holds the
  same objects: its channels are imported, other chats skipped. A file without ``id`` (some
  published datasets drop it) takes the channel from its messages' ``from_id: "channel<id>"``.
- ``date`` is the exporting computer's local time without a zone; ``date_unixtime`` (exports
  since 2021) is exact and preferred. Without it, ``date`` is read in the zone given (--tz).
- ``text`` is a string, or a list of strings and entity objects ``{"type", "text", ...}``;
  their texts joined are the message text as Telegram's API gives it (what live posts store).
- media are placeholders: ``photo``, ``file`` with ``media_type`` / ``mime_type``, ``poll``,
  ``location_information``, ``contact_information``…, mapped to the kinds live posts get
  (bot/telegram/convert.py: a round video message and an MP4 animation are ``video`` there).
- ``type: "service"`` (channel created, photo changed, pinned…) and ``"unsupported"`` messages
  are no posts; a message with neither text nor media is skipped as empty.
- albums: exports do not carry ``grouped_id``. Consecutive messages (ids n, n+1, …) with
  album media (photo, video, document, audio), the same second and the same author and
  forward origin are taken as one album, at most 10 (Telegram's limit); its ``grouped_id`` is
  the album's first message id — a small number no real grouped_id (random 64-bit) resembles.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from bot.archive.jsonstream import JsonStream, JsonSyntaxError
from bot.models import Post

CHANNEL_TYPES = frozenset({"public_channel", "private_channel", "public_supergroup",
                           "private_supergroup"})
LEGACY_CHANNEL_SHIFT = 0x200000000  # Telegram Desktop's peer id of a channel before 2021
ALBUM_MEDIA = frozenset({"photo", "video", "document", "audio"})
ALBUM_MAX = 10
FIND_CHANNEL_WITHIN = 1000  # messages read ahead for a from_id when the file has no id
_MEDIA_TYPES = {
    "sticker": "sticker", "voice_message": "voice", "audio_file": "audio",
    "video_file": "video", "video_message": "video", "animation": "video",
}


class ImportFormatError(ValueError):
    """A file that cannot be imported; the message says where (line, column, message)."""


@dataclass(frozen=True)
class Version:
    """An earlier text of a post (post_versions): replaced at ``replaced_at``."""

    text: str
    edit_date: dt.datetime | None
    replaced_at: dt.datetime


@dataclass(frozen=True)
class ImportedPost:
    """A post read from an export file, with what ``Post`` does not carry."""

    post: Post
    channel_title: str
    reactions: int | None = None
    deleted_at: dt.datetime | None = None
    versions: tuple[Version, ...] = ()


@dataclass
class Skipped:
    """Messages read that are not posts."""

    service: int = 0
    empty: int = 0
    other_chats: int = 0  # messages of chats that are no channel (full account exports)


@dataclass
class _Dialog:
    name: str = ""
    type: str | None = None
    id: int | None = None
    username: str | None = None
    skipped: Skipped = field(default_factory=Skipped)


def permalink(channel_id: int, username: str | None, message_id: int) -> str:
    """t.me/<username>/<id>, or t.me/c/<channel id>/<id> (members only) without a username.

    The links live posts get (bot/telegram/convert.py, which imports Telethon: not here).
    """
    if username:
        return f"https://t.me/{username}/{message_id}"
    return f"https://t.me/c/{channel_id}/{message_id}"


def channel_id_of(raw: object, kind: str | None) -> int:
    """The bare channel id of an export's ``id`` (new and pre-2021 encodings)."""
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool) or raw <= 0:
        raise ValueError(f"the export's id {raw!r} is not a channel id")
    if kind in CHANNEL_TYPES and LEGACY_CHANNEL_SHIFT <= raw < 2 * LEGACY_CHANNEL_SHIFT:
        return raw - LEGACY_CHANNEL_SHIFT
    return raw


def _peer(raw: object) -> str | None:
    """"channel123" → "channel:123" (our fwd_from form); users and chats likewise."""
    if not isinstance(raw, str):
        return None
    for prefix in ("channel", "user", "chat"):
        if raw.startswith(prefix) and raw[len(prefix):].isdigit():
            return f"{prefix}:{raw[len(prefix):]}"
    return None


def _when(msg: dict[str, Any], key: str, tz: ZoneInfo) -> dt.datetime | None:
    """``<key>_unixtime`` if present, else ``<key>`` read as local time in ``tz``."""
    unix = msg.get(f"{key}_unixtime")
    if isinstance(unix, str) and unix.isdigit():
        unix = int(unix)
    if isinstance(unix, int) and not isinstance(unix, bool):
        return dt.datetime.fromtimestamp(unix, dt.UTC)
    raw = msg.get(key)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ValueError(f"{key} is not a date: {raw!r}")
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{key} is not a date: {raw!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(dt.UTC)


def message_text(raw: object) -> str:
    """The text of ``text`` / ``text_entities``: a string, or parts joined."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, list):
        raise ValueError("text is neither a string nor a list")
    parts = []
    for part in raw:
        if isinstance(part, dict):
            part = part.get("text", "")
        if not isinstance(part, str):
            raise ValueError("a text part is neither a string nor an entity with a text")
        parts.append(part)
    return "".join(parts)


def media_kind(msg: dict[str, Any]) -> str | None:
    """What the message carries besides text, as live posts name it."""
    if "photo" in msg:
        return "photo"
    media_type = msg.get("media_type")
    if isinstance(media_type, str) and media_type in _MEDIA_TYPES:
        return _MEDIA_TYPES[media_type]
    if "file" in msg:
        mime = msg.get("mime_type")
        if isinstance(mime, str) and mime.startswith("video/"):
            return "video"
        if isinstance(mime, str) and mime.startswith("audio/"):
            return "audio"
        return "document"
    if "poll" in msg:
        return "poll"
    if "location_information" in msg or "place_name" in msg:
        return "geo"
    if "contact_information" in msg:
        return "contact"
    if "game_title" in msg or "invoice_information" in msg:
        return "other"
    return None


def _forward(msg: dict[str, Any]) -> str | None:
    origin = _peer(msg.get("forwarded_from_id"))
    if origin is not None:
        return origin
    if "forwarded_from" not in msg:
        return None
    name = msg["forwarded_from"]
    return f"name:{name}" if isinstance(name, str) and name else "hidden"


def _reactions(raw: object) -> int | None:
    if not isinstance(raw, list):
        return None
    counts = [r.get("count") for r in raw if isinstance(r, dict)]
    return sum(c for c in counts if isinstance(c, int) and not isinstance(c, bool))


def to_post(msg: dict[str, Any], channel: _Dialog, tz: ZoneInfo) -> ImportedPost | None:
    """One exported message as a post; None for service and empty messages (counted)."""
    kind = msg.get("type", "message")
    if kind in ("service", "unsupported"):
        channel.skipped.service += 1
        return None
    message_id = msg.get("id")
    if not isinstance(message_id, int) or isinstance(message_id, bool) or message_id <= 0:
        raise ValueError("the id is not a positive number")
    date = _when(msg, "date", tz)
    if date is None:
        raise ValueError("no date")
    text = message_text(msg["text"] if "text" in msg else msg.get("text_entities"))
    media = media_kind(msg)
    if not text and media is None:
        channel.skipped.empty += 1
        return None
    reply = msg.get("reply_to_message_id")
    assert channel.id is not None
    post = Post(
        channel_id=channel.id, message_id=message_id, date=date, text=text,
        permalink=permalink(channel.id, channel.username, message_id),
        fwd_from=_forward(msg),
        reply_to=reply if isinstance(reply, int) and not isinstance(reply, bool) else None,
        media=media, edit_date=_when(msg, "edited", tz), channel_username=channel.username)
    return ImportedPost(post, channel.name or str(channel.id),
                        reactions=_reactions(msg.get("reactions")))


def _album_key(msg: dict[str, Any], item: ImportedPost) -> tuple[object, ...] | None:
    if item.post.media not in ALBUM_MEDIA:
        return None
    return (item.post.date, msg.get("from_id"), msg.get("author"), item.post.fwd_from)


class _Albums:
    """Holds back a run of album-like messages until the run ends, then gives its group id."""

    def __init__(self) -> None:
        self._run: list[ImportedPost] = []
        self._key: tuple[object, ...] | None = None

    def push(self, msg: dict[str, Any], item: ImportedPost) -> list[ImportedPost]:
        key = _album_key(msg, item)
        run = self._run
        if (key is not None and run and key == self._key and len(run) < ALBUM_MAX
                and item.post.message_id == run[-1].post.message_id + 1):
            run.append(item)
            return []
        out = self.flush()
        if key is None:
            return [*out, item]
        self._run, self._key = [item], key
        return out

    def flush(self) -> list[ImportedPost]:
        run, self._run, self._key = self._run, [], None
        if len(run) < 2:
            return run
        group = run[0].post.message_id
        return [replace(i, post=replace(i.post, grouped_id=group)) for i in run]


class TdExport:
    """Streams the posts of a Telegram Desktop export (one channel, or a whole account)."""

    def __init__(self, fh: TextIO, tz: ZoneInfo, username: str | None = None) -> None:
        self._stream = JsonStream(fh)
        self._tz = tz
        self._username = username.lstrip("@") if username else None
        self.skipped = Skipped()
        self.index = 0  # the message being read, counted from 1 (for error positions)
        self.channels: list[tuple[int, str]] = []  # (id, title) of each channel read

    def posts(self) -> Iterator[ImportedPost]:
        """Every post of the file in order; ImportFormatError with its position if bad."""
        s = self._stream
        try:
            s.expect("{")
            yield from self._dialog(s, top=True)
            s.end()
        except JsonSyntaxError as exc:
            raise ImportFormatError(f"{exc}{self._at()}") from None

    def _at(self) -> str:
        return f" (message {self.index})" if self.index else ""

    def _dialog(self, s: JsonStream, *, top: bool) -> Iterator[ImportedPost]:
        """One chat object, after its '{' (the file itself, or one of an account's chats)."""
        # --username names the channel of a single-channel export, not an account's chats
        chat = _Dialog(username=self._username if top else None)
        for key in s.keys():
            if key == "messages":
                s.expect("[")
                yield from self._messages(s, chat, top)
            elif top and key in ("chats", "left_chats"):
                s.expect("{")
                for inner in s.keys():
                    if inner != "list":
                        s.value()
                        continue
                    s.expect("[")
                    for _ in s.items():
                        s.expect("{")
                        yield from self._dialog(s, top=False)
            else:
                value = s.value()
                if key == "name" and isinstance(value, str):
                    chat.name = value
                elif key == "type" and isinstance(value, str):
                    chat.type = value
                elif key == "id":
                    try:
                        chat.id = channel_id_of(value, chat.type)
                    except ValueError as exc:
                        raise s.value_error(str(exc)) from None
        total = self.skipped
        total.service += chat.skipped.service
        total.empty += chat.skipped.empty
        total.other_chats += chat.skipped.other_chats

    def _messages(self, s: JsonStream, chat: _Dialog, top: bool) -> Iterator[ImportedPost]:
        """The ``messages`` array of one chat, after its '['."""
        channel = chat.type is None or chat.type in CHANNEL_TYPES
        if not channel and top:
            raise s.error(f"this export is of a {chat.type}, not a channel"
                          " (chanwatch imports channels and supergroups)")
        if channel and chat.id is not None:
            self._begin(chat)
        albums = _Albums()
        waiting: list[dict[str, Any]] = []  # read ahead while the channel id is unknown
        for _ in s.items():
            self.index += 1
            msg = s.value()
            if not isinstance(msg, dict):
                raise s.value_error("a message is not a JSON object")
            if not channel:
                chat.skipped.other_chats += 1
                continue
            if chat.id is None:
                waiting.append(msg)
                chat.id = self._id_from(waiting, s)
                if chat.id is None:
                    continue
                self._begin(chat)
                for early in waiting:
                    yield from self._convert(early, chat, albums, s)
                waiting = []
                continue
            yield from self._convert(msg, chat, albums, s)
        if waiting:
            raise s.error("the export names no channel id (no top-level id, no from_id)")
        yield from albums.flush()

    def _begin(self, chat: _Dialog) -> None:
        assert chat.id is not None
        self.channels.append((chat.id, chat.name or str(chat.id)))

    def _id_from(self, waiting: list[dict[str, Any]], s: JsonStream) -> int | None:
        peer = _peer(waiting[-1].get("from_id")) or _peer(waiting[-1].get("actor_id"))
        if peer is not None and peer.startswith("channel:"):
            return int(peer.split(":")[1])
        if len(waiting) >= FIND_CHANNEL_WITHIN:
            raise s.error("the export names no channel id (no top-level id, and no from_id"
                          f" in its first {FIND_CHANNEL_WITHIN} messages)")
        return None

    def _convert(self, msg: dict[str, Any], chat: _Dialog, albums: _Albums,
                 s: JsonStream) -> Iterator[ImportedPost]:
        try:
            item = to_post(msg, chat, self._tz)
        except (ValueError, TypeError) as exc:
            raise s.value_error(f"message id {msg.get('id')!r}: {exc}") from None
        if item is not None:
            yield from albums.push(msg, item)

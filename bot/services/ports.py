"""Interfaces the services need from the Telegram adapters (implemented in bot/telegram/)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bot.models import Buttons, Channel, ChannelStatus, MediaFile, Post, WebhookFormat


@dataclass(frozen=True)
class ResolvedChannel:
    """A channel as Telegram describes it when it is resolved by username."""

    id: int
    username: str | None
    title: str
    access_hash: int | None


class ChannelLookupError(Exception):
    """A channel cannot be watched; the message is fit to show to the person who asked."""


class ChannelLimitError(ChannelLookupError):
    """The user account has joined as many channels as Telegram allows."""


class ChannelDirectory(Protocol):
    """What the user account can do with channels."""

    async def resolve_channel(self, username: str) -> ResolvedChannel:
        """Resolve a public username to a channel or raise ChannelLookupError."""
        ...

    async def join(self, channel: ResolvedChannel) -> None:
        """Join the channel so that its posts arrive live, or raise ChannelLookupError."""
        ...

    async def leave(self, channel_id: int, access_hash: int | None) -> None:
        """Leave a channel that is no longer watched (best effort)."""
        ...

    async def top_id(self, channel: ResolvedChannel) -> int:
        """The id of the channel's newest message (0 for an empty channel)."""
        ...


class FloodWait(Exception):
    """Telegram asked to wait this many seconds before the next message to this chat."""

    def __init__(self, seconds: int) -> None:
        super().__init__(f"flood wait {seconds}s")
        self.seconds = seconds


class MediaGone(Exception):
    """Telegram no longer has the file for us (message deleted and the reference expired)."""


class MediaRefused(Exception):
    """Telegram refused the download for a reason that retrying will not change."""


class MediaTransient(Exception):
    """A download failed for a reason worth retrying later (network, server error)."""


class MediaSource(Protocol):
    """What the media downloader needs from the user account."""

    async def download(self, channel: Channel, message_id: int, file: MediaFile,
                       dest: Path) -> MediaFile | None:
        """Write the file to ``dest``; the re-read file if its reference had to be refreshed.

        Raises FloodWait, MediaGone, MediaRefused or MediaTransient.
        """
        ...

    async def download_thumb(self, channel: Channel, message_id: int, file: MediaFile,
                             dest: Path) -> bool:
        """Write a document's largest thumbnail (a video's first frame) to ``dest``; False if
        it has none. Raises as ``download``."""
        ...


class PermanentSendError(Exception):
    """The chat cannot receive messages any more (blocked, kicked, deleted, no rights)."""


class TransientSendError(Exception):
    """Sending failed for a reason worth retrying (network, server error)."""


@dataclass(frozen=True)
class Outgoing:
    """One message as the dispatcher hands it to the bot account.

    ``html`` may be longer than Telegram's limit: the sender splits it into parts, the first
    part sent with ``random_id`` and part *i* with ``part_random_id(random_id, i)``, so a resend
    after a crash repeats exactly the same ids. ``photo`` goes after the text (a digest's
    chart), or, ``captioned``, first, with the text as its caption: the part that fits
    Telegram's caption limit, the rest in messages after it (buttons under the last); the id
    returned is the photo's. An edit of a ``captioned`` message (``photo`` None) changes the
    photo's caption to the new text if it fits the caption, and otherwise sends
    ``fallback_html`` as a new message. ``photo_key`` names the photo's bytes (their
    SHA-256): the sender may reuse what it uploaded for them before.
    """

    chat_id: int
    html: str
    random_id: int
    buttons: Buttons = ()
    photo: bytes | None = None
    edit_message_id: int | None = None  # edit this message instead of sending a new one
    captioned: bool = False
    photo_key: str | None = None
    fallback_html: str = ""


def part_random_id(random_id: int, index: int) -> int:
    """The random id of part ``index`` of a message (part 0 keeps the persisted id)."""
    if index == 0:
        return random_id
    mixed = (random_id * 0x9E3779B97F4A7C15 + index * 0xBF58476D1CE4E5B9) % (1 << 64)
    return mixed - (1 << 63)


class MessageSender(Protocol):
    """The bot account's outgoing side."""

    async def deliver(self, message: Outgoing) -> int | None:
        """Send (or edit) one message; return the Telegram id of its last part if known."""
        ...


class MessageRejected(Exception):
    """Telegram refused this particular message (too long, bad markup); the chat is fine."""


@dataclass(frozen=True)
class ChannelTop:
    """A watched channel's newest message id and current identity, as Telegram reports them."""

    channel_id: int
    top_id: int
    username: str | None
    title: str


@dataclass(frozen=True)
class ChannelTrouble:
    """A watched channel that cannot be read any more."""

    channel_id: int
    status: ChannelStatus  # private | deleted | error
    reason: str
    passing: bool = False  # an error that may pass: the channel stays watched, tried again


class ChannelUnavailable(Exception):
    """Telegram refuses to let the account read this channel (private, banned, deleted).

    Raised by every ``HistorySource`` read of one channel; the channel stops being watched.
    """

    def __init__(self, channel_id: int, status: ChannelStatus, reason: str) -> None:
        super().__init__(f"channel {channel_id} is {status} ({reason})")
        self.trouble = ChannelTrouble(channel_id, status, reason)


class AccountUnavailable(Exception):
    """The reading account's session no longer works (logged out, revoked): every channel."""


class ChannelReadFailed(Exception):
    """Reading one channel failed for a reason that may pass (a server error, an odd answer).

    The channel stays watched and is tried again at the next run.
    """


class HistorySource(Protocol):
    """What the reconciler, backfill and deletion check read from Telegram.

    Implementations wait out flood waits themselves and resume where they stopped. A read of
    one channel raises ``ChannelUnavailable`` or ``ChannelReadFailed`` for that channel's
    troubles; anything else (the connection, the session) concerns every channel.
    """

    async def tops(
        self, channels: Sequence[Channel]
    ) -> tuple[list[ChannelTop], list[ChannelTrouble]]:
        """Each channel's newest message id, in as few requests as possible."""
        ...

    def fetch_after(
        self, channel: Channel, min_id: int, top_id: int | None = None
    ) -> AsyncIterator[Post]:
        """Every post above ``min_id`` (up to ``top_id`` if known), oldest first, however many."""
        ...

    async def fetch_recent(
        self, channel: Channel, limit: int | None, since: dt.datetime | None, max_id: int
    ) -> list[Post]:
        """Up to ``limit`` posts (or all since ``since``), ids up to ``max_id``, newest first."""
        ...

    async def fetch_ids(self, channel: Channel, ids: Sequence[int]) -> dict[int, Post | None]:
        """The posts with these ids as they are now; None for deleted ones."""
        ...


class WebhookPoster(Protocol):
    """Where webhook deliveries go (bot/http/webhooks.py).

    Raises FloodWait on HTTP 429, PermanentSendError on other 4xx (or a refused address),
    TransientSendError on 5xx and network trouble — the same rules as Telegram messages.
    """

    async def post(self, url: str, fmt: WebhookFormat, event: dict[str, Any]) -> None:
        """POST the event shaped for ``fmt``."""
        ...


class AlertTranslator(Protocol):
    """Translations under alerts (bot/http/translate.py); never raises, bounded in time."""

    async def block(self, post_id: int, text: str, lang: str) -> str:
        """The HTML to append under the alert: the translation, or a short note."""
        ...

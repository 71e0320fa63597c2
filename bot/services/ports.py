"""Interfaces the services need from the Telegram adapters (implemented in bot/telegram/)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ResolvedChannel:
    """A channel as Telegram describes it when it is resolved by username."""

    id: int
    username: str | None
    title: str
    access_hash: int | None


class ChannelLookupError(Exception):
    """A channel cannot be watched; the message is fit to show to the person who asked."""


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


class FloodWait(Exception):
    """Telegram asked to wait this many seconds before the next message to this chat."""

    def __init__(self, seconds: int) -> None:
        super().__init__(f"flood wait {seconds}s")
        self.seconds = seconds


class PermanentSendError(Exception):
    """The chat cannot receive messages any more (blocked, kicked, deleted, no rights)."""


class TransientSendError(Exception):
    """Sending failed for a reason worth retrying (network, server error)."""


class MessageSender(Protocol):
    """The bot account's outgoing side."""

    async def send_html(self, chat_id: int, html: str, random_id: int) -> None:
        """Send one HTML message with this persisted random id."""
        ...


class MessageRejected(Exception):
    """Telegram refused this particular message (too long, bad markup); the chat is fine."""

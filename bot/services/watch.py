"""Adding and removing watched channels."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable

from bot.models import Channel, ChannelSource, ChannelStats, ChannelStatus
from bot.services.ports import ChannelDirectory, ChannelLimitError, ChannelLookupError
from bot.store import Store

log = logging.getLogger(__name__)
_USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_LINK_RE = re.compile(r"^(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me)/(?:s/)?([^/?#]+)/?(?:[?#].*)?$")


class WatchError(ValueError):
    """A /watch or /unwatch request cannot be done; the message says why."""


def parse_channel_target(text: str) -> str:
    """Turn ``@name``, ``name`` or a ``t.me`` link into a username, or raise WatchError."""
    raw = text.strip()
    if not raw:
        raise WatchError("Name a channel: /watch @name or /watch https://t.me/name")
    link = _LINK_RE.match(raw)
    if link:
        raw = link.group(1)
        if raw.startswith("+") or raw == "joinchat":
            raise WatchError("Invite links to private channels are not supported yet.")
    name = raw.removeprefix("@")
    if not _USERNAME_RE.match(name):
        raise WatchError(
            f"{raw!r} is not a channel username: use @name or https://t.me/name"
            " (5–32 letters, digits and underscores, starting with a letter)."
        )
    return name


def parse_watch_args(text: str) -> tuple[str, dt.date | None]:
    """``@name`` or ``@name since 2026-11-01`` → (target, since date)."""
    parts = text.split()
    if len(parts) >= 2 and parts[1].lower() == "since":
        if len(parts) != 3:
            raise WatchError("Usage: /watch @name since 2026-11-01")
        try:
            since = dt.date.fromisoformat(parts[2])
        except ValueError:
            raise WatchError(f"{parts[2]!r} is not a date like 2026-11-01.") from None
        return parts[0], since
    if len(parts) > 1:
        raise WatchError("Usage: /watch @name or /watch @name since 2026-11-01")
    return text, None


class WatchLimitError(WatchError):
    """The user account cannot join more channels."""


LIVE_LIMIT = 490  # Telegram lets an account join about 500 channels; keep some room


OnWatched = Callable[[Channel, int, int, "dt.date | None"], Awaitable[None]]


class WatchService:
    """Resolves, joins and records channels; unwatching keeps their stored posts."""

    def __init__(
        self, store: Store, directory: ChannelDirectory,
        on_change: Callable[[], Awaitable[None]] | None = None,
        on_watched: OnWatched | None = None,
    ) -> None:
        self._store = store
        self._directory = directory
        self._on_change = on_change
        self._on_watched = on_watched

    async def watch(
        self, target: str, by: int, chat_id: int | None = None, since: dt.date | None = None
    ) -> tuple[Channel, bool]:
        """Start watching; return the channel and whether it was newly added.

        Posts up to the channel's newest one at this moment are backfilled without alerts
        (``on_watched``); everything after it is new and alerts.
        """
        username = parse_channel_target(target)
        known = await self._store.channels.by_username(username)
        if known is not None and known.status == ChannelStatus.ACTIVE:
            return known, False
        try:
            resolved = await self._directory.resolve_channel(username)
            await self._directory.join(resolved)
            top = await self._directory.top_id(resolved)
        except ChannelLimitError as exc:
            raise WatchLimitError(str(exc)) from exc
        except ChannelLookupError as exc:
            raise WatchError(str(exc)) from exc
        channel, created = await self._store.channels.add(
            resolved.id, resolved.username, resolved.title, resolved.access_hash, by, cursor=top
        )
        log.info("watching channel %s (%d) from message %d", resolved.username, resolved.id, top)
        if self._on_change:
            await self._on_change()
        if self._on_watched and chat_id is not None:
            await self._on_watched(channel, chat_id, top, since)
        return channel, created

    async def unwatch(self, target: str) -> Channel:
        """Stop watching a channel (its posts stay searchable)."""
        username = parse_channel_target(target)
        channel = await self._store.channels.by_username(username)
        if channel is None or channel.status == ChannelStatus.UNWATCHED:
            raise WatchError(f"@{username} is not being watched.")
        await self._store.channels.set_status(channel.id, ChannelStatus.UNWATCHED)
        if self._on_change:
            await self._on_change()
        if channel.source != ChannelSource.LIVE:
            return channel  # read through its web preview: nothing was joined
        try:
            await self._directory.leave(channel.id, channel.access_hash)
        except Exception:  # leaving only frees a join slot; never fail the command for it
            log.warning("could not leave channel %d", channel.id, exc_info=True)
        return channel

    async def live_count(self) -> int:
        """How many channels the user account has joined for chanwatch."""
        return len(await self._store.channels.active())

    async def channels(self) -> list[ChannelStats]:
        """Every known channel with its numbers."""
        return await self._store.channels.stats()


class WatchedChannels:
    """In-memory view of the active channels (id → username) for the live handler's filter."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._usernames: dict[int, str | None] = {}

    async def refresh(self) -> None:
        """Reload from the database (at start and after /watch or /unwatch)."""
        self._usernames = {c.id: c.username for c in await self._store.channels.active()}

    def __len__(self) -> int:
        return len(self._usernames)

    def __contains__(self, channel_id: object) -> bool:
        return channel_id in self._usernames

    def username(self, channel_id: int) -> str | None:
        """The channel's public username, if it has one."""
        return self._usernames.get(channel_id)

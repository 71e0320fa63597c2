"""``/watch @name preview``: follow a public channel through its web preview, without joining."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bot.models import ChannelSource, ChannelStatus
from bot.preview.parse import clean_username, preview_channel_id
from bot.preview.poller import PreviewError, PreviewPoller
from bot.services.watch import WatchError
from bot.store import Store


class PreviewWatch:
    """``/watch @name preview``: follow a public channel through its web preview."""

    def __init__(self, store: Store, poller: PreviewPoller, poll_soon: Callable[[], None]) -> None:
        self._store = store
        self._poller = poller
        self._poll_soon = poll_soon

    async def watch(self, username: str, added_by: int,
                    since: dt.date | None = None) -> tuple[str, bool]:
        """Probe the preview, record the channel, and poll it at once: its backfill (the last
        BACKFILL_POSTS posts, or every post since ``since``, without alerts) is reported to
        the admin's private chat; raise WatchError with a readable reason."""
        channel_id = preview_channel_id(username)
        known = await self._store.channels.get(channel_id)
        if known is not None and known.status == ChannelStatus.ACTIVE:
            return known.title, False
        live = await self._store.channels.by_username(username)
        if (live is not None and live.status == ChannelStatus.ACTIVE
                and live.source == ChannelSource.LIVE):
            return live.title, False
        try:
            page = await self._poller.probe(username)
        except PreviewError as exc:
            raise WatchError(str(exc)) from exc
        if page.disabled:
            raise WatchError(f"@{username} has its web preview switched off; watch it live"
                             f" with /watch @{username}.")
        # before the channel is active: a poll must not start a backfill the plan misses
        self._poller.plan_backfill(channel_id, added_by, since)  # /watch: a private chat
        channel, created = await self._store.channels.add(
            channel_id, clean_username(username), page.title or username, None, added_by)
        await self._store.channels.set_source(channel.id, ChannelSource.PREVIEW)
        self._poll_soon()
        return channel.title, created

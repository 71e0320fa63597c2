"""Never miss a post: the reconciler, the backfill of new channels and the deletion check.

The cursor of a channel is the highest message id up to which every post is stored. The
reconciler asks Telegram for every channel's newest id in batches (one request per 100
channels) and fetches, in order, only what lies above the cursor — however much that is.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from bot.clock import Clock
from bot.models import Channel, Post
from bot.render import esc
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.services.ports import ChannelTrouble, HistorySource
from bot.store import Store

log = logging.getLogger(__name__)
BACKFILL_PROGRESS_EVERY = 500  # a multiple of BATCH
BATCH = 100  # posts stored per transaction during backfill and catch-up
CHECK_BATCH = 100  # channels.getMessages takes up to 100 ids


@dataclass
class ReconcileReport:
    """What one reconcile run did."""

    reason: str
    channels: int = 0
    changed: int = 0
    fetched: int = 0
    stored: int = 0
    troubles: list[ChannelTrouble] = field(default_factory=list)


_TROUBLE_TEXT = {
    "private": "became private, or the account was removed or banned there",
    "deleted": "no longer exists",
    "error": "cannot be read",
}


class Reconciler:
    """Catches up every watched channel; runs are serialised, a trigger during a run queues one."""

    def __init__(self, store: Store, source: HistorySource, ingest: IngestService,
                 admins: AdminNotifier, clock: Clock,
                 on_change: Callable[[], Awaitable[None]] | None = None) -> None:
        self._store = store
        self._source = source
        self._ingest = ingest
        self._admins = admins
        self._clock = clock
        self._on_change = on_change  # channels renamed or no longer readable
        self._lock = asyncio.Lock()
        self.reports: list[ReconcileReport] = []  # recent runs, newest last (for tests, /health)

    async def run(self, reason: str) -> ReconcileReport:
        """Fetch every post above every active channel's cursor and store it (late alerts)."""
        async with self._lock:
            report = ReconcileReport(reason)
            channels = await self._store.active_channels()
            report.channels = len(channels)
            if not channels:
                return report
            tops, troubles = await self._source.tops(channels)
            report.troubles = troubles
            for trouble in troubles:
                await self._channel_trouble(trouble)
            by_id = {c.id: c for c in channels}
            renamed = False
            for top in tops:
                channel = by_id.get(top.channel_id)
                if channel is not None and (top.username, top.title) != (channel.username,
                                                                        channel.title):
                    await self._renamed(channel, top.username, top.title)
                    by_id[channel.id] = replace(channel, username=top.username, title=top.title)
                    renamed = True
            if (renamed or troubles) and self._on_change:
                await self._on_change()
            for top in tops:
                channel = by_id.get(top.channel_id)
                if channel is None:
                    continue
                if top.top_id <= channel.cursor:
                    continue
                report.changed += 1
                batch: list[Post] = []
                async for post in self._source.fetch_after(channel, channel.cursor, top.top_id):
                    report.fetched += 1
                    batch.append(post)
                    if len(batch) >= BATCH:
                        report.stored += await self._store_batch(batch)
                        batch = []
                report.stored += await self._store_batch(batch)
                # everything up to the top was seen (service messages are no posts): move on
                await self._store.set_cursor(channel.id, top.top_id)
            self.reports = [*self.reports[-19:], report]
            if report.stored or troubles:
                log.info("reconcile (%s): %d channels, %d changed, %d posts stored late,"
                         " %d in trouble", reason, report.channels, report.changed,
                         report.stored, len(troubles))
            return report

    async def _store_batch(self, batch: list[Post]) -> int:
        if not batch:
            return 0
        results = await self._ingest.ingest_many(batch, source="reconcile")
        return sum(r.created for r in results)

    async def _channel_trouble(self, trouble: ChannelTrouble) -> None:
        channel = await self._store.channel(trouble.channel_id)
        if channel is None:
            return
        if not await self._store.set_channel_status(channel.id, trouble.status, trouble.reason):
            return  # already known: admins were told when it changed
        log.warning("channel %d (%s) is %s: %s", channel.id, channel.username, trouble.status,
                    trouble.reason)
        name = f"@{channel.username}" if channel.username else str(channel.id)
        text = (f"⚠️ Channel <b>{esc(channel.title)}</b> ({esc(name)})"
                f" {_TROUBLE_TEXT.get(trouble.status, trouble.status)}: it is no longer"
                f" watched ({esc(trouble.reason)}). /channels shows its status;"
                " /watch it again once it is readable.")
        stamp = self._clock.now().isoformat(timespec="seconds")
        await self._admins.tell(text, f"channel:{channel.id}:{trouble.status}:{stamp}")

    async def _renamed(self, channel: Channel, username: str | None, title: str) -> None:
        await self._store.update_channel_identity(channel.id, username, title)
        if username == channel.username:
            return  # a new title only: nothing breaks
        old = f"@{channel.username}" if channel.username else "no username"
        new = f"@{username}" if username else "no username (links now use t.me/c/…)"
        await self._admins.tell(
            f"ℹ️ Channel <b>{esc(title)}</b> changed its username: {esc(old)} → {esc(new)}."
            " It is still watched.",
            f"renamed:{channel.id}:{username}",
        )


class Backfiller:
    """Stores the recent history of a newly watched channel, without instant alerts."""

    def __init__(self, store: Store, source: HistorySource, ingest: IngestService,
                 admins: AdminNotifier) -> None:
        self._store = store
        self._source = source
        self._ingest = ingest
        self._admins = admins

    async def run(self, channel: Channel, chat_id: int, limit: int | None,
                  since: dt.datetime | None, top_id: int) -> int:
        """Fetch and store; report progress and the result in ``chat_id``. Returns posts stored."""
        posts = await self._source.fetch_recent(channel, limit, since, top_id)
        posts.reverse()  # oldest first, like everything else that reaches the store
        stored = 0
        for start in range(0, len(posts), BATCH):
            batch = posts[start:start + BATCH]
            results = await self._ingest.ingest_many(batch, source="backfill")
            stored += sum(r.created for r in results)
            done = start + len(batch)
            if done % BACKFILL_PROGRESS_EVERY == 0 and done < len(posts):
                await self._admins.tell_chat(
                    chat_id, f"📚 Backfill of <b>{esc(channel.title)}</b>: {done}/{len(posts)}",
                    f"backfill:{channel.id}:{top_id}:{done}")
        await self._admins.tell_chat(
            chat_id,
            f"📚 Backfill of <b>{esc(channel.title)}</b> done: {stored} earlier posts stored"
            " (no alerts for them; they count in search and digests).",
            f"backfill:{channel.id}:{top_id}:done")
        log.info("backfill of channel %d: %d posts stored", channel.id, stored)
        return stored


class DeletionChecker:
    """Re-reads recent posts to catch deletions and edits Telegram did not push."""

    def __init__(self, store: Store, source: HistorySource, ingest: IngestService,
                 clock: Clock, window: dt.timedelta) -> None:
        self._store = store
        self._source = source
        self._ingest = ingest
        self._clock = clock
        self._window = window

    async def run(self) -> tuple[int, int]:
        """Check every active channel; return (deletions found, edits found)."""
        deleted = edited = 0
        since = self._clock.now() - self._window
        for channel in await self._store.active_channels():
            ids = await self._store.recent_message_ids(channel.id, since)
            for start in range(0, len(ids), CHECK_BATCH):
                batch = ids[start:start + CHECK_BATCH]
                current = await self._source.fetch_ids(channel, batch)
                gone = [i for i in batch if current.get(i) is None]
                deleted += await self._ingest.apply_deletions(channel.id, gone)
                for post in current.values():
                    if post is not None and await self._ingest.apply_edit(post):
                        edited += 1
        return deleted, edited

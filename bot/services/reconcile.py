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
from bot.models import Channel, ChannelStatus, Post, PostSource
from bot.render import esc
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.services.ports import (
    AccountUnavailable,
    ChannelReadFailed,
    ChannelTop,
    ChannelTrouble,
    ChannelUnavailable,
    HistorySource,
)
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
    failed: list[int] = field(default_factory=list)  # channels to try again next run


_TROUBLE_TEXT = {
    ChannelStatus.PRIVATE: "became private, or the account was removed or banned there",
    ChannelStatus.DELETED: "no longer exists",
    ChannelStatus.ERROR: "cannot be read",
}
FAILING_AFTER = 3  # runs in a row a channel failed to be read before the admins hear of it
# Errors that concern the connection or the session, never one channel: they end a run.
ACCOUNT_ERRORS = (ConnectionError, TimeoutError, AccountUnavailable)


class ChannelHealth:
    """What happens when one channel cannot be read: its status, and the admins told once."""

    def __init__(self, store: Store, admins: AdminNotifier, clock: Clock,
                 on_change: Callable[[], Awaitable[None]] | None = None) -> None:
        self._store = store
        self.admins = admins
        self._clock = clock
        self._on_change = on_change  # the live handler's list of watched channels
        self._failures: dict[int, int] = {}  # channel id -> runs in a row that failed

    async def unavailable(self, trouble: ChannelTrouble, *, refresh: bool = True) -> bool:
        """The channel is private, banned or deleted: stop watching it. True if that is new."""
        channel = await self._store.channels.get(trouble.channel_id)
        if channel is None:
            return False
        if not await self._store.channels.set_status(channel.id, trouble.status, trouble.reason):
            return False  # already known: admins were told when it changed
        self._failures.pop(channel.id, None)
        log.warning("channel %d (%s) is %s: %s", channel.id, channel.username, trouble.status,
                    trouble.reason)
        text = (f"⚠️ Channel <b>{esc(channel.title)}</b> ({esc(_name(channel))})"
                f" {_TROUBLE_TEXT.get(trouble.status, trouble.status)}: it is no longer"
                f" watched ({esc(trouble.reason)}). /channels shows its status;"
                " /watch it again once it is readable.")
        stamp = self._clock.now().isoformat(timespec="seconds")
        await self.admins.tell(text, f"channel:{channel.id}:{trouble.status}:{stamp}")
        if refresh and self._on_change:
            await self._on_change()
        return True

    async def failed(self, channel: Channel, step: str, exc: Exception) -> None:
        """Reading the channel failed in a way that may pass; it stays watched.

        Logged every time; the admins hear of it once, when it has failed FAILING_AFTER runs
        in a row (and again only after it recovered and failed anew).
        """
        count = self._failures[channel.id] = self._failures.get(channel.id, 0) + 1
        log.warning("channel %d (%s): %s failed (%s: %s); other channels go on",
                    channel.id, channel.username, step, type(exc).__name__, exc)
        if count == FAILING_AFTER:
            stamp = self._clock.now().isoformat(timespec="seconds")
            await self.admins.tell(
                f"⚠️ Channel <b>{esc(channel.title)}</b> ({esc(_name(channel))}) could not be"
                f" read {count} times in a row ({esc(step)}: {esc(str(exc))}). It is still"
                " watched and tried again at every catch-up.",
                f"channel-failing:{channel.id}:{stamp}")

    def succeeded(self, channel_id: int) -> None:
        """The channel was read: its run of failures is over."""
        self._failures.pop(channel_id, None)


def _name(channel: Channel) -> str:
    return f"@{channel.username}" if channel.username else str(channel.id)


class Reconciler:
    """Catches up every watched channel; runs are serialised, a trigger during a run queues one.

    One channel's trouble never stops the others: each is caught up on its own, and only an
    error of the connection or the session ends a run.
    """

    def __init__(self, store: Store, source: HistorySource, ingest: IngestService,
                 health: ChannelHealth, *,
                 on_change: Callable[[], Awaitable[None]] | None = None) -> None:
        self._store = store
        self._source = source
        self._ingest = ingest
        self._health = health
        self._admins = health.admins
        self._on_change = on_change  # channels renamed or no longer readable
        self._lock = asyncio.Lock()
        self.reports: list[ReconcileReport] = []  # recent runs, newest last (for tests, /health)
        self.tops: dict[int, int] = {}  # each channel's newest id Telegram reported last

    async def run(self, reason: str) -> ReconcileReport:
        """Fetch every post above every active channel's cursor and store it (late alerts)."""
        async with self._lock:
            report = ReconcileReport(reason)
            channels = await self._store.channels.active()
            report.channels = len(channels)
            if not channels:
                return report
            tops, troubles = await self._source.tops(channels)
            self.tops.update({t.channel_id: t.top_id for t in tops})
            by_id = await self._identities(channels, tops)
            for trouble in troubles:
                await self._trouble(trouble, report)
            for top in tops:
                channel = by_id.get(top.channel_id)
                if channel is not None and top.top_id > channel.cursor:
                    await self._catch_up_one(channel, top.top_id, report)
            if (report.troubles or by_id.renamed) and self._on_change:
                await self._on_change()
            self.reports = [*self.reports[-19:], report]
            if report.stored or report.troubles or report.failed:
                log.info("reconcile (%s): %d channels, %d changed, %d posts stored late,"
                         " %d in trouble, %d failed", reason, report.channels, report.changed,
                         report.stored, len(report.troubles), len(report.failed))
            return report

    async def _identities(self, channels: list[Channel], tops: list[ChannelTop]) -> _ById:
        """The channels by id with their current names (renames are stored and announced)."""
        by_id = _ById({c.id: c for c in channels})
        for top in tops:
            channel = by_id.get(top.channel_id)
            if channel is not None and (top.username, top.title) != (channel.username,
                                                                    channel.title):
                await self._renamed(channel, top.username, top.title)
                by_id[channel.id] = replace(channel, username=top.username, title=top.title)
                by_id.renamed = True
        return by_id

    async def _trouble(self, trouble: ChannelTrouble, report: ReconcileReport) -> None:
        if trouble.passing:
            channel = await self._store.channels.get(trouble.channel_id)
            if channel is not None:
                report.failed.append(channel.id)
                await self._health.failed(channel, "asking for its newest post",
                                          ChannelReadFailed(trouble.reason))
            return
        report.troubles.append(trouble)
        await self._health.unavailable(trouble, refresh=False)

    async def _catch_up_one(self, channel: Channel, top_id: int,
                            report: ReconcileReport) -> None:
        report.changed += 1
        try:
            await self._catch_up(channel, top_id, report)
        except ChannelUnavailable as exc:
            await self._trouble(exc.trouble, report)
        except ACCOUNT_ERRORS:
            raise
        except Exception as exc:  # this channel only; what was stored so far stays stored
            report.failed.append(channel.id)
            await self._health.failed(channel, "catching up", exc)
        else:
            self._health.succeeded(channel.id)

    async def _catch_up(self, channel: Channel, top_id: int, report: ReconcileReport) -> None:
        batch: list[Post] = []
        async for post in self._source.fetch_after(channel, channel.cursor, top_id):
            report.fetched += 1
            batch.append(post)
            if len(batch) >= BATCH:
                report.stored += await self._store_batch(batch)
                batch = []
        report.stored += await self._store_batch(batch)
        # everything up to the top was seen (service messages are no posts): move on
        await self._store.channels.set_cursor(channel.id, top_id)

    async def _store_batch(self, batch: list[Post]) -> int:
        if not batch:
            return 0
        results = await self._ingest.ingest_many(batch, source=PostSource.RECONCILE)
        return sum(r.created for r in results)

    async def _renamed(self, channel: Channel, username: str | None, title: str) -> None:
        await self._store.channels.update_identity(channel.id, username, title)
        if username == channel.username:
            return  # a new title only: nothing breaks
        old = f"@{channel.username}" if channel.username else "no username"
        new = f"@{username}" if username else "no username (links now use t.me/c/…)"
        await self._admins.tell(
            f"ℹ️ Channel <b>{esc(title)}</b> changed its username: {esc(old)} → {esc(new)}."
            " It is still watched.",
            f"renamed:{channel.id}:{username}",
        )


class _ById(dict[int, Channel]):
    """Channels by id, remembering whether a rename was seen."""

    renamed = False


class Backfiller:
    """Stores the recent history of a newly watched channel, without instant alerts."""

    def __init__(self, store: Store, source: HistorySource, ingest: IngestService,
                 health: ChannelHealth) -> None:
        self._store = store
        self._source = source
        self._ingest = ingest
        self._health = health
        self._admins = health.admins

    async def run(self, channel: Channel, chat_id: int, limit: int | None,
                  since: dt.datetime | None, top_id: int) -> int:
        """Fetch and store; report progress and the result in ``chat_id``. Returns posts stored.

        A channel that turns out unreadable stops being watched (admins told once) and the
        chat hears why; any other failure propagates to the caller, which tells the chat.
        """
        try:
            posts = await self._source.fetch_recent(channel, limit, since, top_id)
        except ChannelUnavailable as exc:
            await self._health.unavailable(exc.trouble)
            await self._admins.tell_chat(
                chat_id, f"⚠️ Backfill of <b>{esc(channel.title)}</b> stopped: the channel"
                f" {_TROUBLE_TEXT.get(exc.trouble.status, exc.trouble.status)}"
                f" ({esc(exc.trouble.reason)}).", f"backfill-failed:{channel.id}:{top_id}")
            return 0
        posts.reverse()  # oldest first, like everything else that reaches the store
        stored = 0
        for start in range(0, len(posts), BATCH):
            batch = posts[start:start + BATCH]
            results = await self._ingest.ingest_many(batch, source=PostSource.BACKFILL)
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

    async def run_reporting_failure(self, channel: Channel, chat_id: int, limit: int | None,
                                    since: dt.datetime | None, top_id: int) -> None:
        """``run`` as a task of its own: a failure is logged and told to ``chat_id``, not raised."""
        try:
            await self.run(channel, chat_id, limit, since, top_id)
        except Exception as exc:
            # A failed backfill must not stop the service: say so; new posts still arrive.
            log.exception("backfill of channel %d failed", channel.id)
            reason = esc(type(exc).__name__)
            await self._admins.tell_chat(
                chat_id, f"⚠️ Backfill of <b>{esc(channel.title)}</b> failed ({reason});"
                " new posts are still watched.", f"backfill-failed:{channel.id}:{top_id}")


class DeletionChecker:
    """Re-reads recent posts to catch deletions and edits Telegram did not push.

    What each re-read shows of views, forwards and reactions is recorded too
    (``store.engagement``: a snapshot when a number changed), for /top and export.
    """

    def __init__(self, store: Store, source: HistorySource, ingest: IngestService,
                 clock: Clock, window: dt.timedelta, health: ChannelHealth) -> None:
        self._store = store
        self._source = source
        self._ingest = ingest
        self._clock = clock
        self._window = window
        self._health = health

    async def run(self) -> tuple[int, int]:
        """Check every active channel; return (deletions found, edits found).

        A channel that cannot be read is handled like in the reconciler (status and one
        notice, or a retry next time); the others are checked in the same run.
        """
        deleted = edited = 0
        since = self._clock.now() - self._window
        for channel in await self._store.channels.active():
            try:
                found = await self._check(channel, since)
            except ChannelUnavailable as exc:
                await self._health.unavailable(exc.trouble)
                continue
            except ACCOUNT_ERRORS:
                raise
            except Exception as exc:
                await self._health.failed(channel, "re-reading recent posts", exc)
                continue
            deleted += found[0]
            edited += found[1]
        return deleted, edited

    async def _check(self, channel: Channel, since: dt.datetime) -> tuple[int, int]:
        deleted = edited = 0
        ids = await self._store.posts.recent_message_ids(channel.id, since)
        for start in range(0, len(ids), CHECK_BATCH):
            batch = ids[start:start + CHECK_BATCH]
            current = await self._source.fetch_ids(channel, batch)
            gone = [i for i in batch if current.get(i) is None]
            deleted += await self._ingest.apply_deletions(channel.id, gone)
            present = [post for post in current.values() if post is not None]
            # before the edits: an edit copies the views onto the row, and the post's first
            # snapshot is what the row held when it was stored
            await self._store.engagement.record(present)
            for post in present:
                if await self._ingest.apply_edit(post):
                    edited += 1
        return deleted, edited

"""Backfill of preview channels: planning it, and paging back with ``?before=``.

The web twin of ``bot.services.reconcile.Backfiller``: a channel's first poll (cursor 0, or
after ``plan``, which /watch calls through the poller) reads the newest page, then
``?before=<its oldest id>`` pages, until ``backfill_posts`` posts are stored, or with a since
date every post since that date, or the channel's first message (or, for a channel watched
again, the posts already stored) is reached. A page with no id older than the one asked for,
or one that repeats ids (t.me answers its first page again at the start of a channel), ends
the paging cleanly (``older_posts``). Each page's posts are stored oldest first with source
backfill (matches recorded, no alerts); the newest page moves the cursor, so normal polls go
on from there while older pages are still read. The chat that asked hears progress every
``BACKFILL_PROGRESS_EVERY`` posts, then the result or the failure (posts stored so far stay).
Throttling and 429 are waited out (at most ``BACKFILL_MAX_WAIT`` in all); any other failure
ends the backfill.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from bot.clock import Clock
from bot.models import Channel, Post, PostSource
from bot.preview.fetch import FetchFailed, Gone, PreviewError, PreviewFetcher, Throttled
from bot.preview.health import PreviewHealth
from bot.preview.parse import PreviewPage
from bot.render import esc
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.store import Store

log = logging.getLogger(__name__)
BACKFILL_MAX_WAIT = 900.0  # seconds a backfill waits out back-offs in all before it gives up
BACKFILL_TRIES = 8  # attempts at one backfill page (429s and throttling waited out)
BACKFILL_PROGRESS_EVERY = 500  # posts, as for live channels


@dataclass(frozen=True)
class Plan:
    """A backfill: who hears of it, and how far back it goes."""

    chat_id: int | None  # None: the admins (a backfill nobody asked for, e.g. after a restart)
    since: dt.datetime | None  # None: the last ``backfill_posts`` posts


class PreviewBackfill:
    """Plans and runs the backfills of preview channels."""

    def __init__(self, fetcher: PreviewFetcher, health: PreviewHealth, store: Store,
                 ingest: IngestService, notifier: AdminNotifier, clock: Clock, *,
                 backfill_posts: int = 200, tz: dt.tzinfo = dt.UTC) -> None:
        self._fetcher = fetcher
        self._health = health
        self._store = store
        self._ingest = ingest
        self._notifier = notifier
        self._clock = clock
        self._backfill_posts = max(0, backfill_posts)
        self._tz = tz  # a since date starts at midnight here
        self._plans: dict[int, Plan] = {}

    def plan(self, channel_id: int, chat_id: int | None, since: dt.date | None = None) -> None:
        """Make the channel's next poll its backfill, reported in ``chat_id``: the last
        ``backfill_posts`` posts, or every post since ``since`` (midnight in ``tz``)."""
        start = dt.datetime.combine(since, dt.time(), tzinfo=self._tz) if since else None
        self._plans[channel_id] = Plan(chat_id, start)

    def due(self, channel: Channel) -> bool:
        """Whether the channel's next poll is its backfill (planned, or nothing stored yet)."""
        return channel.id in self._plans or channel.cursor <= 0

    def forget(self, channel_id: int) -> None:
        """Drop the channel's planned backfill (it has no web preview any more)."""
        self._plans.pop(channel_id, None)

    async def run(self, channel: Channel, name: str) -> int:
        """Page back from the newest page; store, report; return the posts newly stored."""
        plan = self._plans.get(channel.id, Plan(None, None))
        limit = None if plan.since else self._backfill_posts
        floor = max(0, channel.cursor)  # posts up to the cursor are stored already
        title = channel.title
        top = 0  # the newest id, once the newest page is stored and the cursor moved there
        before: int | None = None
        stored = counted = 0
        try:
            while True:
                page = await self._health.accept(channel, await self._page(name, before),
                                                 title=before is None)
                if before is None:
                    title = page.title or title
                room = None if limit is None else limit - counted
                posts, last = older_posts(page, before, floor, plan.since, room)
                if posts:
                    results = await self._ingest.ingest_many(posts, source=PostSource.BACKFILL)
                    stored += sum(r.created for r in results)
                    counted += len(posts)
                if before is None and page.newest_id:
                    # polling goes on from the newest id while older pages are still read
                    top = page.newest_id
                    await self._store.channels.set_cursor(channel.id, top)
                    self._plans.pop(channel.id, None)
                if last or page.oldest_id is None:
                    break
                if counted // BACKFILL_PROGRESS_EVERY > (counted - len(posts)) // \
                        BACKFILL_PROGRESS_EVERY:
                    await self._progress(plan, channel.id, title, top, counted, limit,
                                         posts[0].date)
                before = page.oldest_id
        except Gone as exc:
            self.forget(channel.id)
            await self._health.gone(channel, name, exc.reason)  # that notice says it all
            return stored
        except Throttled:
            return stored  # the newest page could not be asked for yet: the next poll tries
        except Exception as exc:
            reason = exc.reason if isinstance(exc, FetchFailed) else type(exc).__name__
            if isinstance(exc, PreviewError):
                log.warning("backfill of preview channel @%s failed: %s", name, exc)
            else:
                log.exception("backfill of preview channel @%s failed", name)
            then = (f" after {stored} earlier posts; new posts are still watched." if top
                    else "; it starts again at the next poll.")
            await self._tell(plan, f"⚠️ Backfill of <b>{esc(title)}</b> failed ({esc(reason)})"
                             f"{then}", f"backfill-failed:{channel.id}:{top}")
            return stored
        if limit != 0:
            await self._tell(
                plan, f"📚 Backfill of <b>{esc(title)}</b> done: {stored} earlier posts stored"
                " (no alerts for them; they count in search and digests).",
                f"backfill:{channel.id}:{top}:done")
        log.info("backfill of preview channel @%s: %d posts stored", name, stored)
        return stored

    async def _page(self, name: str, before: int | None) -> PreviewPage:
        """One backfill page. Past the newest page, a back-off (the host's or this
        channel's) and 429 are waited out, ``BACKFILL_MAX_WAIT`` in all; a truncated page is
        asked for once more."""
        params = None if before is None else {"before": before}
        waited = 0.0
        retried = False
        for attempt in range(BACKFILL_TRIES):
            try:
                page = await self._fetcher.fetch(name, params)
            except Throttled as exc:
                if before is None:
                    raise  # nothing is done yet: the next poll starts the backfill instead
                if waited + exc.wait > BACKFILL_MAX_WAIT or attempt == BACKFILL_TRIES - 1:
                    raise FetchFailed("Telegram asked to slow down", channel=False) from exc
                await self._clock.sleep(exc.wait)
                waited += exc.wait
                continue
            except FetchFailed as exc:
                if exc.status != 429 or attempt == BACKFILL_TRIES - 1:
                    raise
                continue  # the host backs off now: the next attempt waits for it
            if page.dropped and not retried:
                retried = True  # cut in transfer, most likely: the cut-off posts are wanted
                continue
            return page
        raise FetchFailed("Telegram asked to slow down", channel=False)

    async def _progress(self, plan: Plan, channel_id: int, title: str, top: int,
                        counted: int, limit: int | None, oldest: dt.datetime) -> None:
        step = counted // BACKFILL_PROGRESS_EVERY * BACKFILL_PROGRESS_EVERY
        done = (f"{counted}/{limit}" if limit is not None else
                f"{counted} posts so far, back to {oldest.astimezone(self._tz):%Y-%m-%d %H:%M}")
        await self._tell(plan, f"📚 Backfill of <b>{esc(title)}</b>: {done}",
                         f"backfill:{channel_id}:{top}:{step}")

    async def _tell(self, plan: Plan, html: str, key: str) -> None:
        if plan.chat_id is None:
            await self._notifier.tell(html, key)
        else:
            await self._notifier.tell_chat(plan.chat_id, html, key)


def older_posts(page: PreviewPage, before: int | None, floor: int, since: dt.datetime | None,
                room: int | None) -> tuple[list[Post], bool]:
    """The posts of a backfill page still wanted (oldest first), and whether paging ends.

    ``before``: the id the page was asked before (None: the newest page); ``floor``: posts up
    to it are stored already; ``since``: older posts are not wanted; ``room``: how many more
    posts are wanted (None: no limit).
    """
    if page.oldest_id is None or page.newest_id is None:
        return [], True  # an empty page: nothing older
    # ids at or above ``before`` were seen already: t.me repeats its first page when asked
    # before a channel's first message. The older ones it holds are kept, and paging ends.
    last = before is not None and page.newest_id >= before
    posts = [p for p in page.posts
             if p.message_id > floor and (before is None or p.message_id < before)]
    last = last or page.oldest_id <= floor + 1  # the first message, or what is stored
    if since is not None and any(p.date < since for p in posts):
        posts = [p for p in posts if p.date >= since]  # posts are in time order
        last = True
    if room is not None and len(posts) >= room:
        posts = posts[len(posts) - room:]
        last = True
    return posts, last

"""Polls the web previews of channels read without the user account, and ingests new posts.

A preview channel's cursor means what a live channel's does: every post up to it is stored.
A poll asks for ``/s/<name>?after=<cursor>`` (the 20 messages after the cursor, oldest first)
and follows the next page while a page is full. Posts are stored page by page through
``IngestService.ingest_many(..., source="preview")``, which moves the cursor in the same
transaction, so the cursor only ever moves past posts actually stored. When the first message
after the cursor is not the next id (deleted posts, or a server that ignored ``after``), the
gap is walked back with ``?before=<id>`` pages before anything newer is stored.

A channel's first poll (cursor 0, or after ``plan_backfill``, which /watch calls) is its
backfill instead (``bot.preview.backfill``). With ``spawn`` (the app's task owner) every
backfill is a task of its own: a long one never holds up the other polls.

One channel's failure never stops the others, and each failure is dealt with on its own:

* a redirect away from ``/s/`` (no public preview: a group, a user, a restricted channel) or
  HTTP 404/410 (the page is gone): the channel's status becomes error, it is no longer polled,
  and the admins are told once (when the status changes);
* HTTP 429 and network errors back off the whole host; a 5xx backs off that channel's page,
  and the host too once ``HOST_FAILING_AFTER`` channels in a row answered 5xx with no success
  between them (the host itself is failing). Back-off runs on the injected clock
  (``base_backoff`` doubling up to an hour, at least what Retry-After asks), reset by the next
  success (``bot.preview.fetch``);
* a page that is not a channel page, another HTTP status, a 5xx of that channel alone, or an
  unexpected error while storing: logged, tried again at the next poll, and after
  ``FAILING_AFTER`` failed polls in a row the admins are told once; the channel stays polled
  (``bot.preview.health``);
* a malformed or truncated page stores what it holds up to the cut and never moves the cursor
  further.

The scheduler calls ``poll_all``; nothing here sleeps or schedules, except that a backfill
waits out a back-off. Logs name channels, never URLs with query strings.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

import httpx

from bot.clock import Clock
from bot.models import Channel, ChannelSource, ChannelStatus, Post, PostSource
from bot.preview.backfill import PreviewBackfill, older_posts
from bot.preview.fetch import FetchFailed, Gone, PreviewError, PreviewFetcher, Throttled
from bot.preview.health import PreviewHealth
from bot.preview.parse import PreviewPage, clean_username
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.store import Store

__all__ = ["USERNAME_RE", "PreviewError", "PreviewPoller", "Spawn", "older_posts"]

log = logging.getLogger(__name__)
USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")

Spawn = Callable[[str, Coroutine[Any, Any, Any]], object]


class PreviewPoller:
    """Reads ``{base_url}/s/<name>`` pages of active preview channels and ingests new posts."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, store: Store,
                 ingest: IngestService, notifier: AdminNotifier, clock: Clock, *,
                 max_in_flight: int = 4, base_backoff: float = 60.0,
                 max_pages: int = 20, backfill_posts: int = 200,
                 tz: dt.tzinfo = dt.UTC, spawn: Spawn | None = None) -> None:
        self._store = store
        self._ingest = ingest
        self._fetcher = PreviewFetcher(http, base_url, clock, max_in_flight=max_in_flight,
                                       base_backoff=base_backoff)
        self._health = PreviewHealth(store, notifier, clock)
        self._backfill = PreviewBackfill(self._fetcher, self._health, store, ingest, notifier,
                                         clock, backfill_posts=backfill_posts, tz=tz)
        self._max_pages = max(1, max_pages)
        self._spawn = spawn
        self._polling: set[int] = set()  # channels being polled now: a second poll skips them
        self._backfilling: set[int] = set()

    # ------------------------------------------------------------------ public
    async def probe(self, username: str) -> PreviewPage:
        """The channel's newest page (for /watch @name preview), or raise PreviewError.

        PreviewError says why in words for the user: not a username, no public preview, the
        server failed or asks to wait, or the page could not be read.
        """
        name = clean_username(username)
        if not USERNAME_RE.match(name):
            raise PreviewError(f"{username!r} is not a public channel username.")
        try:
            page = await self._fetcher.fetch(name, None)
        except Throttled:
            raise
        except Gone as exc:
            raise PreviewError(f"@{name} has no web preview: t.me/s/{name} answers HTTP"
                               f" {exc.status}. Check the name, or watch it live: /watch @{name}"
                               ) from exc
        except FetchFailed as exc:
            raise PreviewError(f"The web preview of @{name} cannot be read now ({exc}).") from exc
        if page.disabled:
            raise PreviewError(
                f"@{name} has no public web preview (t.me/s/{name} leads to t.me/{name}):"
                " it is not a public channel, or Telegram does not show it on the web."
                f" Watch it live instead: /watch @{name}")
        if not page.recognised:
            raise PreviewError(f"The web preview of @{name} could not be read; try again later.")
        return page

    def plan_backfill(self, channel_id: int, chat_id: int | None,
                      since: dt.date | None = None) -> None:
        """Make the channel's next poll its backfill, reported in ``chat_id``: the last
        ``backfill_posts`` posts, or every post since ``since`` (midnight in ``tz``)."""
        self._backfill.plan(channel_id, chat_id, since)

    async def poll_all(self) -> int:
        """Poll every active preview channel; return posts stored.

        Never raises: each channel's failure is dealt with on its own (see the module) and
        every other channel is polled in the same run. With ``spawn``, backfills are tasks of
        their own and their posts are not counted here.
        """
        try:
            rows = await self._store.channels.active(ChannelSource.PREVIEW)
        except Exception:
            log.exception("cannot list the preview channels")
            return 0
        counts = await asyncio.gather(*(self._poll_id(channel.id) for channel in rows))
        stored = sum(counts)
        if stored:
            log.info("preview: %d channels polled, %d posts stored", len(rows), stored)
        return stored

    async def poll(self, channel: Channel) -> int:
        """Store the channel's posts above its cursor (its backfill first, when it is due);
        return how many were new.

        Failures are dealt with here (status, back-off, notices) and logged; only trouble
        with the database while reporting one propagates (``poll_all`` logs it).
        """
        name = clean_username(channel.username or "")
        if not USERNAME_RE.match(name):
            log.warning("preview channel %d has no usable username", channel.id)
            return 0
        if self._backfill.due(channel):
            if channel.id in self._backfilling:
                return 0
            self._backfilling.add(channel.id)
            return await self._run_backfill(channel, name)
        if channel.id in self._polling:
            return 0
        self._polling.add(channel.id)
        stored = [0]
        try:
            await self._poll(channel, name, stored)
        except Throttled:
            pass  # nothing was asked: neither a failure nor a success of this channel
        except Gone as exc:
            await self._gone(channel, name, exc.reason)
        except FetchFailed as exc:
            log.warning("preview of @%s: %s", name, exc)
            if exc.channel:
                await self._health.failed(channel, name, exc.reason)
        except Exception as exc:  # e.g. storing failed: this channel only, retried next poll
            log.exception("preview poll of @%s failed", name)
            await self._health.failed(channel, name, type(exc).__name__)
        else:
            self._health.recovered(channel.id)
        finally:
            self._polling.discard(channel.id)
        return stored[0]

    # ------------------------------------------------------------------ polling
    async def _poll_id(self, channel_id: int) -> int:
        try:
            channel = await self._store.channels.get(channel_id)
            if channel is None or channel.status != ChannelStatus.ACTIVE:
                return 0
            if self._spawn is not None and self._backfill.due(channel):
                self._start_backfill(channel)
                return 0
            return await self.poll(channel)
        except Exception:
            log.exception("preview poll of channel %d failed", channel_id)
            return 0

    async def _poll(self, channel: Channel, name: str, stored: list[int]) -> None:
        """The body of ``poll``; ``stored[0]`` counts new posts as they are stored."""
        cursor = channel.cursor
        requests = 0
        while requests < self._max_pages:
            page = await self._fetcher.fetch(name, {"after": cursor})
            requests += 1
            await self._health.accept(channel, page, title=requests == 1)
            posts = [p for p in page.posts if p.message_id > cursor]
            if not posts:
                return
            if page.oldest_id is not None and page.oldest_id > cursor + 1:
                older, used = await self._walk_back(channel, name, cursor, page.oldest_id,
                                                    max(1, self._max_pages - requests))
                requests += used
                posts = older + posts
            stored[0] += await self._store_posts(channel, posts, page, PostSource.PREVIEW)
            cursor = max(cursor, posts[-1].message_id, page.newest_id or 0)
            if not page.full:
                return

    async def _walk_back(self, channel: Channel, name: str, cursor: int, before: int,
                         budget: int) -> tuple[list[Post], int]:
        """Posts between the cursor and ``before``, oldest first, from ?before= pages.

        The first message after the cursor was not the next id: posts were deleted, or the
        server ignored ``after``. If ``budget`` pages do not reach back to the cursor, what
        was found is returned with a warning: the posts further back are skipped.
        """
        found: dict[int, Post] = {}
        used = 0
        while used < budget:
            page = await self._health.accept(
                channel, await self._fetcher.fetch(name, {"before": before}), title=False)
            used += 1
            found.update({p.message_id: p for p in page.posts if cursor < p.message_id < before})
            if page.oldest_id is None or page.oldest_id <= cursor + 1 or page.oldest_id >= before:
                break
            before = page.oldest_id
        else:
            log.warning("preview of @%s: more than %d pages behind; posts between %d and %d"
                        " were skipped", name, budget, cursor, before)
        return [found[k] for k in sorted(found)], used

    async def _store_posts(self, channel: Channel, posts: list[Post], page: PreviewPage,
                           source: PostSource) -> int:
        """Store posts in order (the store moves the cursor to the newest); count new ones."""
        created = 0
        if posts:
            results = await self._ingest.ingest_many(posts, source=source)
            created = sum(r.created for r in results)
        if page.newest_id is not None and posts and page.newest_id > posts[-1].message_id:
            # the newest messages of the page were service messages, or album parts: seen
            await self._store.channels.set_cursor(channel.id, page.newest_id)
        if created:
            log.info("preview of @%s: %d new posts (%s)", channel.username, created, source)
        return created

    async def _gone(self, channel: Channel, name: str, reason: str) -> None:
        """Stop polling a channel without a web preview (its planned backfill too)."""
        self._backfill.forget(channel.id)
        await self._health.gone(channel, name, reason)

    # ------------------------------------------------------------------ backfill
    def _start_backfill(self, channel: Channel) -> None:
        """Start the channel's backfill as a task of its own (``spawn``), unless it runs."""
        name = clean_username(channel.username or "")
        if not USERNAME_RE.match(name) or channel.id in self._backfilling:
            return
        assert self._spawn is not None
        self._backfilling.add(channel.id)
        self._spawn(f"preview-backfill:{channel.id}", self._run_backfill(channel, name))

    async def _run_backfill(self, channel: Channel, name: str) -> int:
        """The backfill of a channel already in ``_backfilling``; never raises an Exception."""
        try:
            return await self._backfill.run(channel, name)
        except Exception:  # even reporting failed (the database?): the next poll tries again
            log.exception("backfill of preview channel @%s failed", name)
            return 0
        finally:
            self._backfilling.discard(channel.id)

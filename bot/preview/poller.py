"""Polls the web previews of channels read without the user account, and ingests new posts.

A preview channel's cursor means what a live channel's does: every post up to it is stored.
A poll asks for ``/s/<name>?after=<cursor>`` (the 20 messages after the cursor, oldest first)
and follows the next page while a page is full. Posts are stored page by page through
``IngestService.ingest_many(..., source="preview")``, which moves the cursor in the same
transaction, so the cursor only ever moves past posts actually stored. When the first message
after the cursor is not the next id (deleted posts, or a server that ignored ``after``), the
gap is walked back with ``?before=<id>`` pages before anything newer is stored.

Backfill, the web twin of ``bot.services.reconcile.Backfiller``: a channel's first poll (cursor
0, or after ``plan_backfill``, which /watch calls) reads the newest page, then ``?before=<its
oldest id>`` pages, until ``backfill_posts`` posts are stored, or with a since date every post
since that date, or the channel's first message (or, for a channel watched again, the posts
already stored) is reached. A page with no id older than the one asked for, or one that
repeats ids (t.me answers its first page again at the start of a channel), ends the paging
cleanly. Each page's posts are stored oldest first with source backfill (matches recorded,
no alerts); the newest page moves the cursor, so normal polls go on from there while older
pages are still read. The chat that asked hears progress every 500 posts, then the result
or the failure (posts stored so far stay). Throttling and 429 are waited out (at most
``BACKFILL_MAX_WAIT`` in all); any other failure ends the backfill. With ``spawn`` (the app's
task owner) every backfill is a task of its own: a long one never holds up the other polls.

One channel's failure never stops the others, and each failure is dealt with on its own:

* a redirect away from ``/s/`` (no public preview: a group, a user, a restricted channel) or
  HTTP 404/410 (the page is gone): the channel's status becomes error, it is no longer polled,
  and the admins are told once (when the status changes);
* HTTP 429 and network errors back off the whole host; a 5xx backs off that channel's page,
  and the host too once ``HOST_FAILING_AFTER`` channels in a row answered 5xx with no success
  between them (the host itself is failing). Back-off runs on the injected clock
  (``base_backoff`` doubling up to an hour, at least what Retry-After asks), reset by the next
  success;
* a page that is not a channel page, another HTTP status, a 5xx of that channel alone, or an
  unexpected error while storing: logged, tried again at the next poll, and after
  ``FAILING_AFTER`` failed polls in a row the admins are told once; the channel stays polled;
* a malformed or truncated page stores what it holds up to the cut and never moves the cursor
  further.

The scheduler calls ``poll_all``; nothing here sleeps or schedules, except that a backfill
waits out a back-off. Logs name channels, never URLs with query strings.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx

from bot.clock import Clock
from bot.models import Channel, ChannelSource, ChannelStatus, Post, PostSource
from bot.preview.parse import PreviewPage, clean_username, parse_page, preview_channel_id
from bot.render import esc
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.store import Store

log = logging.getLogger(__name__)
MAX_BACKOFF = 3600.0  # seconds: the longest wait doubling reaches
MAX_RETRY_AFTER = 6 * 3600.0  # a longer Retry-After is taken as this
MAX_REDIRECTS = 3  # redirects that stay under /s/ (a changed letter case) are followed
BACKFILL_MAX_WAIT = 900.0  # seconds a backfill waits out back-offs in all before it gives up
BACKFILL_TRIES = 8  # attempts at one backfill page (429s and throttling waited out)
BACKFILL_PROGRESS_EVERY = 500  # posts, as for live channels
FAILING_AFTER = 3  # polls in a row a channel failed before the admins hear of it
HOST_FAILING_AFTER = 3  # channels in a row answering 5xx: the host itself is failing
DISABLED = "web preview disabled"
USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_REDIRECTS = (301, 302, 303, 307, 308)
_GONE = (404, 410)

Spawn = Callable[[str, Coroutine[Any, Any, Any]], object]


class PreviewError(Exception):
    """A preview cannot be read; the message is fit to show to the person who asked."""


class _Throttled(PreviewError):
    """The host or the channel's page is backing off: no request was made."""

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


class _FetchFailed(PreviewError):
    """The request failed (HTTP error or network), or the page was not a channel page.

    ``reason`` is short, for notices. ``channel`` is False for failures of the host (429,
    network, a 5xx of a failing host): they say nothing about this channel.
    """

    def __init__(self, reason: str, *, wait: float | None = None, channel: bool = True,
                 status: int | None = None) -> None:
        super().__init__(reason if wait is None else f"{reason}; next try in {wait:.0f}s")
        self.reason = reason
        self.channel = channel
        self.status = status


class _Gone(PreviewError):
    """The channel has no web preview any more: redirected away from /s/, or 404/410."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass
class _Backoff:
    """Back-off state of one host, or of one channel's page."""

    delay: float = 0.0  # the last back-off step (0: healthy)
    not_before: dt.datetime | None = None
    generation: int = 0  # bumped by each failure: answers to older requests do not count


@dataclass(frozen=True)
class _Plan:
    """A backfill: who hears of it, and how far back it goes."""

    chat_id: int | None  # None: the admins (a backfill nobody asked for, e.g. after a restart)
    since: dt.datetime | None  # None: the last ``backfill_posts`` posts


@dataclass
class _Streak:
    """A channel's failed polls in a row."""

    since: dt.datetime
    count: int = 0


class PreviewPoller:
    """Reads ``{base_url}/s/<name>`` pages of active preview channels and ingests new posts."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, store: Store,
                 ingest: IngestService, notifier: AdminNotifier, clock: Clock, *,
                 max_in_flight: int = 4, base_backoff: float = 60.0,
                 max_pages: int = 20, backfill_posts: int = 200,
                 tz: dt.tzinfo = dt.UTC, spawn: Spawn | None = None) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._store = store
        self._ingest = ingest
        self._notifier = notifier
        self._clock = clock
        self._limit = asyncio.Semaphore(max(1, max_in_flight))  # requests in flight
        self._base_backoff = base_backoff
        self._max_pages = max(1, max_pages)
        self._backfill_posts = max(0, backfill_posts)
        self._tz = tz  # a since date starts at midnight here
        self._spawn = spawn
        self._hosts: dict[str, _Backoff] = {}
        self._pages: dict[str, _Backoff] = {}  # by lower-case channel name
        self._failing: dict[str, set[str]] = {}  # host -> channels with a 5xx since a success
        self._polling: set[int] = set()  # channels being polled now: a second poll skips them
        self._backfilling: set[int] = set()
        self._plans: dict[int, _Plan] = {}
        self._failures: dict[int, _Streak] = {}

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
            page = await self._fetch(name, None)
        except _Throttled:
            raise
        except _Gone as exc:
            raise PreviewError(f"@{name} has no web preview: t.me/s/{name} answers HTTP"
                               f" {exc.status}. Check the name, or watch it live: /watch @{name}"
                               ) from exc
        except _FetchFailed as exc:
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
        start = dt.datetime.combine(since, dt.time(), tzinfo=self._tz) if since else None
        self._plans[channel_id] = _Plan(chat_id, start)

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
        if self._backfill_due(channel):
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
        except _Throttled:
            pass  # nothing was asked: neither a failure nor a success of this channel
        except _Gone as exc:
            await self._gone(channel, name, exc.reason)
        except _FetchFailed as exc:
            log.warning("preview of @%s: %s", name, exc)
            if exc.channel:
                await self._poll_failed(channel, name, exc.reason)
        except Exception as exc:  # e.g. storing failed: this channel only, retried next poll
            log.exception("preview poll of @%s failed", name)
            await self._poll_failed(channel, name, type(exc).__name__)
        else:
            self._failures.pop(channel.id, None)
        finally:
            self._polling.discard(channel.id)
        return stored[0]

    # ------------------------------------------------------------------ polling
    async def _poll_id(self, channel_id: int) -> int:
        try:
            channel = await self._store.channels.get(channel_id)
            if channel is None or channel.status != ChannelStatus.ACTIVE:
                return 0
            if self._spawn is not None and self._backfill_due(channel):
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
            page = await self._fetch(name, {"after": cursor})
            requests += 1
            await self._accept(channel, page, title=requests == 1)
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
            page = await self._accept(channel, await self._fetch(name, {"before": before}),
                                      title=False)
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

    async def _accept(self, channel: Channel, page: PreviewPage, *,
                      title: bool = True) -> PreviewPage:
        """The page if it is a channel page (its title is kept); raise for anything else."""
        if page.disabled:
            raise _Gone(DISABLED)
        if not page.recognised:
            raise _FetchFailed("the page is not a channel page (malformed?)")
        if title and page.title and page.title != channel.title:
            await self._store.channels.update_identity(channel.id, channel.username, page.title)
        return page

    async def _gone(self, channel: Channel, name: str, reason: str) -> None:
        """Stop polling a channel without a web preview; the admins hear of it once."""
        self._failures.pop(channel.id, None)
        self._plans.pop(channel.id, None)
        if not await self._store.channels.set_status(channel.id, ChannelStatus.ERROR, reason):
            return  # already known: the admins were told when it changed
        log.warning("preview of @%s: %s; the channel is no longer polled", name, reason)
        n = esc(name)
        why = (f"has no public web preview any more (t.me/s/{n} leads to t.me/{n})"
               if reason == DISABLED else f"has no web preview any more ({esc(reason)})")
        stamp = self._clock.now().isoformat(timespec="seconds")
        await self._notifier.tell(
            f"⚠️ Channel <b>{esc(channel.title)}</b> (@{n}) {why}, so it is no longer polled."
            f" /channels shows its status. Watch it live with the account instead: /watch @{n}",
            f"preview-gone:{channel.id}:{stamp}")

    async def _poll_failed(self, channel: Channel, name: str, reason: str) -> None:
        """A poll of this channel failed in a way that may pass: tell the admins once, when
        it has failed ``FAILING_AFTER`` polls in a row (again only after it recovered)."""
        streak = self._failures.setdefault(channel.id, _Streak(self._clock.now()))
        streak.count += 1
        if streak.count == FAILING_AFTER:
            await self._notifier.tell(
                f"⚠️ The web preview of <b>{esc(channel.title)}</b> (@{esc(name)}) could not be"
                f" read {streak.count} polls in a row ({esc(reason)}). It is still polled and"
                " catches up once its page can be read again.",
                f"preview-failing:{channel.id}:{streak.since.isoformat(timespec='seconds')}")

    # ------------------------------------------------------------------ backfill
    def _backfill_due(self, channel: Channel) -> bool:
        return channel.id in self._plans or channel.cursor <= 0

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
            return await self._backfill(channel, name)
        except Exception:  # even reporting failed (the database?): the next poll tries again
            log.exception("backfill of preview channel @%s failed", name)
            return 0
        finally:
            self._backfilling.discard(channel.id)

    async def _backfill(self, channel: Channel, name: str) -> int:
        """Page back from the newest page; store, report; return the posts newly stored."""
        plan = self._plans.get(channel.id, _Plan(None, None))
        limit = None if plan.since else self._backfill_posts
        floor = max(0, channel.cursor)  # posts up to the cursor are stored already
        title = channel.title
        top = 0  # the newest id, once the newest page is stored and the cursor moved there
        before: int | None = None
        stored = counted = 0
        try:
            while True:
                page = await self._accept(channel, await self._backfill_page(name, before),
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
                    await self._backfill_progress(plan, channel.id, title, top, counted, limit,
                                                  posts[0].date)
                before = page.oldest_id
        except _Gone as exc:
            await self._gone(channel, name, exc.reason)  # that notice says it all
            return stored
        except _Throttled:
            return stored  # the newest page could not be asked for yet: the next poll tries
        except Exception as exc:
            reason = exc.reason if isinstance(exc, _FetchFailed) else type(exc).__name__
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

    async def _backfill_page(self, name: str, before: int | None) -> PreviewPage:
        """One backfill page. Past the newest page, a back-off (the host's or this
        channel's) and 429 are waited out, ``BACKFILL_MAX_WAIT`` in all; a truncated page is
        asked for once more."""
        params = None if before is None else {"before": before}
        waited = 0.0
        retried = False
        for attempt in range(BACKFILL_TRIES):
            try:
                page = await self._fetch(name, params)
            except _Throttled as exc:
                if before is None:
                    raise  # nothing is done yet: the next poll starts the backfill instead
                if waited + exc.wait > BACKFILL_MAX_WAIT or attempt == BACKFILL_TRIES - 1:
                    raise _FetchFailed("Telegram asked to slow down", channel=False) from exc
                await self._clock.sleep(exc.wait)
                waited += exc.wait
                continue
            except _FetchFailed as exc:
                if exc.status != 429 or attempt == BACKFILL_TRIES - 1:
                    raise
                continue  # the host backs off now: the next attempt waits for it
            if page.dropped and not retried:
                retried = True  # cut in transfer, most likely: the cut-off posts are wanted
                continue
            return page
        raise _FetchFailed("Telegram asked to slow down", channel=False)

    async def _backfill_progress(self, plan: _Plan, channel_id: int, title: str, top: int,
                                 counted: int, limit: int | None, oldest: dt.datetime) -> None:
        step = counted // BACKFILL_PROGRESS_EVERY * BACKFILL_PROGRESS_EVERY
        done = (f"{counted}/{limit}" if limit is not None else
                f"{counted} posts so far, back to {oldest.astimezone(self._tz):%Y-%m-%d %H:%M}")
        await self._tell(plan, f"📚 Backfill of <b>{esc(title)}</b>: {done}",
                         f"backfill:{channel_id}:{top}:{step}")

    async def _tell(self, plan: _Plan, html: str, key: str) -> None:
        if plan.chat_id is None:
            await self._notifier.tell(html, key)
        else:
            await self._notifier.tell_chat(plan.chat_id, html, key)

    # ------------------------------------------------------------------ HTTP
    async def _fetch(self, name: str, params: dict[str, int] | None) -> PreviewPage:
        """GET one page, at most ``max_in_flight`` at once; a redirect away from /s/ gives a
        disabled page. Raises _Throttled while the host or this channel's page backs off,
        _Gone for 404/410, _FetchFailed for every other failure."""
        url = httpx.URL(f"{self._base}/s/{name}", params=params)
        host, shown = url.netloc.decode("ascii"), url.host
        async with self._limit:
            hosted = self._hosts.setdefault(host, _Backoff())
            paged = self._pages.setdefault(name.lower(), _Backoff())
            self._throttle(hosted, "Telegram asked to slow down; the web preview can be read"
                           " again in {:.0f}s.")
            self._throttle(paged, f"The web preview of @{name} failed just now; next try in"
                           " {:.0f}s.")
            generations = hosted.generation, paged.generation
            for _ in range(MAX_REDIRECTS + 1):
                try:
                    response = await self._http.get(url, follow_redirects=False)
                except httpx.HTTPError as exc:
                    wait = self._failed(hosted, generations[0], None, f"preview host {shown}")
                    raise _FetchFailed(f"cannot reach {shown} ({type(exc).__name__})",
                                       wait=wait, channel=False) from exc
                status = response.status_code
                if status in _REDIRECTS:
                    target = url.join(response.headers.get("location", ""))
                    if target.netloc != url.netloc or not self._is_preview_path(target, name):
                        self._answered(host, hosted, paged, generations)
                        return PreviewPage(posts=[], title=None, disabled=True, oldest_id=None)
                    url = target
                    continue
                retry_after = response.headers.get("retry-after")
                if status == 429:
                    wait = self._failed(hosted, generations[0], retry_after,
                                        f"preview host {shown}")
                    raise _FetchFailed("HTTP 429", wait=wait, channel=False, status=status)
                if status >= 500:
                    raise self._server_error((host, shown), name, status, retry_after, hosted,
                                             paged, generations)
                self._answered(host, hosted, paged, generations)
                if status in _GONE:
                    raise _Gone(f"web preview gone (HTTP {status})", status)
                if status != 200:
                    raise _FetchFailed(f"HTTP {status}", status=status)
                return parse_page(response.text, name, preview_channel_id(name))
            raise _FetchFailed("too many redirects")

    def _server_error(self, host: tuple[str, str], name: str, status: int,
                      retry_after: str | None, hosted: _Backoff, paged: _Backoff,
                      generations: tuple[int, int]) -> _FetchFailed:
        """A 5xx backs off the channel's page; the host too when it fails for many channels."""
        wait = self._failed(paged, generations[1], retry_after, f"preview of @{name}")
        failing = self._failing.setdefault(host[0], set())
        failing.add(name.lower())
        of_host = len(failing) >= HOST_FAILING_AFTER
        if of_host:
            wait = max(wait, self._failed(hosted, generations[0], retry_after,
                                          f"preview host {host[1]}"))
        return _FetchFailed(f"HTTP {status}", wait=wait, channel=not of_host, status=status)

    def _answered(self, host: str, hosted: _Backoff, paged: _Backoff,
                  generations: tuple[int, int]) -> None:
        """The host answered (not with 429 or 5xx): its back-off and this page's are over."""
        self._failing.pop(host, None)
        self._succeeded(hosted, generations[0])
        self._succeeded(paged, generations[1])

    def _is_preview_path(self, target: httpx.URL, name: str) -> bool:
        prefix = httpx.URL(self._base).path.rstrip("/")
        return target.path.lower() == f"{prefix}/s/{name}".lower()

    def _throttle(self, state: _Backoff, message: str) -> None:
        """Raise _Throttled while ``state`` backs off (``message`` gets the seconds left)."""
        now = self._clock.now()
        if state.not_before and now < state.not_before:
            wait = (state.not_before - now).total_seconds()
            raise _Throttled(message.format(wait), wait)

    def _failed(self, state: _Backoff, generation: int, retry_after: str | None,
                what: str) -> float:
        """Back off after a failure of a request made at ``generation``; return the wait."""
        fresh = generation == state.generation  # not one more answer of a failing burst
        if fresh:
            state.delay = min(MAX_BACKOFF, state.delay * 2 if state.delay else self._base_backoff)
            state.generation += 1
        wait = max(state.delay, self._retry_after(retry_after))
        until = self._clock.now() + dt.timedelta(seconds=wait)
        state.not_before = max(state.not_before, until) if state.not_before else until
        if fresh:
            log.warning("%s failing: backing off %.0fs", what, wait)
        return wait

    def _succeeded(self, state: _Backoff, generation: int) -> None:
        if state.generation == generation:  # no failure since the request began
            state.delay = 0.0
            state.not_before = None

    def _retry_after(self, value: str | None) -> float:
        """Seconds asked by a Retry-After header (seconds or an HTTP date); 0 if none."""
        if not value:
            return 0.0
        value = value.strip()
        if value.isdigit():
            return min(MAX_RETRY_AFTER, float(value))
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return 0.0
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return min(MAX_RETRY_AFTER, max(0.0, (when - self._clock.now()).total_seconds()))


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

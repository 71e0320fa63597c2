"""Polls the web previews of channels read without the user account, and ingests new posts.

A preview channel's cursor means what a live channel's does: every post up to it is stored.
A poll asks for ``/s/<name>?after=<cursor>`` (the 20 messages after the cursor, oldest first)
and follows the next page while a page is full. Posts are stored page by page through
``IngestService.ingest_many(..., source="preview")``, which moves the cursor in the same
transaction, so the cursor only ever moves past posts actually stored. When the first message
after the cursor is not the next id (deleted posts, or a server that ignored ``after``), the
gap is walked back with ``?before=<id>`` pages before anything newer is stored.

A channel's first poll (cursor 0) stores the newest page without alerts (source backfill).

Failures: a redirect away from ``/s/`` (no public preview: a group, a user, a restricted
channel) sets the channel's status to error and tells the admins once; HTTP 429, 5xx and
network errors back off per host, on the injected clock (``base_backoff`` doubling up to an
hour, at least what Retry-After asks), reset by the next success; a malformed or truncated
page stores what it holds up to the cut and never moves the cursor further.

The scheduler calls ``poll_all``; nothing here sleeps or schedules. Logs name channels, never
URLs with query strings.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
import re
from dataclasses import dataclass

import httpx

from bot.clock import Clock
from bot.models import Channel, Post
from bot.preview.parse import PreviewPage, clean_username, parse_page, preview_channel_id
from bot.render import esc
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.store import Store

log = logging.getLogger(__name__)
MAX_BACKOFF = 3600.0  # seconds: the longest wait doubling reaches
MAX_RETRY_AFTER = 6 * 3600.0  # a longer Retry-After is taken as this
MAX_REDIRECTS = 3  # redirects that stay under /s/ (a changed letter case) are followed
USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_REDIRECTS = (301, 302, 303, 307, 308)


class PreviewError(Exception):
    """A preview cannot be read; the message is fit to show to the person who asked."""


class _Throttled(PreviewError):
    """The host is backing off: no request was made."""


class _FetchFailed(PreviewError):
    """The request failed (HTTP error or network), or the page was not a channel page."""


class _Disabled(PreviewError):
    """The channel has no public web preview (already reported)."""


@dataclass
class _Host:
    """Back-off state of one host."""

    delay: float = 0.0  # the last back-off step (0: healthy)
    not_before: dt.datetime | None = None
    generation: int = 0  # bumped by each failure: answers to older requests do not count


class PreviewPoller:
    """Reads ``{base_url}/s/<name>`` pages of active preview channels and ingests new posts."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, store: Store,
                 ingest: IngestService, notifier: AdminNotifier, clock: Clock, *,
                 max_in_flight: int = 4, base_backoff: float = 60.0,
                 max_pages: int = 20) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._store = store
        self._ingest = ingest
        self._notifier = notifier
        self._clock = clock
        self._limit = asyncio.Semaphore(max(1, max_in_flight))
        self._base_backoff = base_backoff
        self._max_pages = max(1, max_pages)
        self._hosts: dict[str, _Host] = {}
        self._polling: set[int] = set()  # channels being polled now: a second poll skips them

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

    async def poll_all(self) -> int:
        """Poll every active preview channel, ``max_in_flight`` at once; return posts stored.

        Never raises: a channel's failure is logged and the others go on.
        """
        try:
            rows = await self._store.db.fetchall(
                "SELECT id FROM channels WHERE source = 'preview' AND status = 'active'"
                " ORDER BY id")
        except Exception:
            log.exception("cannot list the preview channels")
            return 0
        counts = await asyncio.gather(*(self._poll_id(int(row["id"])) for row in rows))
        stored = sum(counts)
        if stored:
            log.info("preview: %d channels polled, %d posts stored", len(rows), stored)
        return stored

    async def poll(self, channel: Channel) -> int:
        """Fetch and store the channel's posts above its cursor; return how many were new.

        HTTP trouble is logged (and backs off) and returns what was stored so far; database
        errors propagate (``poll_all`` logs them).
        """
        name = clean_username(channel.username or "")
        if not USERNAME_RE.match(name):
            log.warning("preview channel %d has no usable username", channel.id)
            return 0
        if channel.id in self._polling:
            return 0
        self._polling.add(channel.id)
        stored = [0]
        try:
            await self._poll(channel, name, stored)
        except (_Throttled, _Disabled):
            pass  # logged where it was found
        except PreviewError as exc:
            log.warning("preview of @%s: %s", name, exc)
        finally:
            self._polling.discard(channel.id)
        return stored[0]

    # ------------------------------------------------------------------ polling
    async def _poll_id(self, channel_id: int) -> int:
        async with self._limit:
            try:
                channel = await self._store.channel(channel_id)
                if channel is None or channel.status != "active":
                    return 0
                return await self.poll(channel)
            except Exception:
                log.exception("preview poll of channel %d failed", channel_id)
                return 0

    async def _poll(self, channel: Channel, name: str, stored: list[int]) -> None:
        """The body of ``poll``; ``stored[0]`` counts new posts as they are stored."""
        if channel.cursor <= 0:
            page = await self._accept(channel, name, await self._fetch(name, None))
            stored[0] += await self._store_posts(channel, page.posts, page, "backfill")
            return
        cursor = channel.cursor
        requests = 0
        while requests < self._max_pages:
            page = await self._fetch(name, {"after": cursor})
            requests += 1
            await self._accept(channel, name, page, title=requests == 1)
            posts = [p for p in page.posts if p.message_id > cursor]
            if not posts:
                return
            if page.oldest_id is not None and page.oldest_id > cursor + 1:
                older, used = await self._walk_back(channel, name, cursor, page.oldest_id,
                                                    max(1, self._max_pages - requests))
                requests += used
                posts = older + posts
            stored[0] += await self._store_posts(channel, posts, page, "preview")
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
            page = await self._accept(channel, name, await self._fetch(name, {"before": before}),
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
                           source: str) -> int:
        """Store posts in order (the store moves the cursor to the newest); count new ones."""
        created = 0
        if posts:
            results = await self._ingest.ingest_many(posts, source=source)
            created = sum(r.created for r in results)
        if page.newest_id is not None and posts and page.newest_id > posts[-1].message_id:
            # the newest messages of the page were service messages, or album parts: seen
            await self._store.set_cursor(channel.id, page.newest_id)
        if created:
            log.info("preview of @%s: %d new posts (%s)", channel.username, created, source)
        return created

    async def _accept(self, channel: Channel, name: str, page: PreviewPage, *,
                      title: bool = True) -> PreviewPage:
        """The page if it is a channel page; report a disabled preview, refuse junk."""
        if page.disabled:
            await self._disabled(channel, name)
            raise _Disabled(f"@{name} has no public web preview")
        if not page.recognised:
            raise _FetchFailed("the page is not a channel page (malformed?)")
        if title and page.title and page.title != channel.title:
            await self._store.update_channel_identity(channel.id, channel.username, page.title)
        return page

    async def _disabled(self, channel: Channel, name: str) -> None:
        changed = await self._store.set_channel_status(channel.id, "error",
                                                       "web preview disabled")
        if changed:
            log.warning("preview of @%s is disabled: the channel is no longer polled", name)
        await self._notifier.tell(
            f"⚠️ Channel <b>{esc(channel.title)}</b> (@{esc(name)}) has no public web preview"
            f" any more (t.me/s/{esc(name)} leads to t.me/{esc(name)}), so it is no longer"
            f" polled. Watch it live with the account instead: /watch @{esc(name)}",
            f"preview-disabled:{channel.id}")

    # ------------------------------------------------------------------ HTTP
    async def _fetch(self, name: str, params: dict[str, int] | None) -> PreviewPage:
        """GET one page; a redirect away from /s/ gives a disabled page."""
        url = httpx.URL(f"{self._base}/s/{name}", params=params)
        host = self._throttle(url)
        generation = self._hosts[host].generation if host in self._hosts else 0
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = await self._http.get(url, follow_redirects=False)
            except httpx.HTTPError as exc:
                wait = self._failed(host, generation, None)
                raise _FetchFailed(f"cannot reach {host} ({type(exc).__name__});"
                                   f" next try in {wait:.0f}s") from exc
            if response.status_code in _REDIRECTS:
                target = url.join(response.headers.get("location", ""))
                if target.netloc != url.netloc or not self._is_preview_path(target, name):
                    self._succeeded(host, generation)
                    return PreviewPage(posts=[], title=None, disabled=True, oldest_id=None)
                url = target
                continue
            if response.status_code == 429 or response.status_code >= 500:
                wait = self._failed(host, generation, response.headers.get("retry-after"))
                raise _FetchFailed(f"HTTP {response.status_code}; next try in {wait:.0f}s")
            if response.status_code != 200:
                raise _FetchFailed(f"HTTP {response.status_code}")
            self._succeeded(host, generation)
            return parse_page(response.text, name, preview_channel_id(name))
        raise _FetchFailed("too many redirects")

    def _is_preview_path(self, target: httpx.URL, name: str) -> bool:
        prefix = httpx.URL(self._base).path.rstrip("/")
        return target.path.lower() == f"{prefix}/s/{name}".lower()

    def _throttle(self, url: httpx.URL) -> str:
        """The host key of ``url``; raise _Throttled while that host is backing off."""
        host = url.netloc.decode("ascii")
        state = self._hosts.get(host)
        if state and state.not_before and self._clock.now() < state.not_before:
            raise _Throttled(
                "Telegram asked to slow down; the web preview can be read again in"
                f" {(state.not_before - self._clock.now()).total_seconds():.0f}s.")
        return host

    def _failed(self, host: str, generation: int, retry_after: str | None) -> float:
        """Back off after a failure of a request made at ``generation``; return the wait."""
        state = self._hosts.setdefault(host, _Host())
        fresh = generation == state.generation  # not one more answer of a failing burst
        if fresh:
            state.delay = min(MAX_BACKOFF, state.delay * 2 if state.delay else self._base_backoff)
            state.generation += 1
        wait = max(state.delay, self._retry_after(retry_after))
        until = self._clock.now() + dt.timedelta(seconds=wait)
        state.not_before = max(state.not_before, until) if state.not_before else until
        if fresh:
            log.warning("preview host %s failing: backing off %.0fs", host, wait)
        return wait

    def _succeeded(self, host: str, generation: int) -> None:
        state = self._hosts.get(host)
        if state is not None and state.generation == generation:  # no failure since it began
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


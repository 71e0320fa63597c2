"""Fetching preview pages: one GET at a time per slot, with the back-off of each host and page.

``PreviewFetcher.fetch`` asks for ``{base_url}/s/<name>`` (at most ``max_in_flight`` requests
at once) and turns every answer into a parsed page or one of the errors below:

* a redirect away from ``/s/`` gives a disabled page; one that stays under ``/s/`` (a changed
  letter case) is followed, ``MAX_REDIRECTS`` times at most;
* HTTP 404/410 raises ``Gone``; any other status but 200 raises ``FetchFailed``;
* HTTP 429 and network errors back off the whole host; a 5xx backs off that channel's page,
  and the host too once ``HOST_FAILING_AFTER`` channels in a row answered 5xx with no success
  between them (the host itself is failing);
* while the host or the page backs off, ``Throttled`` is raised and no request is made.

Back-off runs on the injected clock: ``base_backoff`` doubling up to ``MAX_BACKOFF``, at
least what Retry-After asks, reset by the next answer that is neither 429 nor 5xx. Only the
first failure of a burst of requests made together counts as a step (``Backoff.generation``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
from dataclasses import dataclass

import httpx

from bot.clock import Clock
from bot.preview.parse import PreviewPage, parse_page, preview_channel_id

log = logging.getLogger(__name__)
MAX_BACKOFF = 3600.0  # seconds: the longest wait doubling reaches
MAX_RETRY_AFTER = 6 * 3600.0  # a longer Retry-After is taken as this
MAX_REDIRECTS = 3  # redirects that stay under /s/ (a changed letter case) are followed
HOST_FAILING_AFTER = 3  # channels in a row answering 5xx: the host itself is failing
_REDIRECTS = (301, 302, 303, 307, 308)
_GONE = (404, 410)


class PreviewError(Exception):
    """A preview cannot be read; the message is fit to show to the person who asked."""


class Throttled(PreviewError):
    """The host or the channel's page is backing off: no request was made."""

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


class FetchFailed(PreviewError):
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


class Gone(PreviewError):
    """The channel has no web preview any more: redirected away from /s/, or 404/410."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass
class Backoff:
    """Back-off state of one host, or of one channel's page."""

    delay: float = 0.0  # the last back-off step (0: healthy)
    not_before: dt.datetime | None = None
    generation: int = 0  # bumped by each failure: answers to older requests do not count


class PreviewFetcher:
    """GETs ``{base_url}/s/<name>`` pages and keeps the back-off of each host and page."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, clock: Clock, *,
                 max_in_flight: int = 4, base_backoff: float = 60.0) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._clock = clock
        self._limit = asyncio.Semaphore(max(1, max_in_flight))  # requests in flight
        self._base_backoff = base_backoff
        self._hosts: dict[str, Backoff] = {}
        self._pages: dict[str, Backoff] = {}  # by lower-case channel name
        self._failing: dict[str, set[str]] = {}  # host -> channels with a 5xx since a success

    async def fetch(self, name: str, params: dict[str, int] | None) -> PreviewPage:
        """GET one page, at most ``max_in_flight`` at once; a redirect away from /s/ gives a
        disabled page. Raises Throttled while the host or this channel's page backs off,
        Gone for 404/410, FetchFailed for every other failure."""
        url = httpx.URL(f"{self._base}/s/{name}", params=params)
        host, shown = url.netloc.decode("ascii"), url.host
        async with self._limit:
            hosted = self._hosts.setdefault(host, Backoff())
            paged = self._pages.setdefault(name.lower(), Backoff())
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
                    raise FetchFailed(f"cannot reach {shown} ({type(exc).__name__})",
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
                    raise FetchFailed("HTTP 429", wait=wait, channel=False, status=status)
                if status >= 500:
                    raise self._server_error((host, shown), name, status, retry_after, hosted,
                                             paged, generations)
                self._answered(host, hosted, paged, generations)
                if status in _GONE:
                    raise Gone(f"web preview gone (HTTP {status})", status)
                if status != 200:
                    raise FetchFailed(f"HTTP {status}", status=status)
                return parse_page(response.text, name, preview_channel_id(name))
            raise FetchFailed("too many redirects")

    def _server_error(self, host: tuple[str, str], name: str, status: int,
                      retry_after: str | None, hosted: Backoff, paged: Backoff,
                      generations: tuple[int, int]) -> FetchFailed:
        """A 5xx backs off the channel's page; the host too when it fails for many channels."""
        wait = self._failed(paged, generations[1], retry_after, f"preview of @{name}")
        failing = self._failing.setdefault(host[0], set())
        failing.add(name.lower())
        of_host = len(failing) >= HOST_FAILING_AFTER
        if of_host:
            wait = max(wait, self._failed(hosted, generations[0], retry_after,
                                          f"preview host {host[1]}"))
        return FetchFailed(f"HTTP {status}", wait=wait, channel=not of_host, status=status)

    def _answered(self, host: str, hosted: Backoff, paged: Backoff,
                  generations: tuple[int, int]) -> None:
        """The host answered (not with 429 or 5xx): its back-off and this page's are over."""
        self._failing.pop(host, None)
        self._succeeded(hosted, generations[0])
        self._succeeded(paged, generations[1])

    def _is_preview_path(self, target: httpx.URL, name: str) -> bool:
        prefix = httpx.URL(self._base).path.rstrip("/")
        return target.path.lower() == f"{prefix}/s/{name}".lower()

    def _throttle(self, state: Backoff, message: str) -> None:
        """Raise Throttled while ``state`` backs off (``message`` gets the seconds left)."""
        now = self._clock.now()
        if state.not_before and now < state.not_before:
            wait = (state.not_before - now).total_seconds()
            raise Throttled(message.format(wait), wait)

    def _failed(self, state: Backoff, generation: int, retry_after: str | None,
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

    def _succeeded(self, state: Backoff, generation: int) -> None:
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

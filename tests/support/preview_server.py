"""The web-preview server of the preview tests: ``bot.sandbox.web`` plus scripted faults.

Pages, paging (``?before=``/``?after=``), the redirect of a channel without a public preview
and the HTTP server itself are ``bot.sandbox.web.WebStandIn`` (shared with ``chanwatch
demo``). On top of it a test scripts faults per channel, used by the next requests (or the
next of one step: the newest page, a ``?before=`` or an ``?after=`` page): an HTTP status (429
with Retry-After, 500, 404), a redirect away from the preview, a truncated page, a garbage
page. Every request is recorded; ``delay`` holds answers back to observe concurrency.

Post texts come from the ru-news-2024 dataset (CC BY 4.0, see tests/data/preview/README.md).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.web import (
    PAGE,
    PreviewChannel,
    Request,
    Response,
    WebStandIn,
    channel_page,
    landing_page,
    widget,
)
from bot.sandbox.web import PreviewPost as FakePost

__all__ = ["PAGE", "SAMPLE_TEXTS", "FakeChannel", "FakePost", "Fault", "PreviewServer",
           "Request", "channel_page", "landing_page", "widget"]

SAMPLE_TEXTS = (  # ru-news-2024, shortened
    "Набиуллина сообщила, что ЦБ допускает повышение ключевой ставки на ближайшем заседании",
    "В Московском зоопарке поселились 10 колпиц из Красной книги",
    "Сегодня в Москве ожидаются ледяной дождь, мокрый снег и гололедица, предупреждает МЧС",
    "Доллар упал до 104₽, евро — ниже 110₽",
    "Парламент Южной Кореи проголосовал за отмену военного положения",
    "В столичных ЖК можно устраивать конкурсы на лучшее украшение подъезда",
    "Москвичам с 1 января 2025 года на 5,5% проиндексируют социальные выплаты",
    "Капитан воздушного судна, которое загорелось при посадке в Анталье, — Владимир Чернов",
)


@dataclass
class FakeChannel(PreviewChannel):
    """A scripted channel whose ``add_many`` posts come from the ru-news-2024 sample.

    ``repeats_start``: like t.me, a ``?before=`` page that would hold less than a page (the
    start of the channel) is the channel's first page instead, ids at and above ``before``
    included. ``ignore_before``: ``?before=`` is answered with the newest page.
    """

    filler: tuple[str, ...] = SAMPLE_TEXTS
    repeats_start: bool = False
    ignore_before: bool = False

    def page(self, query: dict[str, int]) -> tuple[list[FakePost], bool]:
        """The messages of a page and whether older ones exist, with the quirks above."""
        if "before" in query and self.ignore_before:
            return super().page({})
        posts, older = super().page(query)
        if "before" in query and self.repeats_start and len(posts) < PAGE:
            return sorted(self.posts, key=lambda p: p.id)[:PAGE], False
        return posts, older


@dataclass
class Fault:
    """What the next request for a channel gets instead of its page."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    truncate_after: int | None = None  # the page, cut inside the message after this many
    garbage: bool = False
    redirect: bool = False  # 302 to the channel's landing page, as t.me without a preview
    when: str | None = None  # only for this step: "newest", "before" or "after"; None: any

    def applies(self, query: dict[str, int]) -> bool:
        """Whether the fault is for a request with this query."""
        step = "before" if "before" in query else "after" if "after" in query else "newest"
        return self.when is None or self.when == step


@dataclass
class PreviewServer(WebStandIn):
    """The server; ``await PreviewServer.start()``, then ``await server.close()``."""

    faults: dict[str, deque[Fault]] = field(default_factory=dict)

    def channel(self, name: str, title: str, **kwargs: Any) -> FakeChannel:
        """Create a scripted channel."""
        return self.add_channel(FakeChannel(name, title, **kwargs))

    def fail(self, name: str, status: int, *, retry_after: str | None = None,
             times: int = 1, when: str | None = None) -> None:
        """The next ``times`` requests for the channel (of step ``when``) get this status."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self._script(name, times, Fault(status, headers, when=when))

    def truncate(self, name: str, keep: int, *, times: int = 1, when: str | None = None) -> None:
        """The next pages are cut in the middle of the message after the first ``keep``."""
        self._script(name, times, Fault(truncate_after=keep, when=when))

    def garbage(self, name: str, *, times: int = 1, when: str | None = None) -> None:
        """The next pages are not HTML of a channel at all."""
        self._script(name, times, Fault(garbage=True, when=when))

    def redirect(self, name: str, *, times: int = 1, when: str | None = None) -> None:
        """The next requests are redirected to ``/<name>`` (the preview was switched off)."""
        self._script(name, times, Fault(redirect=True, when=when))

    def _script(self, name: str, times: int, fault: Fault) -> None:
        self.faults.setdefault(name.lower(), deque()).extend([fault] * times)

    def preview_page(self, channel: PreviewChannel, query: dict[str, int]) -> Response:
        """The page, unless a fault is scripted for the channel."""
        faults = self.faults.get(channel.name.lower(), deque())
        fault = next((f for f in faults if f.applies(query)), None)
        if fault is None:
            fault = Fault()
        else:
            faults.remove(fault)
        page = super().preview_page(channel, query)
        if fault.redirect:
            return Response(302, {"Location": f"/{channel.name}"}, b"")
        if fault.status != 200:
            return Response(fault.status, {**fault.headers, **page.headers},
                            b"<html>error</html>")
        if fault.garbage:
            return Response(200, page.headers, b"<html><body><h1>502 Bad Gateway</h1>\x00<di")
        if fault.truncate_after is not None:
            page.body = _truncate(page.body.decode(), fault.truncate_after).encode()
        return page


def _truncate(page: str, keep: int) -> str:
    """The page cut in the text (or before the footer) of its message after the first
    ``keep``: that message's date is gone."""
    marker = 'data-post="'
    cut = -1
    for _ in range(keep + 1):
        cut = page.find(marker, cut + 1)
    if cut < 0:
        return page
    footer = page.find("js-message_footer", cut)
    text = page.find("js-message_text", cut, footer)
    return page[:text + 40 if text >= 0 else footer - 30]

"""A loopback server of Telegram channel web previews (``/s/<name>``) for the preview tests.

Minimal HTTP/1.1 over ``asyncio.start_server`` on 127.0.0.1, one request per connection
(``Connection: close``). It serves scripted channels the way t.me does: ``/s/<name>`` the
newest 20 messages, ``?before=<id>`` the 20 before an id, ``?after=<id>`` the 20 after it,
each page oldest first with a "load more" link when older messages exist. A channel without a
public preview answers 302 to ``/<name>``. A test scripts faults per channel, used by the next
requests: an HTTP status (429 with Retry-After, 500), a truncated page, a garbage page.
Every request is recorded; ``delay`` holds answers back to observe concurrency.

Post texts come from the ru-news-2024 dataset (CC BY 4.0, see tests/data/preview/README.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import html
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

PAGE = 20
_REASONS = {200: "OK", 302: "Found", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
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
class FakePost:
    """One message of a scripted channel; ``text`` is the inner HTML of its text block."""

    id: int
    date: dt.datetime
    text: str = ""
    views: str = "1.2K"
    forwarded: tuple[str | None, str] | None = None  # (link or None, shown name)
    edited: bool = False
    media: str | None = None  # photo, video, document, voice, poll, sticker
    service: bool = False  # "Channel photo updated" and the like


@dataclass
class FakeChannel:
    """A public channel as its web preview shows it."""

    name: str
    title: str
    posts: list[FakePost] = field(default_factory=list)
    preview: bool = True  # False: /s/<name> redirects to /<name>
    ignore_after: bool = False  # answer ?after= like /s/<name> (the newest page)
    start: dt.datetime = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)

    def add(self, text: str = "", *, gap: int = 0, **fields: Any) -> FakePost:
        """Publish a message; ``gap`` ids are skipped first (deleted messages)."""
        last = self.posts[-1].id if self.posts else 0
        post = FakePost(id=last + 1 + gap, date=self.start + dt.timedelta(minutes=last + gap),
                        text=text, **fields)
        self.posts.append(post)
        return post

    def add_many(self, count: int, template: str = "{sample} (сводка №{id})") -> list[FakePost]:
        """Publish ``count`` plain Cyrillic posts."""
        out = []
        for _ in range(count):
            next_id = (self.posts[-1].id if self.posts else 0) + 1
            sample = SAMPLE_TEXTS[next_id % len(SAMPLE_TEXTS)]
            out.append(self.add(html.escape(template.format(sample=sample, id=next_id))))
        return out

    def page(self, query: dict[str, int]) -> tuple[list[FakePost], bool]:
        """The messages of a page and whether older ones exist (like t.me/s)."""
        posts = sorted(self.posts, key=lambda p: p.id)
        if "before" in query:
            chosen = [p for p in posts if p.id < query["before"]][-PAGE:]
        elif "after" in query and not self.ignore_after:
            chosen = [p for p in posts if p.id > query["after"]][:PAGE]
        else:
            chosen = posts[-PAGE:]
        older = bool(chosen) and posts[0].id < chosen[0].id
        return chosen, older


@dataclass
class Fault:
    """What the next request for a channel gets instead of its page."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    truncate_after: int | None = None  # the page, cut inside the message after this many
    garbage: bool = False


@dataclass
class Request:
    """One request the server received."""

    path: str
    query: dict[str, int]


@dataclass
class PreviewServer:
    """The server; ``await PreviewServer.start()``, then ``await server.close()``."""

    channels: dict[str, FakeChannel] = field(default_factory=dict)
    faults: dict[str, deque[Fault]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    delay: float = 0.0
    in_flight: int = 0
    max_in_flight: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    @classmethod
    async def start(cls, **script: Any) -> PreviewServer:
        """Listen on a free port of 127.0.0.1."""
        self = cls(**script)
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        """Base URL (PREVIEW_BASE_URL)."""
        return f"http://127.0.0.1:{self.port}"

    def channel(self, name: str, title: str, **kwargs: Any) -> FakeChannel:
        """Create a scripted channel."""
        self.channels[name.lower()] = FakeChannel(name, title, **kwargs)
        return self.channels[name.lower()]

    def fail(self, name: str, status: int, *, retry_after: str | None = None,
             times: int = 1) -> None:
        """The next ``times`` requests for the channel get this HTTP status."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self._script(name, times, Fault(status, headers))

    def truncate(self, name: str, keep: int, *, times: int = 1) -> None:
        """The next pages are cut in the middle of the message after the first ``keep``."""
        self._script(name, times, Fault(truncate_after=keep))

    def garbage(self, name: str, *, times: int = 1) -> None:
        """The next pages are not HTML of a channel at all."""
        self._script(name, times, Fault(garbage=True))

    def _script(self, name: str, times: int, fault: Fault) -> None:
        self.faults.setdefault(name.lower(), deque()).extend([fault] * times)

    def hits(self, name: str) -> list[dict[str, int]]:
        """The queries of the requests for the channel's preview, in order."""
        return [r.query for r in self.requests if r.path.lower() == f"/s/{name.lower()}"]

    async def close(self) -> None:
        """Stop listening and end every connection still open."""
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.decode("latin-1").split("\r\n", 1)[0].split(" ")[1]
            parts = urlsplit(target)
            query = {k: int(v[0]) for k, v in parse_qs(parts.query).items() if v[0].isdigit()}
            self.requests.append(Request(parts.path, query))
            if self.delay:
                await asyncio.sleep(self.delay)
            status, headers, body = self._answer(parts.path, query)
            writer.write(
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n".encode()
                + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away
        finally:
            self.in_flight -= 1
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _answer(self, path: str, query: dict[str, int]) -> tuple[int, dict[str, str], bytes]:
        html_type = {"Content-Type": "text/html; charset=utf-8"}
        segments = [s for s in path.split("/") if s]
        if len(segments) == 1 and segments[0].lower() in self.channels:
            return 200, html_type, landing_page(self.channels[segments[0].lower()]).encode()
        if len(segments) != 2 or segments[0] != "s" or segments[1].lower() not in self.channels:
            return 404, html_type, b"<html><body>Not found</body></html>"
        channel = self.channels[segments[1].lower()]
        if not channel.preview:
            return 302, {"Location": f"/{channel.name}", **html_type}, b""
        faults = self.faults.get(channel.name.lower())
        fault = faults.popleft() if faults else Fault()
        if fault.status != 200:
            return fault.status, {**fault.headers, **html_type}, b"<html>error</html>"
        if fault.garbage:
            return 200, html_type, b"<html><body><h1>502 Bad Gateway</h1>\x00<di"
        posts, older = channel.page(query)
        page = channel_page(channel, posts, older)
        if fault.truncate_after is not None:
            marker = 'data-post="'
            cut = -1
            for _ in range(fault.truncate_after + 1):
                cut = page.find(marker, cut + 1)
            if cut >= 0:  # in that message's text (or before its footer): its date is gone
                footer = page.find("js-message_footer", cut)
                text = page.find("js-message_text", cut, footer)
                page = page[:text + 40 if text >= 0 else footer - 30]
        return 200, html_type, page.encode()


def widget(channel: FakeChannel, post: FakePost) -> str:
    """One message as t.me/s renders it."""
    name = channel.name
    link = f"https://t.me/{name}/{post.id}"
    kind = "service_message" if post.service else "text_not_supported_wrap"
    parts = ['<div class="tgme_widget_message_wrap js-widget_message_wrap">'
             f'<div class="tgme_widget_message {kind}'
             f' js-widget_message" data-post="{name}/{post.id}" data-view="x{post.id}"'
             f' data-post-id="{post.id}"><div class="tgme_widget_message_bubble">',
             '<div class="tgme_widget_message_author accent_color">'
             f'<a class="tgme_widget_message_owner_name" href="https://t.me/{name}">'
             f'<span dir="auto">{html.escape(channel.title)}</span></a></div>']
    if post.forwarded:
        href, shown = post.forwarded
        inner = f'<span dir="auto">{html.escape(shown)}</span>'
        parts.append('<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from '
                     + (f'<a class="tgme_widget_message_forwarded_from_name" href="{href}">'
                        f'{inner}</a>' if href else
                        f'<span class="tgme_widget_message_forwarded_from_name">{inner}</span>')
                     + "</div>")
    parts.append(_media(post, link))
    if post.text:
        parts.append(f'<div class="tgme_widget_message_text js-message_text" dir="auto">'
                     f"{post.text}</div>")
    edited = '<span class="tgme_widget_message_meta">edited </span>' if post.edited else ""
    views = "" if post.service else (f'<span class="tgme_widget_message_views">{post.views}'
                                     '</span><span class="copyonly"> views</span>')
    parts.append('<div class="tgme_widget_message_footer compact js-message_footer">'
                 '<div class="tgme_widget_message_info short js-message_info">'
                 f'{views}<span class="tgme_widget_message_meta">{edited}'
                 f'<a class="tgme_widget_message_date" href="{link}">'
                 f'<time datetime="{post.date.isoformat()}" class="time">'
                 f'{post.date:%H:%M}</time></a></span></div></div>')
    parts.append("</div></div></div>")
    return "".join(parts)


def _media(post: FakePost, link: str) -> str:
    if post.media == "photo":
        return (f'<a class="tgme_widget_message_photo_wrap 1 2" href="{link}" style="width:800px;'
                f"background-image:url('https://cdn4.telesco.pe/file/{post.id}.jpg')\">"
                '<div class="tgme_widget_message_photo" style="padding-top:75%"></div></a>')
    if post.media == "video":
        return (f'<a class="tgme_widget_message_video_player js-message_video_player"'
                f' href="{link}"><time class="message_video_duration">0:15</time></a>')
    if post.media == "document":
        return ('<div class="tgme_widget_message_document_wrap"><a class="tgme_widget_message_'
                f'document" href="{link}"><div class="tgme_widget_message_document_title">'
                "file.pdf</div></a></div>")
    if post.media == "voice":
        return ('<div class="tgme_widget_message_voice_player js-message_voice_player">'
                '<time class="tgme_widget_message_voice_duration">0:07</time></div>')
    if post.media == "poll":
        return ('<div class="tgme_widget_message_poll js-poll"><div class="tgme_widget_message_'
                'poll_question">Вы за?</div></div>')
    if post.media == "sticker":
        return (f'<a class="tgme_widget_message_sticker_wrap" href="{link}"><i class="tgme_'
                'widget_message_sticker"></i></a>')
    return ""


def channel_page(channel: FakeChannel, posts: list[FakePost], older: bool) -> str:
    """A whole t.me/s page: header, message list (oldest first), channel info."""
    title = html.escape(channel.title)
    more = (f'<div class="tgme_widget_message_centered js-messages_more_wrap"><a href="/s/'
            f'{channel.name}?before={posts[0].id}" data-before="{posts[0].id}" class="tme_'
            'messages_more js-messages_more"></a></div>') if older and posts else ""
    body = "\n".join(widget(channel, p) for p in posts)
    return f"""<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8">
    <title>{title} – Telegram</title>
    <meta property="og:title" content="{title}">
  </head>
  <body class="widget_frame_base tgme_webpreview emoji_image no_transitions">
    <header class="tgme_header search_collapsed"><div class="tgme_header_info">
      <a class="tgme_header_link" href="https://t.me/{channel.name}">
      <div class="tgme_header_title"><span dir="auto">{title}</span></div></a></div></header>
    <main class="tgme_main">
      <div class="tgme_container">
        <section class="tgme_channel_history js-message_history">
{more}
{body}
        </section>
      </div>
      <div class="tgme_right_column"><section class="tgme_channel_info">
        <div class="tgme_channel_info_header">
          <div class="tgme_channel_info_header_title"><span dir="auto">{title}</span></div>
          <div class="tgme_channel_info_header_username"><a href="https://t.me/{channel.name}">@{channel.name}</a></div>
        </div></section></div>
    </main>
  </body>
</html>
"""


def landing_page(channel: FakeChannel) -> str:
    """The ``t.me/<name>`` page a chat without a public preview redirects to."""
    title = html.escape(channel.title)
    return (f"<!DOCTYPE html><html><head><title>Telegram: Contact @{channel.name}</title></head>"
            '<body><div class="tgme_page_wrap"><div class="tgme_body_wrap"><div class="tgme_page">'
            f'<div class="tgme_page_title"><span dir="auto">{title}</span></div>'
            '<div class="tgme_page_action"><a class="tgme_action_button_new shine"'
            f' href="tg://resolve?domain={channel.name}">View in Telegram</a></div>'
            "</div></div></div></body></html>")

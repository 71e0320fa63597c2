"""A loopback stand-in for the web: channel web previews (``/s/<name>``) and a translator.

``LoopbackHTTPServer`` is a minimal HTTP/1.1 server over ``asyncio.start_server`` on 127.0.0.1
(one request per connection unless asked to keep connections alive; optionally HTTPS), the base
of every loopback server here and in the tests. ``WebStandIn``, used by ``chanwatch demo`` and
by the tests, serves two things:

* **Channel web previews**, the way t.me serves them: ``/s/<name>`` the newest 20 messages,
  ``?before=<id>`` the 20 before an id, ``?after=<id>`` the 20 after it, each page oldest first
  with a "load more" link when older messages exist. A channel without a public preview
  answers 302 to ``/<name>``, whose landing page has no message list. Point
  ``PREVIEW_BASE_URL`` at ``WebStandIn.url``.
* **A LibreTranslate-compatible** ``POST /translate`` (JSON ``{"q", "source", "target",
  "format"}`` → ``{"translatedText"}``) that is honest about being a stand-in: it does not
  translate, it answers the Latin transliteration of the text (iuliia's Wikipedia scheme for
  Russian, translitua's national scheme for Ukrainian-looking text) behind the prefix
  ``STAND_IN_PREFIX``. Point ``TRANSLATE_URL`` at ``WebStandIn.url``.

Every request is recorded (``requests``, ``hits``); ``delay`` holds answers back, and
``in_flight``/``max_in_flight`` show how many were answered at once. Subclasses change what a
preview request gets by overriding ``preview_page`` (the tests script faults that way).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import html
import json
import ssl as _ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import parse_qs, urlsplit

import iuliia
import translitua

PAGE = 20  # messages on one t.me/s page
MAX_BODY = 1 << 20  # bytes: a larger request body is refused with 413
STAND_IN_PREFIX = "[demo stand-in: transliteration, not a translation] "
HTML_TYPE = {"Content-Type": "text/html; charset=utf-8"}
JSON_TYPE = {"Content-Type": "application/json"}
_UKRAINIAN_LETTERS = frozenset("іїєґІЇЄҐ")

C = TypeVar("C", bound="PreviewChannel")


# ---------------------------------------------------------------------------- the page model
@dataclass
class PreviewPost:
    """One message of a channel; ``text`` is the inner HTML of its text block."""

    id: int
    date: dt.datetime
    text: str = ""
    views: str = "1.2K"
    forwarded: tuple[str | None, str] | None = None  # (link or None, shown name)
    edited: bool = False
    media: str | None = None  # photo, video, document, voice, poll, sticker
    service: bool = False  # "Channel photo updated" and the like


@dataclass
class PreviewChannel:
    """A public channel as its web preview shows it."""

    name: str
    title: str
    posts: list[PreviewPost] = field(default_factory=list)
    preview: bool = True  # False: /s/<name> redirects to /<name>
    ignore_after: bool = False  # answer ?after= like /s/<name> (the newest page)
    start: dt.datetime = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
    filler: tuple[str, ...] = ("Сводка новостей",)  # the texts ``add_many`` cycles through

    def add(self, text: str = "", *, gap: int = 0, date: dt.datetime | None = None,
            **fields: Any) -> PreviewPost:
        """Publish a message (``text`` is HTML); ``gap`` ids are skipped first (deleted
        messages). Without ``date`` it is ``start`` plus a minute per id."""
        last = self.posts[-1].id if self.posts else 0
        when = date if date is not None else self.start + dt.timedelta(minutes=last + gap)
        post = PreviewPost(id=last + 1 + gap, date=when, text=text, **fields)
        self.posts.append(post)
        return post

    def add_text(self, text: str, **fields: Any) -> PreviewPost:
        """Publish a message of plain text: escaped, line breaks as ``<br/>``."""
        return self.add(html.escape(text).replace("\n", "<br/>"), **fields)

    def add_many(self, count: int, template: str = "{sample} (сводка №{id})") -> list[PreviewPost]:
        """Publish ``count`` plain posts, cycling through ``filler``."""
        out = []
        for _ in range(count):
            next_id = (self.posts[-1].id if self.posts else 0) + 1
            sample = self.filler[next_id % len(self.filler)]
            out.append(self.add(html.escape(template.format(sample=sample, id=next_id))))
        return out

    def page(self, query: dict[str, int]) -> tuple[list[PreviewPost], bool]:
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


# ---------------------------------------------------------------------------- rendering
def widget(channel: PreviewChannel, post: PreviewPost) -> str:
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


def _media(post: PreviewPost, link: str) -> str:
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


def channel_page(channel: PreviewChannel, posts: Sequence[PreviewPost], older: bool) -> str:
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


def landing_page(channel: PreviewChannel) -> str:
    """The ``t.me/<name>`` page a chat without a public preview redirects to."""
    title = html.escape(channel.title)
    return (f"<!DOCTYPE html><html><head><title>Telegram: Contact @{channel.name}</title></head>"
            '<body><div class="tgme_page_wrap"><div class="tgme_body_wrap"><div class="tgme_page">'
            f'<div class="tgme_page_title"><span dir="auto">{title}</span></div>'
            '<div class="tgme_page_action"><a class="tgme_action_button_new shine"'
            f' href="tg://resolve?domain={channel.name}">View in Telegram</a></div>'
            "</div></div></div></body></html>")


# ---------------------------------------------------------------------------- the translator
def transliterate(text: str) -> str:
    """``text`` in Latin letters: Ukrainian-looking text (і, ї, є, ґ) by translitua's national
    scheme, anything else by iuliia's Wikipedia scheme for Russian. Latin text is unchanged."""
    if _UKRAINIAN_LETTERS.intersection(text):
        return str(translitua.translit(text))
    return str(iuliia.WIKIPEDIA.translate(text))


def stand_in_translation(text: str) -> str:
    """What the stand-in's ``/translate`` answers: the transliteration, saying what it is."""
    return STAND_IN_PREFIX + transliterate(text)


# ---------------------------------------------------------------------------- HTTP
@dataclass(frozen=True)
class HttpRequest:
    """One request as it arrived: ``target`` as sent (path and query, or a whole URL when the
    server is asked as a proxy), header names lower-case, the body with any chunking undone."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        """The target's path, without the query."""
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        """The target's query parameters (the first value of each)."""
        return {k: v[0] for k, v in parse_qs(urlsplit(self.target).query).items()}


@dataclass
class Response:
    """What a server answers; Content-Length and Connection are added when it is sent."""

    status: int
    headers: dict[str, str]
    body: bytes


def json_response(status: int, payload: Any) -> Response:
    """A JSON answer (UTF-8, non-ASCII kept as is)."""
    return Response(status, dict(JSON_TYPE), json.dumps(payload, ensure_ascii=False).encode())


@dataclass(kw_only=True)
class LoopbackHTTPServer:
    """A minimal HTTP/1.1 server on a free port of 127.0.0.1; subclasses override ``respond``.

    Every answer closes its connection (``Connection: close``) unless ``keep_alive``: then a
    connection serves requests until the client closes it or asks ``Connection: close``.
    ``ssl`` makes it HTTPS (``on_sni`` hears the name of each handshake). ``connections``
    counts the connections accepted, ``in_flight``/``max_in_flight`` the requests being
    answered. ``await Server.start(**fields)`` or ``async with Server(**fields)``; ``close()``
    cuts every connection still open (e.g. one whose answer is still delayed).
    """

    ssl: _ssl.SSLContext | None = None
    keep_alive: bool = False
    port: int = 0
    connections: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    _server: asyncio.Server | None = field(default=None, init=False, repr=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)

    @classmethod
    async def start(cls, **fields: Any) -> Self:
        """Create the server with these fields (e.g. ``delay``) and listen."""
        server = cls(**fields)
        await server.listen()
        return server

    async def listen(self) -> None:
        """Listen on a free port of 127.0.0.1 (``port`` tells which)."""
        if self.ssl is not None:
            self.ssl.sni_callback = lambda _sock, name, _ctx: self.on_sni(name)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash."""
        return f"{'https' if self.ssl else 'http'}://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        await self.listen()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop listening, cut every open connection and wait for the handlers to end."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        while self._tasks:  # a connection accepted just before may start its handler late
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await server.wait_closed()

    def on_sni(self, name: str | None) -> None:
        """Called with the server name of each TLS handshake (None: the client sent none)."""

    async def respond(self, request: HttpRequest) -> Response:
        """The answer to a request; this one is 404."""
        return Response(404, dict(HTML_TYPE), b"<html><body>Not found</body></html>")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            again = self._server is not None  # False: close() has begun
            while again:
                request = await read_request(reader)
                if isinstance(request, Response):
                    response, again = request, False
                else:
                    self.in_flight += 1
                    self.max_in_flight = max(self.max_in_flight, self.in_flight)
                    try:
                        response = await self.respond(request)
                    finally:
                        self.in_flight -= 1
                    again = (self.keep_alive
                             and request.headers.get("connection", "").lower() != "close")
                writer.write(encode_response(response, again))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                _ssl.SSLError):
            pass  # the client went away, or sent no HTTP at all
        except asyncio.CancelledError:
            # close() cuts the connection; asyncio would log a cancelled handler as an error,
            # so the handler ends normally instead
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()


def _error(status: int, text: str) -> Response:
    return Response(status, dict(HTML_TYPE), f"<html>{text}</html>".encode())


async def read_request(reader: asyncio.StreamReader) -> HttpRequest | Response:
    """Read one request (head, then a Content-Length or chunked body of at most ``MAX_BODY``
    bytes), or the error answer to send instead."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    words = lines[0].split(" ")
    if len(words) != 3:
        return _error(400, "bad request")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    coding = headers.get("transfer-encoding", "").lower()
    if coding == "chunked":
        body: bytes | Response = await _read_chunked(reader)
    elif coding:
        return _error(411, "length required")
    elif not (length := headers.get("content-length", "0")).isdigit():
        return _error(400, "bad content-length")
    elif int(length) > MAX_BODY:
        return _error(413, "too large")
    else:
        body = await reader.readexactly(int(length))
    if isinstance(body, Response):
        return body
    return HttpRequest(words[0], words[1], headers, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes | Response:
    body = b""
    while True:
        size_field = (await reader.readuntil(b"\r\n")).split(b";")[0].strip()
        if not size_field or any(c not in b"0123456789abcdefABCDEF" for c in size_field):
            return _error(400, "bad chunk")
        size = int(size_field, 16)
        if len(body) + size > MAX_BODY:
            return _error(413, "too large")
        if size == 0:
            break
        body += await reader.readexactly(size)
        await reader.readexactly(2)  # the chunk's CRLF
    while await reader.readuntil(b"\r\n") != b"\r\n":
        pass  # trailer fields, not kept
    return body


def encode_response(response: Response, keep_alive: bool) -> bytes:
    """The response as sent: status line, headers, Content-Length, Connection, body."""
    try:
        phrase = HTTPStatus(response.status).phrase
    except ValueError:
        phrase = "Unknown"
    lines = [f"HTTP/1.1 {response.status} {phrase}",
             *(f"{k}: {v}" for k, v in response.headers.items()),
             f"Content-Length: {len(response.body)}",
             f"Connection: {'keep-alive' if keep_alive else 'close'}", "", ""]
    return "\r\n".join(lines).encode() + response.body


# ---------------------------------------------------------------------------- the stand-in
@dataclass
class Request:
    """One request the stand-in received (``query``: its parameters with digit values)."""

    path: str
    query: dict[str, int]
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""


@dataclass
class WebStandIn(LoopbackHTTPServer):
    """The server; ``await WebStandIn.start()``, then ``await server.close()``."""

    channels: dict[str, PreviewChannel] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    delay: float = 0.0  # seconds every answer is held back

    def add_channel(self, channel: C) -> C:
        """Serve ``channel`` (replacing one of the same name, in any letter case)."""
        self.channels[channel.name.lower()] = channel
        return channel

    def channel(self, name: str, title: str, **kwargs: Any) -> PreviewChannel:
        """Create and serve a channel; ``kwargs`` are PreviewChannel's fields."""
        return self.add_channel(PreviewChannel(name, title, **kwargs))

    def hits(self, name: str) -> list[dict[str, int]]:
        """The queries of the requests for the channel's preview, in order."""
        return [r.query for r in self.requests if r.path.lower() == f"/s/{name.lower()}"]

    async def respond(self, request: HttpRequest) -> Response:
        """Record the request, hold it back ``delay`` seconds, then ``answer`` it."""
        query = {k: int(v) for k, v in request.query.items() if v.isdigit()}
        recorded = Request(request.path, query, request.method, request.headers, request.body)
        self.requests.append(recorded)
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.answer(recorded)

    # ------------------------------------------------------------------ routes
    def answer(self, request: Request) -> Response:
        """Route a request: the translator, a landing page, a preview page, or 404."""
        if request.path == "/translate":
            return self.translate(request)
        segments = [s for s in request.path.split("/") if s]
        if len(segments) == 1 and segments[0].lower() in self.channels:
            return Response(200, dict(HTML_TYPE),
                            landing_page(self.channels[segments[0].lower()]).encode())
        if len(segments) != 2 or segments[0] != "s" or segments[1].lower() not in self.channels:
            return Response(404, dict(HTML_TYPE), b"<html><body>Not found</body></html>")
        channel = self.channels[segments[1].lower()]
        if not channel.preview:
            return Response(302, {"Location": f"/{channel.name}", **HTML_TYPE}, b"")
        return self.preview_page(channel, request.query)

    def preview_page(self, channel: PreviewChannel, query: dict[str, int]) -> Response:
        """The ``/s/<name>`` page of a channel whose preview is public."""
        posts, older = channel.page(query)
        return Response(200, dict(HTML_TYPE), channel_page(channel, posts, older).encode())

    def translate(self, request: Request) -> Response:
        """LibreTranslate's ``POST /translate``, answered with a labelled transliteration."""
        if request.method != "POST":
            return json_response(405, {"error": "Method Not Allowed"})
        try:
            body = json.loads(request.body) if request.body else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return json_response(400, {"error": "Invalid request: the body is not JSON"})
        q, target = body.get("q"), body.get("target")
        if not isinstance(target, str) or not target:
            return json_response(400, {"error": "Invalid request: missing target parameter"})
        if isinstance(q, str):
            return json_response(200, {"translatedText": stand_in_translation(q)})
        if isinstance(q, list) and all(isinstance(t, str) for t in q):
            return json_response(200, {"translatedText": [stand_in_translation(t) for t in q]})
        return json_response(400, {"error": "Invalid request: missing q parameter"})

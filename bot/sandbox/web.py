"""A loopback stand-in for the web: channel web previews (``/s/<name>``) and a translator.

``WebStandIn``, used by ``chanwatch demo`` and by the tests, is a ``LoopbackHTTPServer``
(``bot.sandbox.httpserver``: a minimal HTTP/1.1 server on 127.0.0.1, the base of every
loopback server here and in the tests) that serves two things:

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

The page model and its HTML are in ``bot.sandbox.previews``, the transliteration in
``bot.sandbox.translator``; their public names and the HTTP ones are importable from here too.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot.sandbox.httpserver import (
    HTML_TYPE,
    JSON_TYPE,
    MAX_BODY,
    HttpRequest,
    LoopbackHTTPServer,
    Response,
    encode_response,
    json_response,
    read_request,
)
from bot.sandbox.previews import (
    PAGE,
    PreviewChannel,
    PreviewPost,
    channel_page,
    landing_page,
    widget,
)
from bot.sandbox.translator import STAND_IN_PREFIX, stand_in_translation, transliterate

__all__ = ["HTML_TYPE", "JSON_TYPE", "MAX_BODY", "PAGE", "STAND_IN_PREFIX", "HttpRequest",
           "LoopbackHTTPServer", "PreviewChannel", "PreviewPost", "Request", "Response",
           "WebStandIn", "channel_page", "encode_response", "json_response", "landing_page",
           "read_request", "stand_in_translation", "transliterate", "widget"]

C = TypeVar("C", bound="PreviewChannel")


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

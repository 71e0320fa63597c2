"""A loopback LibreTranslate- and DeepL-compatible HTTP server for translation tests.

``POST /translate`` answers ``"[<target>] " + q`` like LibreTranslate; ``POST /v2/translate``
answers ``"[<TARGET_LANG>] " + text`` like DeepL. A test scripts it: ``delay`` seconds before
answering, ``fail = (status, message)`` for an error answer, and the ``api_key`` /
``deepl_key`` it demands. Every request is recorded. The HTTP itself (127.0.0.1, one request
per connection) is ``bot.sandbox.web.LoopbackHTTPServer``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.web import HttpRequest, LoopbackHTTPServer, Response, json_response


@dataclass
class Request:
    """One request the server received (``body``: parsed JSON, else the text)."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any


@dataclass
class TranslateServer(LoopbackHTTPServer):
    """The server; ``await TranslateServer.start()``, then ``await server.close()``."""

    api_key: str | None = None  # LibreTranslate: demanded in the JSON body when set
    deepl_key: str | None = None  # DeepL: demanded in the Authorization header when set
    delay: float = 0.0
    fail: tuple[int, str] | None = None
    requests: list[Request] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many requests arrived so far."""
        return len(self.requests)

    async def respond(self, request: HttpRequest) -> Response:
        """Record the request, hold it back ``delay`` seconds, then answer it as JSON."""
        try:
            body = json.loads(request.body) if request.body else None
        except ValueError:
            body = request.body.decode("utf-8", "replace")
        recorded = Request(request.method, request.target, request.headers, body)
        self.requests.append(recorded)
        if self.delay:
            await asyncio.sleep(self.delay)
        return json_response(*self._answer(recorded))

    def _answer(self, request: Request) -> tuple[int, Any]:
        if self.fail is not None:
            status, message = self.fail
            return status, {"error": message} if request.path == "/translate" else {
                "message": message}
        body = request.body if isinstance(request.body, dict) else {}
        if request.method == "POST" and request.path == "/translate":
            if self.api_key is not None and body.get("api_key") != self.api_key:
                return 403, {"error": "Invalid API key"}
            if not isinstance(body.get("q"), str) or not body.get("target"):
                return 400, {"error": "Invalid request: missing q or target parameter"}
            return 200, {"translatedText": f"[{body['target']}] {body['q']}",
                         "detectedLanguage": {"confidence": 90, "language": "ru"}}
        if request.method == "POST" and request.path == "/v2/translate":
            if self.deepl_key is not None and (
                    request.headers.get("authorization") != f"DeepL-Auth-Key {self.deepl_key}"):
                return 403, {"message": "Authorization failed"}
            texts, target = body.get("text"), body.get("target_lang")
            if not isinstance(texts, list) or not target:
                return 400, {"message": "Value for 'text' not supported."}
            return 200, {"translations": [{"detected_source_language": "RU",
                                           "text": f"[{target}] {t}"} for t in texts]}
        return 404, {"error": "Not Found"}

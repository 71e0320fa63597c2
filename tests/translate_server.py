"""A loopback LibreTranslate- and DeepL-compatible HTTP server for translation tests.

Minimal HTTP/1.1 over ``asyncio.start_server`` on 127.0.0.1: one request per connection
(``Connection: close``). ``POST /translate`` answers ``"[<target>] " + q`` like LibreTranslate;
``POST /v2/translate`` answers ``"[<TARGET_LANG>] " + text`` like DeepL. A test scripts it:
``delay`` seconds before answering, ``fail = (status, message)`` for an error answer, and the
``api_key`` / ``deepl_key`` it demands. Every request is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error"}


@dataclass
class Request:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any


@dataclass
class TranslateServer:
    """The server; ``await TranslateServer.start()``, then ``await server.close()``."""

    api_key: str | None = None  # LibreTranslate: demanded in the JSON body when set
    deepl_key: str | None = None  # DeepL: demanded in the Authorization header when set
    delay: float = 0.0
    fail: tuple[int, str] | None = None
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    @classmethod
    async def start(cls, **script: Any) -> TranslateServer:
        """Listen on a free port of 127.0.0.1."""
        self = cls(**script)
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        """Base URL (TRANSLATE_URL or DEEPL_URL)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def count(self) -> int:
        """How many requests arrived so far."""
        return len(self.requests)

    async def close(self) -> None:
        """Stop listening and end every connection still open (e.g. one still delaying)."""
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
        try:
            request = await self._read(reader)
            if request is None:
                return
            self.requests.append(request)
            if self.delay:
                await asyncio.sleep(self.delay)
            status, answer = self._answer(request)
            body = json.dumps(answer, ensure_ascii=False).encode()
            writer.write(
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode() + body
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up (a timeout test): nothing to answer
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Request | None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        raw = await reader.readexactly(int(headers.get("content-length", "0")))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        return Request(method, path, headers, body)

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

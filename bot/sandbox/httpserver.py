"""``LoopbackHTTPServer``: a minimal HTTP/1.1 server over ``asyncio.start_server`` on 127.0.0.1.

One request per connection unless asked to keep connections alive; optionally HTTPS. It is the
base of every loopback server here (``web.WebStandIn``) and in the tests; ``read_request`` and
``encode_response`` are its wire format.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl as _ssl
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 1 << 20  # bytes: a larger request body is refused with 413
HTML_TYPE = {"Content-Type": "text/html; charset=utf-8"}
JSON_TYPE = {"Content-Type": "application/json"}


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

"""A real HTTP/1.1 server on 127.0.0.1 that records requests and answers as scripted.

    async with Receiver() as hook:
        hook.script("/flaky", Reply(500), Reply(200))
        hook.script("/slow", Reply(429, {"Retry-After": "7"}), Reply(200))
        ...  # POST to hook.url + "/flaky"
        assert hook.requests[0].json() == {...}

Paths without a script (or whose script is used up) answer 200. Every answer closes its
connection (``Connection: close``) unless ``keep_alive=True``; then a connection serves requests
until the client closes it or asks ``Connection: close``. ``ssl`` makes it an HTTPS server
(``tls_names`` then records the SNI name of each handshake). The HTTP itself is
``bot.sandbox.web.LoopbackHTTPServer``: ``Content-Length`` and chunked request bodies.
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.web import HttpRequest, LoopbackHTTPServer, Response


@dataclass(frozen=True)
class Reply:
    """One scripted answer; ``delay`` seconds pass before it is sent (for timeouts)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    """One request as it arrived (``path`` with its query); header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (it must be UTF-8)."""
        return json.loads(self.body.decode("utf-8"))


@dataclass(kw_only=True)
class Receiver(LoopbackHTTPServer):
    """The server; use it as an async context manager so that it is always closed.

    ``connections`` counts the connections accepted (to see whether clients reuse them).
    """

    requests: list[Received] = field(default_factory=list)
    tls_names: list[str | None] = field(default_factory=list)
    _scripts: dict[str, list[Reply]] = field(default_factory=dict, init=False, repr=False)

    def script(self, path: str, *replies: Reply) -> None:
        """Answer requests to ``path`` (without the query) with these replies, in order."""
        self._scripts.setdefault(path, []).extend(replies)

    def to(self, path: str) -> list[Received]:
        """The requests received for ``path``."""
        return [r for r in self.requests if r.path.split("?")[0] == path]

    def on_sni(self, name: str | None) -> None:
        """Record the name the client asked for in the TLS handshake."""
        self.tls_names.append(name)

    async def respond(self, request: HttpRequest) -> Response:
        """Record the request and send the next reply scripted for its path (or 200)."""
        received = Received(request.method, request.target, request.headers, request.body)
        self.requests.append(received)
        queue = self._scripts.get(received.path.split("?")[0])
        reply = queue.pop(0) if queue else Reply()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return Response(reply.status, dict(reply.headers), reply.body)


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connecting to it is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port

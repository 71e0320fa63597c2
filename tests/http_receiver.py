"""A real HTTP/1.1 server on 127.0.0.1 that records requests and answers as scripted.

    async with Receiver() as hook:
        hook.script("/flaky", Reply(500), Reply(200))
        hook.script("/slow", Reply(429, {"Retry-After": "7"}), Reply(200))
        ...  # POST to hook.url + "/flaky"
        assert hook.requests[0].json() == {...}

Paths without a script (or whose script is used up) answer 200. Every answer closes its
connection (``Connection: close``) unless ``keep_alive=True``; then a connection serves requests
until the client closes it or asks ``Connection: close``. ``ssl`` makes it an HTTPS server
(``tls_names`` then records the SNI name of each handshake). Only what the webhook sender needs
is spoken: ``Content-Length`` and chunked request bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl as _ssl
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self


@dataclass(frozen=True)
class Reply:
    """One scripted answer; ``delay`` seconds pass before it is sent (for timeouts)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    """One request as it arrived; header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (it must be UTF-8)."""
        return json.loads(self.body.decode("utf-8"))


class Receiver:
    """The server; use it as an async context manager so that it is always closed."""

    def __init__(self, *, ssl: _ssl.SSLContext | None = None, keep_alive: bool = False) -> None:
        self.requests: list[Received] = []
        self.connections = 0  # connections accepted (to see whether clients reuse them)
        self.tls_names: list[str | None] = []
        self._ssl = ssl
        self._keep_alive = keep_alive
        if ssl is not None:
            ssl.sni_callback = self._on_sni
        self._scripts: dict[str, list[Reply]] = {}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """The server's base URL, without a trailing slash."""
        return f"{'https' if self._ssl else 'http'}://127.0.0.1:{self.port}"

    def _on_sni(self, sock: _ssl.SSLObject, name: str | None, ctx: _ssl.SSLContext) -> None:
        self.tls_names.append(name)

    def script(self, path: str, *replies: Reply) -> None:
        """Answer requests to ``path`` (without the query) with these replies, in order."""
        self._scripts.setdefault(path, []).extend(replies)

    def to(self, path: str) -> list[Received]:
        """The requests received for ``path``."""
        return [r for r in self.requests if r.path.split("?")[0] == path]

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop listening, cut every open connection and wait for the handlers to finish."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in list(self._writers):
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        await self._server.wait_closed()
        self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        try:
            while True:
                request = await self._read(reader)
                self.requests.append(request)
                queue = self._scripts.get(request.path.split("?")[0])
                reply = queue.pop(0) if queue else Reply()
                if reply.delay:
                    await asyncio.sleep(reply.delay)
                again = (self._keep_alive
                         and request.headers.get("connection", "").lower() != "close")
                writer.write(_response(reply, again))
                await writer.drain()
                if not again:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, _ssl.SSLError):
            pass
        except asyncio.CancelledError:
            # close() cuts waiting connections; asyncio's own callback would log a cancelled
            # handler as an error, so this handler ends normally instead
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Received:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                body += await reader.readexactly(size)
                await reader.readexactly(2)
            await reader.readuntil(b"\r\n")  # no trailers are sent to this server
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Received(method, path, headers, body)


def _response(reply: Reply, keep_alive: bool) -> bytes:
    try:
        phrase = HTTPStatus(reply.status).phrase
    except ValueError:
        phrase = "Whatever"
    lines = [f"HTTP/1.1 {reply.status} {phrase}",
             *(f"{k}: {v}" for k, v in reply.headers.items()),
             f"Content-Length: {len(reply.body)}",
             f"Connection: {'keep-alive' if keep_alive else 'close'}", "", ""]
    return "\r\n".join(lines).encode("latin-1") + reply.body


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connecting to it is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port

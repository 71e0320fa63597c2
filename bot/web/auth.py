"""What may reach the web view: reads only, and with a password set, only with it.

``ReadOnlyGate`` answers 405 to every method but GET and HEAD: the view has no form that
writes, so nothing Datasette could accept by POST (a canned write query, its debug pages)
is reachable. ``PasswordGate`` wants one shared password, by HTTP Basic or a Bearer token.

A small ASGI wrapper rather than datasette-auth-passwords: that plugin keeps hashed passwords
in the metadata and logs people in with a form and a cookie, for several accounts; the web
view has one secret (``WEB_PASSWORD``), and Basic/Bearer lets ``curl``, scripts fetching CSV
and a browser all use it the same way. Every request is checked (only the server's lifespan
events pass); the comparison is of SHA-256 digests with ``hmac.compare_digest``, so its
time does not depend on the password or on how much of it was guessed. The password is never logged:
uvicorn's access log has the path, not the headers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REALM = "chanwatch archive"


def _digest(secret: bytes) -> bytes:
    return hashlib.sha256(secret).digest()


def offered_password(authorization: bytes) -> bytes | None:
    """The password an Authorization header carries (Basic: the part after ':'), or None."""
    scheme, _, value = authorization.strip().partition(b" ")
    scheme = scheme.lower()
    if scheme == b"bearer":
        return value.strip()
    if scheme == b"basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        _user, colon, password = decoded.partition(b":")
        return password if colon else None
    return None


class PasswordGate:
    """ASGI middleware: 401 unless the request carries the password."""

    def __init__(self, app: ASGIApp, password: str) -> None:
        self._app = app
        self._digest = _digest(password.encode("utf-8"))

    def allows(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """Whether these request headers carry the password."""
        for name, value in headers:
            if name.lower() == b"authorization":
                offered = offered_password(value)
                # compare digests of equal length: constant time whatever was offered
                return offered is not None and hmac.compare_digest(_digest(offered),
                                                                   self._digest)
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan" or self.allows(list(scope.get("headers") or [])):
            await self._app(scope, receive, send)
            return
        if kind != "http":  # a websocket without the password: closed before it opens
            await send({"type": "websocket.close", "code": 1008})
            return
        await _plain(send, 401, b"chanwatch: this archive needs the password (WEB_PASSWORD)\n",
                     [(b"www-authenticate", f'Basic realm="{REALM}", charset="UTF-8"'.encode())])


class ReadOnlyGate:
    """ASGI middleware: 405 for any HTTP method that is not GET or HEAD."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD"):
            await self._app(scope, receive, send)
            return
        await _plain(send, 405, b"chanwatch: the archive is read-only\n",
                     [(b"allow", b"GET, HEAD")])


async def _plain(send: Send, status: int, body: bytes,
                 headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        *headers, (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

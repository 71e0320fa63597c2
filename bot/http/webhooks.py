"""Webhooks: alerts POSTed to a URL a chat (or the operator, ``WEBHOOK_URL``) chose.

``/webhook add <url> [json|slack|discord|ntfy]`` stores a URL after :func:`check_url`; the
outbox then hands every alert of that chat to :meth:`HttpWebhookSender.post`, which raises the
same exceptions as the Telegram sender, so the dispatcher retries, backs off and dead-letters
webhook deliveries exactly like messages.

The event and its shape per format (``json``, ``slack``, ``discord``, ``ntfy``) are in
:mod:`bot.http.webhook_shapes`; the alert's event is built from its ``AlertEvent`` by
:func:`bot.render.webhook_event`.

Deliveries are at least once: an event whose answer was lost is sent again. 2xx is success,
429 waits for ``Retry-After`` (default 60 s, at most 1 h), other 4xx and 3xx stop the webhook,
5xx and network trouble retry with backoff.

Safety. Only ``http``/``https`` URLs without credentials. Unless the operator sets
``WEBHOOK_ALLOW_PRIVATE=1``, every address the host resolves to must be a public one
(no loopback, private, link-local, shared, multicast, reserved or unspecified addresses,
including IPv4 addresses embedded in IPv6 ones). :meth:`HttpWebhookSender.post` resolves and
checks again at every delivery and then connects to the very address it checked (the request
goes to the IP, with the original ``Host`` header and, for https, the original name for SNI and
certificate verification), so DNS rebinding cannot steer a delivery into the local network.
Only when the shared client sends through a proxy from the environment (``HTTP_PROXY``,
``HTTPS_PROXY``, ``ALL_PROXY`` with ``trust_env``) is the name handed to the proxy, which
resolves it itself: the check still applies to our own resolution. Redirects are never
followed; at most 64 KiB of an answer is read. Webhook URLs often carry secrets (Slack,
Discord, ntfy topics): logs and error messages name only the scheme and host
(:func:`redact_url`). (httpx itself logs full URLs at INFO: ``configure_logging`` keeps the
``httpx`` and ``httpcore`` loggers at WARNING.)
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import logging
import math
import socket
import time
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from bot.http.webhook_shapes import clip as clip
from bot.http.webhook_shapes import shape as shape
from bot.services.ports import (
    FloodWait,
    MessageRejected,
    PermanentSendError,
    TransientSendError,
)
from bot.webhook_urls import FORMATS as FORMATS
from bot.webhook_urls import MAX_URL_LENGTH as MAX_URL_LENGTH
from bot.webhook_urls import WebhookURLError as WebhookURLError
from bot.webhook_urls import check_url_syntax as check_url_syntax
from bot.webhook_urls import parse_url

log = logging.getLogger(__name__)

RETRY_AFTER_DEFAULT = 60
RETRY_AFTER_MAX = 3600
DNS_TIMEOUT = 10.0
DEADLINE = 60.0  # one delivery as a whole, whatever the client's per-phase timeouts
ANSWER_BYTES = 64 * 1024  # of an answer's body, read only to keep the connection usable
SKIM_SECONDS = 2.0
ADDRESSES_TRIED = 2  # a refused connection moves on to the host's next address, once

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Resolves ``(host, port)`` to IP address strings; raises ``OSError`` when it cannot."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")


# --- URLs --------------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """What may be logged of a webhook URL: scheme, host and port, never path or query."""
    try:
        parsed = httpx.URL(url.strip())
        host = parsed.raw_host.decode("ascii")
    except Exception:
        return "<invalid URL>"
    if not host or parsed.scheme not in ("http", "https"):
        return "<invalid URL>"
    if ":" in host:
        host = f"[{host}]"
    port = f":{parsed.port}" if parsed.port is not None else ""
    return f"{parsed.scheme}://{host}{port}"


def address_problem(address: Address) -> str | None:
    """Why a webhook may not call this address (e.g. ``"loopback"``), or None if it is public.

    IPv4 addresses inside IPv6 ones (IPv4-mapped, 6to4, Teredo, NAT64) are judged as well.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address_problem(address.ipv4_mapped)
        embedded: list[ipaddress.IPv4Address] = []
        if address.sixtofour is not None:
            embedded.append(address.sixtofour)
        if address.teredo is not None:
            embedded.extend(address.teredo)
        if address in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        for inner in embedded:
            if (problem := address_problem(inner)) is not None:
                return problem
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "shared (carrier-grade NAT)"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "non-public"
    return None


async def resolve_host(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to for a TCP connection (``loop.getaddrinfo``)."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(DNS_TIMEOUT):
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                       proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


class _ResolveError(Exception):
    """The host could not be resolved (perhaps only for now)."""


def _host(parsed: httpx.URL) -> str:
    """The host as it goes on the wire (IDNA names in their ASCII form)."""
    return parsed.raw_host.decode("ascii")


def _default_port(parsed: httpx.URL) -> int:
    return parsed.port or (443 if parsed.scheme == "https" else 80)


async def _checked_addresses(parsed: httpx.URL, *, allow_private: bool,
                             resolve: Resolver | None) -> list[Address]:
    """The addresses to connect to for a parsed URL, every one of them allowed."""
    host = _host(parsed)
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is None and not allow_private and (
        host == "localhost" or host.endswith(".localhost")
    ):
        raise WebhookURLError(f"{host} is this machine: webhooks may only call public "
                              "internet addresses.")
    if literal is not None:
        addresses = [literal]
    else:
        try:
            found = await (resolve or resolve_host)(host, _default_port(parsed))
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in found]
        except (OSError, TimeoutError, ValueError, UnicodeError) as exc:
            raise _ResolveError(f"cannot resolve {host} ({type(exc).__name__})") from None
        if not addresses:
            raise _ResolveError(f"cannot resolve {host} (no addresses)")
    if not allow_private:
        for address in addresses:
            if (problem := address_problem(address)) is not None:
                what = f"{address} is" if literal is not None else f"{host} points to"
                raise WebhookURLError(f"{what} a {problem} address: webhooks may only call "
                                      "public internet addresses.")
    return addresses


async def check_url(url: str, *, allow_private: bool, resolve: Resolver | None = None) -> str:
    """Check a webhook URL before it is stored; return it normalised.

    The syntax rules are those of :func:`check_url_syntax`. Then the host is resolved and,
    unless ``allow_private``, refused if it is ``localhost`` or ANY of its addresses is not a
    public one (see :func:`address_problem`). A host that does not resolve is refused too.
    Messages name the host but never the addresses a name resolved to. ``resolve`` replaces
    :func:`resolve_host` (tests). Raises WebhookURLError.
    """
    parsed = parse_url(url)
    try:
        await _checked_addresses(parsed, allow_private=allow_private, resolve=resolve)
    except _ResolveError:
        raise WebhookURLError(f"Cannot find the host {_host(parsed)}: check the URL.") \
            from None
    return str(parsed)


# --- Delivery ----------------------------------------------------------------------------


def retry_after_seconds(value: str | None, *, now: float | None = None) -> int:
    """Seconds to wait from a Retry-After header (seconds or HTTP date): default 60, 1–3600."""
    seconds: float | None = None
    if value:
        value = value.strip()
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None and when.tzinfo is not None:
                seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds is None or not math.isfinite(seconds):
        return RETRY_AFTER_DEFAULT
    return max(1, min(RETRY_AFTER_MAX, math.ceil(seconds)))


async def _skim(response: httpx.Response) -> None:
    """Read a short answer so that its connection can be reused; never fail over it.

    The status is known by then: a slow, long or broken body must not turn a delivered event
    into a retry (a duplicate), so reading stops after ``ANSWER_BYTES`` or ``SKIM_SECONDS``.
    Closing the response then closes the connection: a huge answer costs nothing.
    """
    size = 0
    try:
        async with asyncio.timeout(SKIM_SECONDS):
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if size > ANSWER_BYTES:
                    break
    except (TimeoutError, httpx.HTTPError):
        pass


class HttpWebhookSender:
    """Delivers events to webhook URLs over the app's shared ``httpx.AsyncClient``.

    :meth:`post` raises what the dispatcher understands: ``FloodWait`` (HTTP 429),
    ``PermanentSendError`` (other 4xx, 3xx, a URL that is no longer allowed, an unknown
    format), ``TransientSendError`` (5xx, DNS, network, timeouts) and ``MessageRejected``
    (this one event cannot be encoded).
    """

    def __init__(self, client: httpx.AsyncClient, *, allow_private: bool,
                 resolve: Resolver | None = None, deadline: float = DEADLINE) -> None:
        self._client = client
        self._allow_private = allow_private
        self._resolve = resolve
        self._deadline = deadline

    async def post(self, url: str, fmt: str, event: dict[str, Any]) -> None:
        """POST ``event`` in format ``fmt`` to ``url``; return once the receiver took it (2xx).

        The URL is checked again (its DNS may have changed since it was added) and the request
        goes to the address that was checked. Redirects are not followed.
        """
        where = redact_url(url)
        if fmt not in FORMATS:
            raise PermanentSendError(f"unknown webhook format {fmt!r}")
        try:
            headers, body = shape(fmt, event)
        except Exception as exc:
            raise MessageRejected(f"cannot encode the event as {fmt}: {exc}") from None
        try:
            async with asyncio.timeout(self._deadline):
                try:
                    parsed = parse_url(url)
                    addresses = await _checked_addresses(
                        parsed, allow_private=self._allow_private, resolve=self._resolve)
                except WebhookURLError as exc:
                    raise PermanentSendError(f"webhook {where} refused: {exc}") from None
                except _ResolveError as exc:
                    raise TransientSendError(f"webhook {where}: {exc}") from None
                status, retry_after = await self._send(parsed, addresses, headers, body, where)
        except TimeoutError:
            raise TransientSendError(
                f"webhook {where}: no answer within {self._deadline:g} s") from None
        if 200 <= status < 300:
            log.debug("webhook %s (%s): HTTP %d", where, fmt, status)
            return
        if status == 429:
            raise FloodWait(retry_after_seconds(retry_after))
        if 300 <= status < 400:
            raise PermanentSendError(f"HTTP {status} from {where}: redirects are not followed")
        if 400 <= status < 500:
            raise PermanentSendError(f"HTTP {status} from {where}")
        raise TransientSendError(f"HTTP {status} from {where}")

    def _proxied(self, parsed: httpx.URL) -> bool:
        """Whether the client sends this URL through a proxy from the environment."""
        if not self._client.trust_env:
            return False
        proxies = urllib.request.getproxies()
        if not (proxies.get(parsed.scheme) or proxies.get("all")):
            return False
        return not urllib.request.proxy_bypass(_host(parsed))

    async def _send(self, parsed: httpx.URL, addresses: Sequence[Address],
                    headers: dict[str, str], body: bytes,
                    where: str) -> tuple[int, str | None]:
        """POST to the first address that accepts a connection; return status, Retry-After."""
        extensions: dict[str, Any] = {}
        if self._proxied(parsed):
            # the proxy resolves the name itself: the address cannot be pinned
            targets = [parsed]
            sent_headers = headers
        else:
            targets = [parsed.copy_with(host=str(a)) for a in addresses[:ADDRESSES_TRIED]]
            sent_headers = {**headers, "Host": parsed.netloc.decode("ascii")}
            if parsed.scheme == "https":
                # certificate and SNI for the name; and no pooled connection to that IP,
                # opened for another name, is reused for this one
                extensions["sni_hostname"] = _host(parsed)
                sent_headers["Connection"] = "close"
        failure: Exception | None = None
        for target in targets:
            try:
                async with self._client.stream(
                    "POST", target, content=body, headers=sent_headers,
                    follow_redirects=False, extensions=extensions,
                ) as response:
                    await _skim(response)
                    return response.status_code, response.headers.get("retry-after")
            except httpx.ConnectError as exc:
                failure = exc  # refused or unreachable: the next address may answer
            except httpx.LocalProtocolError as exc:
                raise MessageRejected(f"webhook {where}: invalid request "
                                      f"({type(exc).__name__})") from None
            except httpx.HTTPError as exc:  # str(exc) may quote the URL: name the type only
                raise TransientSendError(f"webhook {where}: {type(exc).__name__}") from None
        name = type(failure).__name__ if failure else "no address"
        raise TransientSendError(f"webhook {where}: cannot connect ({name})")

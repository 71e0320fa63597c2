"""Webhooks: alerts POSTed to a URL a chat (or the operator, ``WEBHOOK_URL``) chose.

``/webhook add <url> [json|slack|discord|ntfy]`` stores a URL after :func:`check_url`; the
outbox then hands every alert of that chat to :meth:`HttpWebhookSender.post`, which raises the
same exceptions as the Telegram sender, so the dispatcher retries, backs off and dead-letters
webhook deliveries exactly like messages.

The event (format ``json`` POSTs it unchanged, UTF-8, ``Content-Type: application/json``)::

    {"version": 1, "type": "alert", "chat_id": -100123, "sent_at": "2026-11-25T12:00:00+00:00",
     "channel": {"id": 1234567, "username": "rybar", "title": "Рыбарь"},
     "post": {"id": 6512, "url": "https://t.me/rybar/6512",
              "date": "2026-11-25T11:59:30+00:00", "text": "…full text…", "views": 12300,
              "media": "photo", "forwarded_from": null, "edited": false},
     "rules": [{"number": 1, "expression": "дрон* AND Шебекино"}],
     "matched": ["дроны", "Шебекино"], "places": ["Шебекино"], "late": null}

- ``version``: the payload version; fields are only ever added within a version.
- ``type``: ``"alert"``, or ``"test"`` for the event ``/webhook test`` sends, which has only
  ``version``, ``type``, ``chat_id``, ``sent_at`` and ``"text": "chanwatch webhook test"``.
- ``sent_at``, ``post.date``: ISO 8601 with a UTC offset. ``post.text`` is the full text
  (``""`` for a post without text; ``post.media`` then names what it is: photo, video, …).
  ``post.edited``: the alert was made by an edit. ``forwarded_from``: null or the origin.
- ``rules``: every rule of the chat that fired; ``matched``: the words that matched;
  ``places``: places recognised in the post; ``late``: null, or a note for a post found late,
  like ``"⏱ 12 min late: found when catching up"``.

Deliveries are at least once: an event whose answer was lost is sent again. 2xx is success,
429 waits for ``Retry-After`` (default 60 s, at most 1 h), other 4xx and 3xx stop the webhook,
5xx and network trouble retry with backoff.

The other formats, each a summary of the same event:

- ``slack`` (Slack incoming webhooks, Mattermost): ``{"text": "<mrkdwn>"}`` with the channel
  title linked to the post; the post text is cut to 3,000 characters.
- ``discord``: ``{"content": <summary ≤ 2,000>, "embeds": [{"title", "url", "description"
  (post text ≤ 4,096), "timestamp"}], "allowed_mentions": {"parse": []}}`` — the post cannot
  ping ``@everyone``.
- ``ntfy``: the summary as a plain-text body of at most 4,096 bytes (ntfy's message limit;
  longer bodies would turn into attachments), with headers ``Title`` (the channel title),
  ``Click`` (the post) and ``Tags``. HTTP header values are Latin-1 at best, so a title with
  other characters is sent as RFC 2047 encoded words (``=?utf-8?b?…?=``), which the ntfy
  server decodes for every parameter header.

Lengths are counted in UTF-16 units (as JavaScript-based services count them; never fewer
than characters) or, for ntfy, in UTF-8 bytes; a cut never splits a character or separates a
base letter from its combining marks, and ends with "…".

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
import datetime as dt
import email.utils
import ipaddress
import json
import logging
import math
import re
import socket
import time
import unicodedata
import urllib.request
from base64 import b64encode
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from bot.render import human_delay
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
SLACK_TEXT_CHARS = 3000
DISCORD_CONTENT_CHARS = 2000
DISCORD_TITLE_CHARS = 256
DISCORD_DESCRIPTION_CHARS = 4096
NTFY_BODY_BYTES = 4096
NTFY_TITLE_CHARS = 200
ELLIPSIS = "…"

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


# --- Payloads ----------------------------------------------------------------------------


def _utf16_units(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def _utf8_bytes(ch: str) -> int:
    return len(ch.encode("utf-8", "replace"))


def _glued(text: str, cut: int) -> bool:
    """Whether cutting ``text`` at ``cut`` would tear a character from what modifies it."""
    after = text[cut] if cut < len(text) else ""
    before = text[cut - 1] if cut > 0 else ""
    return bool(after) and (
        unicodedata.combining(after) > 0
        or unicodedata.category(after) in ("Mn", "Me")
        or after == "\u200d" or before == "\u200d"
        or "\ufe00" <= after <= "\ufe0f" or "\U000e0100" <= after <= "\U000e01ef"
        or "\U0001f3fb" <= after <= "\U0001f3ff"
        or "\U000e0020" <= after <= "\U000e007f"
        or ("\U0001f1e6" <= before <= "\U0001f1ff" and "\U0001f1e6" <= after <= "\U0001f1ff")
    )


def clip(text: str, limit: int, *, unit: Literal["utf16", "utf8"] = "utf16") -> str:
    """``text`` cut to at most ``limit`` UTF-16 units (or UTF-8 bytes), ending with "…".

    The cut falls between characters (never inside a surrogate pair or a UTF-8 sequence) and
    never separates a letter from its combining marks or an emoji from its modifiers.
    """
    size = _utf16_units if unit == "utf16" else _utf8_bytes
    if sum(map(size, text)) <= limit:
        return text
    budget = limit - size(ELLIPSIS)
    used = cut = 0
    for ch in text:
        used += size(ch)
        if used > budget:
            break
        cut += 1
    while cut > 0 and _glued(text, cut):
        cut -= 1
    return text[:cut].rstrip() + ELLIPSIS if budget >= 0 else ""


@dataclass(frozen=True)
class _Facts:
    """What the summaries say, read defensively from an event."""

    test: bool
    title: str
    url: str | None
    date: str | None
    text: str
    media: str | None
    edited: bool
    forwarded_from: str | None
    late: str | None
    places: list[str]
    rules: list[tuple[str, str]]


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _late(value: Any) -> str | None:
    """The event's ``late`` note (a text; a number of seconds is accepted too)."""
    if value is None or value is False:
        return None
    if isinstance(value, bool):
        return "late"
    if isinstance(value, int | float):
        return f"{human_delay(dt.timedelta(seconds=float(value)))} late"
    return _text(value) or "late"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _facts(event: dict[str, Any]) -> _Facts:
    channel = _mapping(event.get("channel"))
    post = _mapping(event.get("post"))
    username = _text(channel.get("username"))
    title = _text(channel.get("title")) or (f"@{username}" if username else None)
    url = _text(post.get("url"))
    if url is not None and not url.lower().startswith(("https://", "http://")):
        url = None
    rules: list[tuple[str, str]] = []
    for rule in event.get("rules") or ():
        if isinstance(rule, dict):
            number = rule.get("number")
            rules.append((f"#{number}" if number is not None else "",
                          str(rule.get("expression") or "")))
    places = [str(p) for p in event.get("places") or () if p]
    forwarded = post.get("forwarded_from")
    if isinstance(forwarded, dict):
        forwarded = forwarded.get("title") or forwarded.get("username")
    return _Facts(
        test=event.get("type") == "test",
        title=" ".join((title or "chanwatch").split()),
        url=url,
        date=_text(post.get("date")),
        text=text if isinstance(text := post.get("text"), str) else "",
        media=_text(post.get("media")),
        edited=post.get("edited") is True,
        forwarded_from=_text(str(forwarded)) if forwarded else None,
        late=_late(event.get("late")),
        places=list(dict.fromkeys(places)),
        rules=rules,
    )


def _notes(facts: _Facts) -> list[str]:
    """The lines saying what is unusual about the alert (plain text)."""
    lines = []
    if facts.test:
        lines.append("🧪 Test from chanwatch: this webhook works.")
    if facts.late:
        lines.append(facts.late if facts.late.startswith("⏱") else f"⏱ {facts.late}")
    if facts.edited:
        lines.append("✏️ edited post")
    if facts.forwarded_from:
        lines.append(f"↪ forwarded from {facts.forwarded_from}")
    if facts.places:
        lines.append("📍 " + "; ".join(facts.places))
    return lines


def _rules_line(facts: _Facts, code: Callable[[str], str]) -> str | None:
    if not facts.rules:
        return None
    names = ", ".join(f"{n} {code(e)}".strip() for n, e in facts.rules)
    return ("Rule " if len(facts.rules) == 1 else "Rules ") + names


def _body_text(facts: _Facts) -> str:
    """The post's text, or what kind of post it is when it has none."""
    if facts.text.strip():
        return facts.text.strip()
    return f"[{facts.media or 'no text'}]" if not facts.test else ""


def _icon(facts: _Facts) -> str:
    return "🧪" if facts.test else "🔔"


def _json_body(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8", "replace")  # lone surrogates (broken input) become "?"


def _shape_json(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    return {"Content-Type": "application/json; charset=utf-8"}, _json_body(event)


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _shape_slack(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    facts = _facts(event)
    title = _slack_escape(facts.title)
    head = f"<{_slack_escape(facts.url)}|{title}>" if facts.url else title
    lines = [f"{_icon(facts)} *{head}*", *map(_slack_escape, _notes(facts))]
    if body := _body_text(facts):
        lines.append(_slack_escape(clip(body, SLACK_TEXT_CHARS)))
    if rules := _rules_line(facts, lambda e: f"`{_slack_escape(e.replace('`', 'ˋ'))}`"):
        lines.append(rules)
    return ({"Content-Type": "application/json; charset=utf-8"},
            _json_body({"text": "\n".join(lines)}))


_DISCORD_SPECIAL = re.compile(r"([\\*_~`|>\[\]()#-])")


def _discord_escape(text: str) -> str:
    return _DISCORD_SPECIAL.sub(r"\\\1", text)


def _shape_discord(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    facts = _facts(event)
    lines = [f"{_icon(facts)} **{_discord_escape(facts.title)}**",
             *map(_discord_escape, _notes(facts))]
    if rules := _rules_line(facts, lambda e: f"`{e.replace('`', 'ˋ')}`"):
        lines.append(rules)
    embed: dict[str, Any] = {"title": clip(facts.title, DISCORD_TITLE_CHARS)}
    if facts.url:
        embed["url"] = facts.url
    if body := _body_text(facts):
        embed["description"] = clip(body, DISCORD_DESCRIPTION_CHARS)
    if facts.date:
        embed["timestamp"] = facts.date
    payload = {
        "content": clip("\n".join(lines), DISCORD_CONTENT_CHARS),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},  # "@everyone" in a post pings nobody
    }
    return {"Content-Type": "application/json; charset=utf-8"}, _json_body(payload)


def _header_value(text: str) -> str:
    """A header value ntfy reads back as ``text``: ASCII as is, anything else RFC 2047."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if text.isascii() and "=?" not in text:
        return text
    words: list[bytes] = []
    chunk = b""
    for ch in text:  # each encoded word ≤ 75 characters, never splitting a character
        data = ch.encode("utf-8", "replace")
        if len(chunk) + len(data) > 45:
            words.append(chunk)
            chunk = b""
        chunk += data
    words.append(chunk)
    return " ".join(f"=?utf-8?b?{b64encode(w).decode('ascii')}?=" for w in words if w)


def _shape_ntfy(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    facts = _facts(event)
    headers = {
        "Content-Type": "text/plain; charset=utf-8",
        "Title": _header_value(clip(facts.title, NTFY_TITLE_CHARS)),
        "Tags": "test_tube" if facts.test else "bell",
    }
    if facts.url and facts.url.isascii() and facts.url.isprintable():
        headers["Click"] = facts.url
    tail = [line for line in (_rules_line(facts, str), facts.url) if line]
    head = _notes(facts)
    fixed = "\n".join([*head, *tail])
    body = _body_text(facts)
    if body:
        room = NTFY_BODY_BYTES - len(fixed.encode("utf-8", "replace")) - 2
        body = clip(body, max(room, 0), unit="utf8")
    message = "\n".join(part for part in ("\n".join(head), body, "\n".join(tail)) if part)
    message = clip(message or facts.title, NTFY_BODY_BYTES, unit="utf8")
    return headers, message.encode("utf-8", "replace")


_SHAPES: dict[str, Callable[[dict[str, Any]], tuple[dict[str, str], bytes]]] = {
    "json": _shape_json,
    "slack": _shape_slack,
    "discord": _shape_discord,
    "ntfy": _shape_ntfy,
}


def shape(fmt: str, event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """The headers and body that deliver ``event`` in format ``fmt`` (one of FORMATS).

    Header values are always ASCII. Missing or odd fields of the event are tolerated (a test
    event may carry no post). Raises ValueError for an unknown format.
    """
    try:
        shaper = _SHAPES[fmt]
    except KeyError:
        raise ValueError(f"unknown webhook format {fmt!r}; use one of {', '.join(FORMATS)}") \
            from None
    return shaper(event)


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

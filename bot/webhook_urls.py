"""What a webhook may be: its formats and the syntax of its URL (pure rules, no I/O).

Shared by the settings (``WEBHOOK_URL``, ``WEBHOOK_FORMAT``) and by the webhook sender in
:mod:`bot.http.webhooks`, which adds the checks that need the network (resolving the host,
refusing private addresses) and the delivery itself.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING

from bot.models import WebhookFormat

if TYPE_CHECKING:
    import httpx

FORMATS = tuple(f.value for f in WebhookFormat)  # json, slack, discord, ntfy
MAX_URL_LENGTH = 2000
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")


class WebhookURLError(ValueError):
    """A webhook URL that cannot be used; the message is fit to show to the subscriber."""


def parse_url(url: str) -> httpx.URL:
    """Check the syntax of a webhook URL and return it parsed, host normalised."""
    import httpx  # here: the settings import this module, and the CLI starts without httpx

    if not isinstance(url, str) or not url.strip():
        raise WebhookURLError("Give the webhook URL, like https://example.com/hook.")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise WebhookURLError(f"That URL is too long (at most {MAX_URL_LENGTH} characters).")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in url):
        raise WebhookURLError("A URL cannot contain spaces, control characters or backslashes.")
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", url):
        raise WebhookURLError("That is not a URL: it must start with https:// or http://.")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, UnicodeError):
        raise WebhookURLError("That is not a valid URL.") from None
    if parsed.scheme not in ("http", "https"):
        raise WebhookURLError("Only http:// and https:// webhook URLs are supported.")
    if parsed.userinfo:
        raise WebhookURLError(
            "Put no user name or password in the URL (user:password@host); use the token "
            "in the path or query that the service gives you."
        )
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise WebhookURLError("That URL has an impossible port number.")
    host = _normal_host(parsed.raw_host.decode("ascii"))
    parsed = parsed.copy_with(host=host)
    # scheme, host and port as httpx sends them, path "/" if there was none, no fragment
    return httpx.URL(f"{parsed.scheme}://{parsed.netloc.decode('ascii')}"
                     f"{parsed.raw_path.decode('ascii')}")


def _normal_host(host: str) -> str:
    """The host of a URL checked and lower-cased (raises WebhookURLError)."""
    if not host:
        raise WebhookURLError("That URL has no host name.")
    if ":" in host:  # an IPv6 literal (httpx has removed the brackets)
        if "%" in host:
            raise WebhookURLError("IPv6 zone ids are not supported in webhook URLs.")
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            raise WebhookURLError("That URL has an invalid IPv6 address.") from None
    host = host.lower().removesuffix(".")
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise WebhookURLError("That URL has an invalid host name.")
    if _NUMERIC_LABEL.match(labels[-1]):  # an IPv4 address, perhaps in an exotic notation
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise WebhookURLError(
                "Write IP addresses in the usual dotted form, like 203.0.113.7."
            ) from None
    return host


def check_url_syntax(url: str) -> str:
    """Check a webhook URL's form and return it normalised; raise WebhookURLError if unfit.

    Accepted: ``http``/``https``, a host (a DNS name, internationalised names converted to
    their ASCII form, or an IP address in the usual notation), a port in range, at most
    2,000 characters. Refused: other schemes, credentials (``user:pw@``), whitespace, control
    characters and backslashes, IPv6 zone ids, numeric hosts in other notations than the
    dotted quad. The normalised URL has a lower-case scheme and host, no default port, path
    ``/`` when it had none, and no fragment. Path and query (where tokens live) are kept.
    """
    return str(parse_url(url))

"""The one shared HTTP client: explicit timeouts and connection limits, a descriptive agent."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import httpx


def user_agent() -> str:
    """``chanwatch/<version> (+self-hosted Telegram channel monitor)``."""
    try:
        ours = version("chanwatch")
    except PackageNotFoundError:  # running from a source tree that is not installed
        ours = "dev"
    return f"chanwatch/{ours} (self-hosted Telegram channel monitor; httpx/{httpx.__version__})"


def make_http_client(timeout: float, *, max_connections: int = 20) -> httpx.AsyncClient:
    """The app's client for preview pages, webhooks and translations (closed at shutdown).

    Redirects are not followed: a webhook must not be bounced into a private network, and a
    preview page that redirects means its preview is disabled (the poller looks at that).
    """
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=10,
                            keepalive_expiry=30.0),
        headers={"User-Agent": user_agent()},
        follow_redirects=False,  # HTTPS_PROXY and friends are honoured (trust_env)
    )

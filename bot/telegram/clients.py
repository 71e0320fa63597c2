"""Building the two Telethon clients from settings; session files kept private (0600)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from telethon import TelegramClient
from telethon.sessions import SQLiteSession

from bot import __version__
from bot.config import Settings


class NotLoggedIn(RuntimeError):
    """The user account has no authorised session; ``chanwatch login`` must run first."""


class ChanwatchClient(TelegramClient):  # type: ignore[misc]
    """TelegramClient that tells chanwatch when it has reconnected by itself.

    Telethon 1.45 reconnects automatically but does not catch up afterwards (its catch-up code
    after the reconnect is unreachable), so chanwatch runs its reconciler instead. The hook is
    Telethon's private ``_handle_auto_reconnect``; tests/test_telegram_convert.py keeps a
    tripwire on it.
    """

    on_reconnect: Callable[[], Awaitable[None]] | None = None

    async def _handle_auto_reconnect(self) -> None:
        await super()._handle_auto_reconnect()
        if self.on_reconnect is not None:
            await self.on_reconnect()


def private_file(path: Path) -> None:
    """Create ``path`` with mode 0600 if needed (before SQLite opens it) and enforce the mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def session_has_key(path: Path) -> bool:
    """True if the session file exists and holds an auth key (without any network)."""
    if not path.is_file() or path.stat().st_size == 0:
        return False
    session = SQLiteSession(str(path))
    try:
        # A saved but never-connected session stores an empty key (AuthKey(b"")).
        key = session.auth_key
        return key is not None and bool(key.key)
    finally:
        session.close()


def make_client(
    settings: Settings, session_path: Path, *, flood_sleep_threshold: int, **options: Any
) -> ChanwatchClient:
    """A Telethon client on a SQLite session file in DATA_DIR."""
    private_file(session_path)
    return ChanwatchClient(
        str(session_path),
        settings.api_id,
        settings.api_hash.value,
        flood_sleep_threshold=flood_sleep_threshold,
        device_model="chanwatch",
        app_version=__version__,
        receive_updates=True,
        **options,
    )


async def disconnect(client: TelegramClient) -> None:
    """Disconnect a client (Telethon returns a coroutine only while the loop runs)."""
    result = client.disconnect()
    if result is not None:
        await result

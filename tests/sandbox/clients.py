"""What the fake Telegram's own tests share besides fixtures: credentials, client helpers."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from typing import Any

from telethon import TelegramClient

from bot.sandbox import Account
from tests.support.harness import API_HASH, BOT_TOKEN

API_ID = 12345
ClientFactory = Callable[..., Awaitable[TelegramClient]]

__all__ = ["API_HASH", "API_ID", "BOT_TOKEN", "ClientFactory", "named", "start_bot"]


async def start_bot(client_for: ClientFactory, account: Account, **kwargs: Any) -> TelegramClient:
    bot = await client_for(account, connect=False, **kwargs)
    await bot.start(bot_token=BOT_TOKEN)
    return bot


def named(data: bytes, name: str) -> io.BytesIO:
    """An in-memory file with a name (Telethon sends .png/.jpg streams as photos)."""
    stream = io.BytesIO(data)
    stream.name = name
    return stream

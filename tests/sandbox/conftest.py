"""Fixtures of the fake Telegram's own tests: the server, its world, clients, a channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telethon import TelegramClient

from bot.sandbox import Account, FakeChannel, FakeTelegram, World
from tests.sandbox.clients import API_HASH, API_ID, BOT_TOKEN, ClientFactory


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    fake = await FakeTelegram.start()
    yield fake
    await fake.stop()
    # Every request the clients made must have been scripted, in every test.
    assert fake.world.unscripted == []
    assert fake.errors == []


@pytest.fixture
def world(fake: FakeTelegram) -> World:
    return fake.world


@pytest.fixture
async def client_for(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[ClientFactory]:
    """Factory: a TelegramClient whose session file points at the fake with the account's key."""
    clients: list[TelegramClient] = []

    async def make(account: Account, *, connect: bool = True, **kwargs: Any) -> TelegramClient:
        path = tmp_path / f"{account.user.id}-{len(clients)}.session"
        fake.write_session(account, path)
        client = TelegramClient(str(path), API_ID, API_HASH, receive_updates=True, **kwargs)
        clients.append(client)
        if connect:
            await client.connect()
        return client

    yield make
    for client in clients:
        await client.disconnect()


@pytest.fixture
def news(world: World) -> FakeChannel:
    return world.add_channel(1234567, "Новости Тест", "news_test")


@pytest.fixture
def reader(world: World, news: FakeChannel) -> Account:
    """A logged-in user account subscribed to `news`."""
    account = world.add_account(world.add_user(1000, "Монитор"))
    account.channels.add(news.id)
    return account


@pytest.fixture
def bot_account(world: World) -> Account:
    """The bot's login (logged out until it imports BOT_TOKEN)."""
    return world.add_account(world.add_user(424242, "AlertBot", "alert_bot", bot=True),
                             bot_token=BOT_TOKEN)

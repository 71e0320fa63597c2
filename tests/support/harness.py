"""Test harness: chanwatch's real composition root against the loopback fake Telegram.

Real Telethon clients (user and bot) connect over 127.0.0.1, encrypt, receive pushed updates
and send requests; the only test hook is the pair of session files in DATA_DIR.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest_asyncio
from telethon.tl import types

from bot.app import App
from bot.config import settings_from_mapping
from bot.match import Lemmatizer
from bot.regions.places import PlaceMatcher
from bot.sandbox import FakeTelegram, World
from bot.sandbox.world import Account, FakeChannel, SentMessage

ADMIN, STRANGER, MEMBER = 500, 700, 600
BOT_TOKEN = "424242:TEST-TOKEN"
API_HASH = "0123456789abcdef0123456789abcdef"


@dataclass
class Env:
    """A fake Telegram with a user account, a bot, an admin, a stranger and one channel."""

    fake: FakeTelegram
    world: World
    admin: types.User
    stranger: types.User
    bot: Account
    user_account: Account
    news: FakeChannel
    data_dir: Path
    lemmatizer: Lemmatizer
    settings: dict[str, str] = field(default_factory=dict)
    app: App | None = None

    @property
    def running(self) -> App:
        assert self.app is not None, "the app is not running"
        return self.app

    async def start_app(self) -> App:
        """Start chanwatch's composition root on this data directory."""
        env = settings_env(self.data_dir) | self.settings
        self.app = App(settings_from_mapping(env), lemmatizer=self.lemmatizer,
                       places=PlaceMatcher.shared(self.lemmatizer))
        await self.app.start()
        self.app.user.history_pause = 0  # no pacing between history pages in tests
        return self.app

    async def stop_app(self) -> None:
        if self.app is not None:
            await self.app.stop()
            self.app = None

    def say(self, user: types.User, text: str) -> None:
        self.world.private_message(self.bot, user, text)

    def texts_to(self, user_id: int) -> list[str]:
        return [m.text for m in self.world.sent_to(user_id)]

    def alerts_to(self, user_id: int) -> list[SentMessage]:
        return [m for m in self.world.sent_to(user_id) if m.text.startswith("🔔")]

    def notices_to(self, user_id: int) -> list[str]:
        """What the bot said on its own initiative (not replies, not alerts)."""
        return [m.text for m in self.world.sent_to(user_id)
                if m.reply_to is None and not m.text.startswith("🔔")]

    async def count(self, sql: str, *params: object) -> int:
        row = await self.running.database.fetchone(sql, params)
        assert row is not None
        return int(row[0])


async def wait_for(predicate: Callable[[], object], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the condition")
        await asyncio.sleep(0.02)


async def wait_until(probe: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Like wait_for, for conditions that need the database."""
    deadline = time.monotonic() + within
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the condition")
        await asyncio.sleep(0.05)


async def ask(env: Env, user: types.User, text: str) -> str:
    """Send a command as ``user`` and return the bot's reply to it."""
    message = env.world.private_message(env.bot, user, text)

    def reply() -> SentMessage | None:
        return next((m for m in env.world.sent_to(user.id) if m.reply_to == message.id), None)

    await wait_for(reply)
    answer = reply()
    assert answer is not None
    return answer.text


def build_world(fake: FakeTelegram, data_dir: Path) -> tuple[World, dict[str, Account]]:
    world = fake.world
    me = world.add_user(1000, "Монитор")
    bot_user = world.add_user(424242, "chanwatch", "chanwatch_bot", bot=True)
    user_acc = world.add_account(me)
    bot_acc = world.add_account(bot_user, bot_token=BOT_TOKEN)
    fake.write_session(user_acc, data_dir / "user.session")
    fake.write_session(bot_acc, data_dir / "bot.session")
    return world, {"user": user_acc, "bot": bot_acc}


def settings_env(data_dir: Path) -> dict[str, str]:
    return {"TG_API_ID": "12345", "TG_API_HASH": API_HASH, "TG_BOT_TOKEN": BOT_TOKEN,
            "ADMIN_IDS": str(ADMIN), "DATA_DIR": str(data_dir), "TIMEZONE": "Europe/Kyiv"}


@pytest_asyncio.fixture
async def env(tmp_path: Path, lemmatizer: Lemmatizer) -> AsyncIterator[Env]:
    """The world plus a running chanwatch; everything is stopped and checked afterwards."""
    fake = await FakeTelegram.start()
    try:
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        world, accounts = build_world(fake, data_dir)
        admin = world.add_user(ADMIN, "Админ", "admin_person")
        stranger = world.add_user(STRANGER, "Чужой")
        news = world.add_channel(1234567, "Новости <Тест> & Co", "news_test")
        world.add_channel(7654321, "Закрытый", "closed_chan")
        world.post(news, "Старый пост до подписки про Белгород", deliver=False)
        setup = Env(fake, world, admin, stranger, accounts["bot"], accounts["user"], news,
                    data_dir, lemmatizer)
        await setup.start_app()
        try:
            yield setup
        finally:
            await setup.stop_app()
    finally:
        await fake.stop()
    assert world.unscripted == [], world.unscripted
    assert fake.errors == [], fake.errors

"""End to end: chanwatch's real composition root against the loopback fake Telegram.

Real Telethon clients (user and bot) connect over 127.0.0.1, encrypt, receive pushed updates
and send requests; the only test hook is the pair of session files in DATA_DIR.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest_asyncio
from telethon.tl import functions, types

from bot.app import App
from bot.config import settings_from_mapping
from bot.match import Lemmatizer
from bot.sandbox import FakeTelegram, World
from bot.sandbox.world import Account, FakeChannel, SentMessage

ADMIN, STRANGER, MEMBER = 500, 700, 600
BOT_TOKEN = "424242:TEST-TOKEN"
API_HASH = "0123456789abcdef0123456789abcdef"


@dataclass
class Env:
    fake: FakeTelegram
    world: World
    app: App
    admin: types.User
    stranger: types.User
    bot: Account
    news: FakeChannel
    data_dir: Path

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


async def wait_for(predicate: Callable[[], object], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the condition")
        await asyncio.sleep(0.02)


async def ask(env: Env, user: types.User, text: str) -> str:
    """Send a command as ``user`` and return the bot's reply to it."""
    message = env.world.private_message(env.bot, user, text)

    def reply() -> SentMessage | None:
        return next((m for m in env.world.sent_to(user.id) if m.reply_to == message.id), None)

    await wait_for(reply)
    answer = reply()
    assert answer is not None
    return answer.text


def build_world(fake: FakeTelegram, data_dir: Path) -> tuple[World, dict[str, object]]:
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
        app = App(settings_from_mapping(settings_env(data_dir)), lemmatizer=lemmatizer)
        await app.start()
        bot = accounts["bot"]
        assert isinstance(bot, Account)
        try:
            yield Env(fake, world, app, admin, stranger, bot, news, data_dir)
        finally:
            await app.stop()
    finally:
        await fake.stop()
    assert world.unscripted == [], world.unscripted


async def test_watch_alert_post_reaches_admin_as_escaped_html(env: Env) -> None:
    reply = await ask(env, env.admin, "/watch @news_test")
    assert reply == (
        "👁 Watching Новости <Тест> & Co (@news_test). New posts are matched from now on;"
        " the last 200 posts are being stored without alerts.")
    reply = await ask(env, env.admin, "/alert Белгород")
    assert reply.startswith("✅ Rule #1 saved. Understood as: белгород")

    hit = env.world.post(env.news, "Сбит беспилотник над Белгородом")
    env.world.post(env.news, "Курс рубля и погода на выходные")
    await wait_for(lambda: env.alerts_to(ADMIN))
    await asyncio.sleep(0.3)  # give a wrong second alert the chance to show up
    alerts = env.alerts_to(ADMIN)
    assert len(alerts) == 1
    alert = alerts[0]
    link = f"https://t.me/news_test/{hit.id}"
    assert alert.html.splitlines()[1:] == [
        "Сбит беспилотник над <strong>Белгородом</strong>",
        f'<a href="{link}">{link}</a>',
        "Rule #1 <code>Белгород</code>",
    ]
    assert alert.text.splitlines()[0].startswith("🔔 Новости <Тест> & Co · ")
    assert alert.text.splitlines()[0].endswith(("EET", "EEST"))  # the admin's TIMEZONE
    assert alert.no_webpage and alert.random_id != 0
    rows = await env.app.store.db.fetchall(
        "SELECT status, random_id FROM outbox WHERE kind = 'alert'")
    assert [(r["status"], r["random_id"]) for r in rows] == [("sent", alert.random_id)]
    posts = await env.app.store.db.fetchall(
        "SELECT message_id, permalink, source FROM posts ORDER BY 1")
    # the post from before /watch (it mentions Белгород too) is backfilled without an alert
    assert [tuple(r) for r in posts] == [
        (1, "https://t.me/news_test/1", "backfill"), (hit.id, link, "live"),
        (hit.id + 1, f"https://t.me/news_test/{hit.id + 1}", "live")]
    channel = await env.app.store.channel(env.news.id)
    assert channel is not None and channel.cursor == hit.id + 1


async def test_html_in_posts_arrives_escaped(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/alert Белгород")
    text = 'Белгород: <a href="https://evil.example/x">жми</a> & <b>жирный</b>'
    env.world.post(env.news, text)
    await wait_for(lambda: env.alerts_to(ADMIN))
    alert = env.alerts_to(ADMIN)[0]
    assert text[len("Белгород"):] in alert.text  # shown literally, as the channel wrote it
    urls = [getattr(e, "url", None) for e in alert.entities]
    assert "https://evil.example/x" not in urls
    assert [type(e).__name__ for e in alert.entities if not isinstance(
        e, (types.MessageEntityBold, types.MessageEntityCode))] == ["MessageEntityTextUrl"]


async def test_one_alert_per_chat_however_many_rules_match(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/alert Белгород")
    await ask(env, env.admin, "/alert беспилотник")
    env.world.post(env.news, "Беспилотник над Белгородом")
    await wait_for(lambda: env.alerts_to(ADMIN))
    await asyncio.sleep(0.3)
    alerts = env.alerts_to(ADMIN)
    assert len(alerts) == 1
    assert alerts[0].html.splitlines()[-1] == (
        "Rules #1 <code>Белгород</code>, #2 <code>беспилотник</code>")


async def test_stranger_is_refused_and_nothing_happens(env: Env) -> None:
    reply = await ask(env, env.stranger, "/watch @news_test")
    assert reply.startswith("Sorry, this chanwatch instance is private.")
    assert str(STRANGER) in reply
    env.say(env.stranger, "/alert Белгород")
    await asyncio.sleep(0.5)
    assert len(env.texts_to(STRANGER)) == 1  # one refusal, then silence
    assert await env.app.store.active_channels() == []
    assert (await env.app.store.db.fetchone("SELECT COUNT(*) FROM rules"))[0] == 0  # type: ignore[index]


async def test_watch_errors_are_clear(env: Env) -> None:
    assert await ask(env, env.admin, "/watch @nobody_here") == "⚠️ @nobody_here does not exist."
    assert await ask(env, env.admin, "/watch @admin_person") == (
        "⚠️ @admin_person is a user, not a channel.")
    assert await ask(env, env.admin, "/watch @chanwatch_bot") == (
        "⚠️ @chanwatch_bot is a bot, not a channel.")
    # the account was banned there: Telegram refuses the join
    env.world.rpc_errors[functions.channels.JoinChannelRequest] = types.RpcError(
        400, "CHANNEL_PRIVATE")
    assert await ask(env, env.admin, "/watch @closed_chan") == (
        "⚠️ Закрытый is private: the account cannot join it.")
    assert await ask(env, env.admin, "/watch https://t.me/+secret") == (
        "⚠️ Invite links to private channels are not supported yet.")
    assert await env.app.store.active_channels() == []


async def test_channels_lists_counts_and_unwatch_keeps_posts(env: Env) -> None:
    await ask(env, env.admin, "/watch https://t.me/news_test")
    env.world.post(env.news, "первый")
    env.world.post(env.news, "второй")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        row = await env.app.store.db.fetchone("SELECT COUNT(*) FROM posts")
        if row and row[0] == 3:
            break
        await asyncio.sleep(0.05)
    listing = await ask(env, env.admin, "/channels")
    assert listing.startswith("Channels\n• Новости <Тест> & Co @news_test — 3 posts, last ")
    assert await ask(env, env.admin, "/unwatch @news_test") == (
        "Stopped watching Новости <Тест> & Co. Its stored posts are kept.")
    env.world.post(env.news, "после отписки")
    await asyncio.sleep(0.3)
    row = await env.app.store.db.fetchone("SELECT COUNT(*) FROM posts")
    assert row is not None and row[0] == 3
    assert "[unwatched]" in await ask(env, env.admin, "/channels")


async def test_bot_commands_are_registered_with_telegram(env: Env) -> None:
    names = [c.command for c in env.world.bot_commands]
    assert names[:2] == ["start", "help"] and "watch" in names and "alert" in names


async def test_session_files_are_private(env: Env) -> None:
    for name in ("user.session", "bot.session"):
        assert (env.data_dir / name).stat().st_mode & 0o777 == 0o600


async def test_group_chat_holds_its_own_rules_and_gets_alerts(env: Env) -> None:
    group_id = 4242
    await ask(env, env.admin, "/watch @news_test")

    def group_says(text: str) -> None:
        env.world.group_message(env.bot, group_id, env.admin, text, title="OSINT team")

    group_says("/watch @news_test")
    await wait_for(lambda: env.world.sent_to(group_id))
    assert env.world.sent_to(group_id)[0].text == "/watch works only in a private chat with me."
    group_says("/alert Шебекино")
    await wait_for(lambda: len(env.world.sent_to(group_id)) == 2)
    assert env.world.sent_to(group_id)[1].text.startswith("✅ Rule #1 saved.")
    env.world.post(env.news, "Обстрел Шебекино утром")
    await wait_for(lambda: len(env.world.sent_to(group_id)) == 3)
    assert "<strong>Шебекино</strong>" in env.world.sent_to(group_id)[2].html
    chat = await env.app.store.chat(-group_id)
    assert chat is not None and chat.kind.value == "group" and chat.title == "OSINT team"
    # the admin's private chat has no rules, so it got no alert
    assert not any(t.startswith("🔔") for t in env.texts_to(ADMIN))

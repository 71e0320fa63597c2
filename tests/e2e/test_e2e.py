"""End to end: an admin watches a channel, sets a rule, and the channel's post alerts them."""

from __future__ import annotations

import asyncio
import time

from telethon.tl import functions, types

from tests.support.harness import ADMIN, STRANGER, Env, ask, wait_for


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
    rows = await env.running.database.fetchall(
        "SELECT status, random_id FROM outbox WHERE kind = 'alert'")
    assert [(r["status"], r["random_id"]) for r in rows] == [("sent", alert.random_id)]
    posts = await env.running.database.fetchall(
        "SELECT message_id, permalink, source FROM posts ORDER BY 1")
    # the post from before /watch (it mentions Белгород too) is backfilled without an alert
    assert [tuple(r) for r in posts] == [
        (1, "https://t.me/news_test/1", "backfill"), (hit.id, link, "live"),
        (hit.id + 1, f"https://t.me/news_test/{hit.id + 1}", "live")]
    channel = await env.running.store.channels.get(env.news.id)
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
    assert await env.running.store.channels.active() == []
    assert (await env.running.database.fetchone("SELECT COUNT(*) FROM rules"))[0] == 0  # type: ignore[index]


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
    assert await env.running.store.channels.active() == []


async def test_channels_lists_counts_and_unwatch_keeps_posts(env: Env) -> None:
    await ask(env, env.admin, "/watch https://t.me/news_test")
    env.world.post(env.news, "первый")
    env.world.post(env.news, "второй")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        row = await env.running.database.fetchone("SELECT COUNT(*) FROM posts")
        if row and row[0] == 3:
            break
        await asyncio.sleep(0.05)
    listing = await ask(env, env.admin, "/channels")
    assert listing.startswith("Channels\n• Новости <Тест> & Co @news_test — 3 posts, last ")
    assert await ask(env, env.admin, "/unwatch @news_test") == (
        "Stopped watching Новости <Тест> & Co. Its stored posts are kept.")
    env.world.post(env.news, "после отписки")
    await asyncio.sleep(0.3)
    row = await env.running.database.fetchone("SELECT COUNT(*) FROM posts")
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
    chat = await env.running.store.chats.get(-group_id)
    assert chat is not None and chat.kind.value == "group" and chat.title == "OSINT team"
    # the admin's private chat has no rules, so it got no alert
    assert not any(t.startswith("🔔") for t in env.texts_to(ADMIN))

"""Webhooks and translated alerts end to end: the real service, the loopback fake Telegram,
and real HTTP servers on 127.0.0.1 (a webhook receiver, a LibreTranslate-compatible server)."""

from __future__ import annotations

import time

from bot.models import Role
from tests.support.harness import ADMIN, Env, ask, wait_for, wait_until
from tests.support.http_receiver import Receiver, Reply
from tests.support.preview_server import PreviewServer
from tests.support.translate_server import TranslateServer

MEMBER = 600


async def restart(env: Env, **settings: str) -> None:
    await env.stop_app()
    env.settings.update(settings)
    await env.start_app()


async def test_webhook_delivery_retries_and_dead_letter(env: Env) -> None:
    async with Receiver() as receiver:
        await restart(env, WEBHOOK_ALLOW_PRIVATE="1")
        await ask(env, env.admin, "/watch @news_test")
        await ask(env, env.admin, "/alert дрон")
        reply = await ask(env, env.admin, f"/webhook add {receiver.url}/hook/secret-token json")
        assert "Webhook #1 (json) → http://127.0.0.1/… added" in reply  # no token shown
        receiver.script("/hook/secret-token", Reply(500), Reply(200))
        post = env.world.post(env.news, "Дрон над Шебекино")
        await wait_for(lambda: env.alerts_to(ADMIN))  # Telegram does not wait for the webhook
        await wait_for(lambda: len(receiver.to("/hook/secret-token")) == 2, within=15)
        event = receiver.to("/hook/secret-token")[-1].json()
        assert event["version"] == 1 and event["type"] == "alert" and event["chat_id"] == ADMIN
        assert event["post"]["text"] == "Дрон над Шебекино"
        assert event["post"]["url"] == f"https://t.me/news_test/{post.id}"
        assert event["rules"] == [{"number": 1, "expression": "дрон"}]
        assert event["matched"] == ["Дрон"]

        async def delivered() -> bool:
            return await env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'webhook'"
                                   " AND status = 'sent'") == 1

        await wait_until(delivered)
        # 429 waits for Retry-After, then goes through
        receiver.script("/hook/secret-token", Reply(429, {"Retry-After": "1"}), Reply(204))
        started = time.monotonic()
        env.world.post(env.news, "Второй дрон")
        await wait_for(lambda: len(receiver.to("/hook/secret-token")) == 4, within=15)
        assert time.monotonic() - started >= 0.9
        # 404 is permanent: dead letter, the webhook stops, the chat is told once
        receiver.script("/hook/secret-token", Reply(404), Reply(404))
        env.world.post(env.news, "Третий дрон")
        env.world.post(env.news, "Четвёртый дрон")
        await wait_for(lambda: any("A webhook of this chat stopped (HTTP 404" in t
                                   for t in env.notices_to(ADMIN)), within=15)
        assert "stopped: HTTP 404" in await ask(env, env.admin, "/webhook list")
        assert len(receiver.to("/hook/secret-token")) == 5  # nothing more after the 404
        # Telegram alerts unaffected throughout (the last may still wait out a flood wait the
        # fake answered: replies to commands share the chat's limit)
        await wait_for(lambda: len(env.alerts_to(ADMIN)) == 4, within=10)
        assert len([t for t in env.notices_to(ADMIN) if "webhook" in t.lower()]) == 1


async def test_webhook_formats_test_event_and_delete(env: Env) -> None:
    async with Receiver() as receiver:
        await restart(env, WEBHOOK_ALLOW_PRIVATE="1")
        await ask(env, env.admin, "/watch @news_test")
        await ask(env, env.admin, "/alert дрон")
        for fmt in ("slack", "discord", "ntfy"):
            assert f"({fmt})" in await ask(env, env.admin,
                                           f"/webhook add {receiver.url}/{fmt} {fmt}")
        assert "3 webhooks" in await ask(env, env.admin, "/webhook test")
        await wait_for(lambda: len(receiver.requests) == 3, within=15)
        assert "this webhook works" in receiver.to("/slack")[0].json()["text"]
        env.world.post(env.news, "Дрон <b>не тег</b>")
        await wait_for(lambda: len(receiver.requests) == 6, within=15)
        slack = receiver.to("/slack")[-1].json()
        discord = receiver.to("/discord")[-1].json()
        ntfy = receiver.to("/ntfy")[-1]
        assert "https://t.me/news_test/" in slack["text"]
        assert len(discord["content"]) <= 2000 and discord["embeds"][0]["url"].startswith(
            "https://t.me/news_test/")
        assert "Дрон <b>не тег</b>" in ntfy.body.decode()
        assert ntfy.headers.get("click", "").startswith("https://t.me/news_test/")
        assert "deleted" in await ask(env, env.admin, "/webhook delete 2")
        assert "#2" not in await ask(env, env.admin, "/webhook list")


async def test_private_webhook_addresses_are_refused_by_default(env: Env) -> None:
    for url in ("http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/hook",
                "http://169.254.169.254/latest", "ftp://example.org/x"):
        reply = await ask(env, env.admin, f"/webhook add {url}")
        assert reply.startswith("⚠️"), (url, reply)
    assert await env.count("SELECT COUNT(*) FROM webhooks") == 0


async def test_operator_webhook_gets_every_alert(env: Env) -> None:
    async with Receiver() as receiver:
        await restart(env, WEBHOOK_URL=f"{receiver.url}/ops", WEBHOOK_ALLOW_PRIVATE="1")
        member = env.world.add_user(MEMBER, "Участник")
        await env.running.store.users.grant(MEMBER, Role.MEMBER, ADMIN)
        await ask(env, env.admin, "/watch @news_test")
        await ask(env, member, "/alert дрон")
        env.world.post(env.news, "Дрон")
        await wait_for(lambda: receiver.to("/ops"), within=15)
        assert receiver.to("/ops")[0].json()["chat_id"] == MEMBER


async def test_translated_alerts_cache_and_timeout(env: Env) -> None:
    server = await TranslateServer.start()
    try:
        await restart(env, TRANSLATE_URL=server.url, TRANSLATE_TIMEOUT="1s")
        member = env.world.add_user(MEMBER, "Участник")
        await env.running.store.users.grant(MEMBER, Role.MEMBER, ADMIN)
        await ask(env, env.admin, "/watch @news_test")
        for user in (env.admin, member):
            await ask(env, user, "/alert дрон")
            assert "carry a translation into en" in await ask(env, user, "/translate en")
        env.world.post(env.news, "Дрон над Шебекино <тест>")
        await wait_for(lambda: env.alerts_to(ADMIN) and env.alerts_to(MEMBER))
        for user_id in (ADMIN, MEMBER):
            (alert,) = env.alerts_to(user_id)
            assert "🌐 EN: [en] Дрон над Шебекино <тест>" in alert.text
        assert server.count == 1  # the second chat's alert used the cache
        # the provider hangs: the alert still arrives, untranslated with a note, on time
        server.delay = 3.0
        started = time.monotonic()
        env.world.post(env.news, "Второй дрон")
        await wait_for(lambda: len(env.alerts_to(ADMIN)) == 2, within=10)
        assert time.monotonic() - started < 2.9
        assert "🌐 translation unavailable: timed out" in env.alerts_to(ADMIN)[-1].text
        assert "no longer translated" in await ask(env, env.admin, "/translate off")
        assert "unknown language" in await ask(env, env.admin, "/translate xx")
    finally:
        await env.stop_app()
        await server.close()


async def test_watch_preview_polls_the_web_preview_and_alerts(env: Env) -> None:
    server = await PreviewServer.start()
    try:
        await restart(env, PREVIEW_BASE_URL=server.url)
        fake = server.channel("rybar_test", "Рыбарь")
        fake.add_many(5)
        fake.add("Старый пост про дрон")  # history: stored without an alert
        await ask(env, env.admin, "/alert дрон")
        reply = await ask(env, env.admin, "/watch @rybar_test preview")
        assert "Watching Рыбарь (@rybar_test) through its web preview" in reply
        app = env.running

        async def stored(n: int) -> bool:
            return await env.count("SELECT COUNT(*) FROM posts p JOIN channels c ON"
                                   " c.id = p.channel_id WHERE c.source = 'preview'") == n

        await wait_until(lambda: stored(6))
        fake.add("Дрон над Белгородом (web preview)")
        fake.add("Без совпадений")
        await app.run_preview()  # the scheduled job
        await wait_for(lambda: env.alerts_to(ADMIN))
        (alert,) = env.alerts_to(ADMIN)
        assert "Дрон над Белгородом (web preview)" in alert.text
        assert "https://t.me/rybar_test/7" in alert.text
        assert await stored(8)
        channels = await ask(env, env.admin, "/channels")
        assert "Рыбарь @rybar_test" in channels
        # the reconciler leaves preview channels alone: it asks Telegram only for live ones
        assert await app.store.channels.active() == []
        # a channel whose preview is off is refused with the advice to watch it live
        server.channel("closed_prev", "Закрытый", preview=False)
        reply = await ask(env, env.admin, "/watch @closed_prev preview")
        assert reply.startswith("⚠️") and "/watch @closed_prev" in reply
        assert "@rybar_test is not being watched" not in await ask(
            env, env.admin, "/unwatch @rybar_test")
    finally:
        await env.stop_app()
        await server.close()

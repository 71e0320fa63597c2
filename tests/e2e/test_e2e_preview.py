"""Web-preview backfill end to end: the real service, the loopback fake Telegram (the admin's
commands and the bot's notices) and a t.me/s-shaped server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt

from tests.support.harness import ADMIN, Env, ask, wait_for
from tests.support.preview_server import FakeChannel, PreviewServer

DRONE = "Сбит дрон над Белгородом"


def notified(env: Env, text: str) -> bool:
    return any(text in t for t in env.notices_to(ADMIN))


async def posts_of(env: Env, username: str) -> list[tuple[int, str]]:
    rows = await env.running.database.fetchall(
        "SELECT p.message_id, p.source FROM posts p JOIN channels c ON c.id = p.channel_id"
        " WHERE c.username = ? ORDER BY p.message_id", (username,))
    return [(r["message_id"], r["source"]) for r in rows]


async def test_watch_preview_backfills_backfill_posts_then_alerts(env: Env) -> None:
    server = await PreviewServer.start()
    try:
        await env.stop_app()
        env.settings.update(PREVIEW_BASE_URL=server.url, BACKFILL_POSTS="60")
        await env.start_app()
        fake = server.channel("rybar_test", "Рыбарь")
        for n in range(1, 101):  # every tenth post matches the rule
            if n % 10 == 0:
                fake.add(DRONE)
            else:
                fake.add_many(1)
        await ask(env, env.admin, "/alert дрон")
        reply = await ask(env, env.admin, "/watch @rybar_test preview")
        assert "Watching Рыбарь (@rybar_test) through its web preview" in reply
        assert "its last 60 posts are being stored without alerts" in reply
        await wait_for(lambda: notified(env, "📚 Backfill of Рыбарь done: 60 earlier posts"
                                              " stored"), within=15)
        assert await posts_of(env, "rybar_test") == [(m, "backfill") for m in range(41, 101)]
        # the probe of /watch, then the backfill: the newest page and two ?before= pages
        assert server.hits("rybar_test") == [{}, {}, {"before": 81}, {"before": 61}]
        assert env.alerts_to(ADMIN) == []
        assert await env.count("SELECT COUNT(*) FROM matches") == 6  # 50, 60, … 100

        # `since DATE`: every post since midnight (TIMEZONE Europe/Kyiv), however many
        dated = server.add_channel(FakeChannel("dated_test", "Сводки"))
        for n in range(10):  # 2026-11-24, before the date
            dated.add_text(f"Старая сводка {n}",
                           date=dt.datetime(2026, 11, 24, 12, n, tzinfo=dt.UTC))
        dated.add_many(70)  # 2026-11-25 from 09:10 UTC
        reply = await ask(env, env.admin, "/watch @dated_test preview since 2026-11-25")
        assert "its posts since 2026-11-25 are being stored without alerts" in reply
        await wait_for(lambda: notified(env, "📚 Backfill of Сводки done: 70 earlier posts"
                                              " stored"), within=15)
        assert await posts_of(env, "dated_test") == [(m, "backfill") for m in range(11, 81)]

        # after the backfill, polling goes on from the newest post, and new posts alert
        fake.add("Дрон над Курском (web preview)")
        await env.running.run_preview()
        await wait_for(lambda: env.alerts_to(ADMIN))
        (alert,) = env.alerts_to(ADMIN)
        assert "Дрон над Курском (web preview)" in alert.text
        assert (await posts_of(env, "rybar_test"))[-1] == (101, "preview")
        assert {"after": 100} in server.hits("rybar_test")
        backfill_notices = [t for t in env.notices_to(ADMIN) if "Backfill" in t]
        assert len(backfill_notices) == 2  # one per channel, no failure, no progress
    finally:
        await env.stop_app()
        await server.close()

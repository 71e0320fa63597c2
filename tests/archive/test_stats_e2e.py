"""/stats as a user sees it: the real service on the fake Telegram sends a chart with a caption."""

from __future__ import annotations

import io

from PIL import Image

from tests.support.harness import ADMIN, Env, ask, wait_for, wait_until


async def _stored(env: Env, n: int) -> None:
    async def enough() -> bool:
        return await env.count("SELECT COUNT(*) FROM posts") >= n
    await wait_until(enough)


async def test_stats_sends_a_chart_with_totals(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    for i in range(4):
        env.world.post(env.news, f"Над Белгородом сбит беспилотник номер {i}")
    gone = env.world.post(env.news, "Белгород: сирена")
    env.world.post(env.news, "Погода: дожди в Москве")
    await _stored(env, 7)  # the old post from before /watch («…про Белгород») too
    env.world.delete(env.news, [gone.id])

    async def deleted() -> bool:
        return await env.count("SELECT COUNT(*) FROM posts WHERE deleted_at IS NOT NULL") == 1
    await wait_until(deleted)

    message = env.world.private_message(env.bot, env.admin, "/stats Белгород 7d")
    await wait_for(lambda: any(m.reply_to == message.id for m in env.world.sent_to(ADMIN)),
                   within=20)
    reply = next(m for m in env.world.sent_to(ADMIN) if m.reply_to == message.id)
    assert reply.photo is not None
    image = Image.open(io.BytesIO(reply.photo))
    # Telethon re-encodes a photo it uploads (as Telegram would anyway): size is what stays
    assert image.format in ("PNG", "JPEG") and image.size == (800, 360)
    image.load()
    lines = reply.text.splitlines()
    assert lines[0] == "📊 Белгород · last 7 days (Europe/Kyiv)"
    assert lines[1] == "6 posts · ✏️ edited 0 (0%) · 🗑 deleted 1 (17%)"
    assert lines[2] == "Top channels: Новости <Тест> & Co 6"
    assert lines[3] == "Top regions: Belgorod Oblast 6"
    assert "<b>📊 Белгород · last 7 days (Europe/Kyiv)</b>" in reply.html or (
        "<strong>📊 Белгород" in reply.html)

    # a channel, every post, and the 24-hour view
    assert (await _photo(env, "/stats @news_test 24h")).text.startswith(
        "📊 @news_test · last 24 hours (Europe/Kyiv)\n7 posts")
    assert (await _photo(env, "/stats")).text.startswith("📊 all posts · last 7 days")


async def _photo(env: Env, text: str):  # type: ignore[no-untyped-def]
    message = env.world.private_message(env.bot, env.admin, text)
    await wait_for(lambda: any(m.reply_to == message.id for m in env.world.sent_to(ADMIN)),
                   within=20)
    reply = next(m for m in env.world.sent_to(ADMIN) if m.reply_to == message.id)
    assert reply.photo is not None, reply.text
    return reply


async def test_stats_says_clearly_what_it_cannot_do(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    await _stored(env, 1)
    await ask(env, env.admin, "/alert Белгород")
    assert (await ask(env, env.admin, "/stats Несуществующееслово 30d")) == (
        "📊 No stored post matches Несуществующееслово in the last 30 days.")
    assert (await ask(env, env.admin, "/stats rule 7")) == (
        "No rule #7 in this chat. /rules lists them.")
    reply = await ask(env, env.admin, "/stats Белгород AND (")
    assert reply.startswith("⚠️ Cannot understand the rule at character")
    reply = await ask(env, env.admin, "/stats region Атлантидаград")
    assert reply.startswith("⚠️ ") and "Атлантидаград" in reply
    reply = await ask(env, env.admin, "/stats Белгород 5d")
    assert reply.startswith("⚠️ the period can be 24h, 7d, 30d, 90d (not 5d)")
    assert "Usage: /stats" in reply
    assert (await ask(env, env.admin, "/stats rule x")).startswith("⚠️ rule needs the rule's number")
    assert not any(m.photo for m in env.world.sent_to(ADMIN))
    # rule 1 is this chat's Белгород: the backfilled post counts
    reply = (await _photo(env, "/stats rule 1 90d")).text
    assert reply.startswith("📊 rule #1 Белгород · last 90 days (Europe/Kyiv)\n1 post ·")

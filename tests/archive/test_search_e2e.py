"""/search as a user sees it: the real service on the fake Telegram, paging across a restart."""

from __future__ import annotations

from tests.support.harness import ADMIN, Env, ask, wait_for, wait_until


async def _stored(env: Env, n: int) -> None:
    async def enough() -> bool:
        return await env.count("SELECT COUNT(*) FROM posts") >= n
    await wait_until(enough)


async def test_search_pages_survive_a_restart(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    posts = [env.world.post(env.news, f"Над Белгородом сбит беспилотник номер {i}")
             for i in range(7)]
    env.world.post(env.news, "Погода: дожди в Москве")
    await _stored(env, 9)  # the old post from before /watch is backfilled too
    message = env.world.private_message(env.bot, env.admin, "/search Белгород")
    await wait_for(lambda: any(m.reply_to == message.id for m in env.world.sent_to(ADMIN)))
    reply = next(m for m in env.world.sent_to(ADMIN) if m.reply_to == message.id)
    lines = reply.text.splitlines()
    # the backfilled post «…про Белгород» matches too: 8 in all, newest first
    assert lines[0] == "🔎 8 posts match Белгород — 1–5, newest first:"
    assert lines[2].startswith("1. Новости <Тест> & Co · ")
    assert lines[3] == "Над Белгородом сбит беспилотник номер 6"
    assert lines[4] == f"https://t.me/news_test/{posts[6].id}"
    assert "<b>Белгородом</b>" in reply.html or "<strong>Белгородом</strong>" in reply.html
    button = reply.reply_markup.rows[0].buttons[0]
    assert button.text == "More ▸"

    await env.stop_app()
    await env.start_app()  # the button still works after a restart
    before = len(env.world.sent_to(ADMIN))
    env.world.press_button(env.bot, env.admin, reply, button.type.data)
    await wait_for(lambda: len(env.world.sent_to(ADMIN)) > before)
    more = env.world.sent_to(ADMIN)[-1]
    assert more.text.splitlines()[0] == "🔎 8 posts match Белгород — 6–8, newest first:"
    assert "номер 1" in more.text and "номер 0" in more.text and "Старый пост" in more.text
    assert more.reply_markup is None  # the last page: no button
    # the pressed message lost its button (pressing it twice would repeat the page)
    await wait_for(lambda: any(e.msg_id == reply.msg_id and e.reply_markup is None
                               for e in env.world.edited))


async def test_search_marks_edited_and_deleted_posts(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    edited = env.world.post(env.news, "Шебекино: обстрел")
    gone = env.world.post(env.news, "Шебекино: пожар")
    await _stored(env, 3)
    env.world.edit(env.news, edited.id, "Шебекино: обстрел, двое раненых")
    env.world.delete(env.news, [gone.id])

    async def applied() -> bool:
        return (await env.count("SELECT COUNT(*) FROM posts WHERE deleted_at IS NOT NULL") == 1
                and await env.count("SELECT COUNT(*) FROM posts WHERE text_version = 1") == 1)
    await wait_until(applied)
    reply = await ask(env, env.admin, "/search Шебекино")
    lines = reply.splitlines()
    assert lines[0] == "🔎 2 posts match Шебекино — 1–2, newest first:"
    assert lines[2].endswith("· 🗑 deleted") and lines[3] == "Шебекино: пожар"
    assert lines[6].endswith("· ✏️ edited") and lines[7] == "Шебекино: обстрел, двое раненых"


async def test_search_replies_clearly_to_bad_input(env: Env) -> None:
    assert (await ask(env, env.admin, "/search")).startswith("Usage: /search <query>")
    bad = await ask(env, env.admin, "/search (Белгород")
    assert bad.startswith("⚠️ Cannot understand the rule at character")
    assert (await ask(env, env.admin, "/search Белгород since вчера")).startswith(
        "⚠️ cannot read the time 'вчера'")
    assert (await ask(env, env.admin, "/search Белгород since 2026-02-30")).startswith(
        "⚠️ no such date")
    nothing = await ask(env, env.admin, "/search Владивосток since 7d")
    assert nothing.startswith("🔎 No stored post matches Владивосток since ")


async def test_search_with_a_period(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    env.world.post(env.news, "Белгород сегодня")
    await _stored(env, 2)
    # the old post is dated by the fake at its creation time; both are "today" here
    reply = await ask(env, env.admin, "/search Белгород since 1h")
    assert reply.startswith("🔎 2 posts match Белгород since ")
    far = await ask(env, env.admin, "/search Белгород until 2020-01-01")
    assert far == "🔎 No stored post matches Белгород until 2020-01-01 (inclusive)."

"""Delivery end to end: the real service and real Telethon clients against the loopback fake.

Buttons, FloodWait on one chat, blocked users and kicked bots, groups with Telegram-checked
admins, "also in" edits, quiet hours, a digest fired by the scheduler, long messages.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from telethon.tl import types

from bot.guard import GROUP_ADMINS_ONLY
from bot.models import Role
from bot.telegram.split import utf16_len
from tests.support.harness import ADMIN, Env, ask, wait_for, wait_until

MEMBER = 600


async def subscribe(env: Env, rule: str = "дрон") -> types.User:
    """The admin watches the channel; admin and a member each add the rule."""
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, f"/alert {rule}")
    member = env.world.add_user(MEMBER, "Участник")
    await env.running.store.users.grant(MEMBER, Role.MEMBER, ADMIN)
    await ask(env, member, f"/alert {rule}")
    return member


async def counted(env: Env, sql: str, n: int) -> None:
    async def probe() -> bool:
        return await env.count(sql) == n

    await wait_until(probe)


def buttons(message: object) -> list[types.KeyboardInlineButton]:
    rows = getattr(getattr(message, "reply_markup", None), "rows", None) or []
    return [b for row in rows for b in row.buttons]


async def test_alert_buttons_mute_the_rule_and_open_the_post(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/alert дрон")
    post = env.world.post(env.news, "Дрон над Шебекино")
    await wait_for(lambda: env.alerts_to(ADMIN))
    (alert,) = env.alerts_to(ADMIN)
    mute_1h, mute_24h, open_post = buttons(alert)
    assert (mute_1h.text, mute_24h.text, open_post.text) == (
        "🔕 Mute rule 1h", "🔕 24h", "Open post ↗")
    assert open_post.type.url == f"https://t.me/news_test/{post.id}"
    assert alert.no_webpage  # link previews off
    env.world.press_button(env.bot, env.admin, alert, mute_1h.type.data)
    await wait_for(lambda: env.world.callback_answers)
    assert env.world.callback_answers[-1].message == "🔕 #1 muted for 1 h (/unmute to undo)"
    (rule,) = await env.running.store.rules.of_chat(ADMIN)
    assert rule.muted_until is not None
    env.world.post(env.news, "Ещё один дрон")
    await counted(env, "SELECT COUNT(*) FROM matches", 2)  # stored, matched
    assert len(env.alerts_to(ADMIN)) == 1  # but muted
    assert "alerts again" in await ask(env, env.admin, "/unmute 1")


async def test_flood_wait_on_one_chat_leaves_the_others_flowing(env: Env) -> None:
    await subscribe(env)
    env.world.fail_sends(ADMIN, "FLOOD_WAIT_4", code=420)
    started = time.monotonic()
    env.world.post(env.news, "Первый дрон")
    await wait_for(lambda: env.alerts_to(MEMBER))
    member_first = time.monotonic() - started
    env.world.post(env.news, "Второй дрон")
    await wait_for(lambda: len(env.alerts_to(MEMBER)) == 2)
    assert env.alerts_to(ADMIN) == []  # still waiting out its flood wait
    await wait_for(lambda: len(env.alerts_to(ADMIN)) == 2, within=15)
    admin_first = time.monotonic() - started
    assert member_first < 2 and admin_first >= 3.5
    assert env.world.failed_sends == [(ADMIN, "FLOOD_WAIT_4")]
    # in order, each exactly once
    assert ["Первый" in m.text for m in env.alerts_to(ADMIN)] == [True, False]


async def test_a_user_who_blocked_the_bot_is_dead_lettered_until_start(env: Env) -> None:
    member = await subscribe(env)
    env.world.block_bot(MEMBER, env.bot)
    env.world.post(env.news, "Первый дрон")
    await wait_for(lambda: any("can no longer receive alerts" in t
                               for t in env.notices_to(ADMIN)))
    chat = await env.running.store.chats.get(MEMBER)
    assert chat is not None and chat.status == "dead"
    env.world.post(env.news, "Второй дрон")
    await wait_for(lambda: len(env.alerts_to(ADMIN)) == 2)
    told = [t for t in env.notices_to(ADMIN) if "can no longer receive" in t]
    assert len(told) == 1 and str(MEMBER) in told[0]
    env.world.unblock_bot(MEMBER, env.bot)
    assert "Alerts to this chat are active again" in await ask(env, member, "/start")
    env.world.post(env.news, "Третий дрон")
    await wait_for(lambda: env.alerts_to(MEMBER))
    assert [("Третий" in m.text) for m in env.alerts_to(MEMBER)] == [True]


async def test_supergroup_admins_checked_through_telegram(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    member = env.world.add_user(MEMBER, "Участник")
    await env.running.store.users.grant(MEMBER, Role.MEMBER, ADMIN)
    group = 5550001
    env.world.add_group(group, "OSINT team", [env.bot, env.admin, member], admins=[ADMIN],
                        creator=ADMIN, megagroup=True)

    def group_says(user: types.User, text: str) -> None:
        env.world.group_message(env.bot, group, user, text)

    group_says(member, "/alert@chanwatch_bot дрон")
    await wait_for(lambda: env.world.sent_to(group))
    assert env.world.sent_to(group)[-1].text == GROUP_ADMINS_ONLY
    group_says(member, "hello everyone")  # ignored
    group_says(env.admin, "/alert@chanwatch_bot дрон")
    await wait_for(lambda: len(env.world.sent_to(group)) == 2)
    assert env.world.sent_to(group)[-1].text.startswith("✅ Rule #1 saved.")
    env.world.post(env.news, "Дрон над Белгородом")
    await wait_for(lambda: len(env.world.sent_to(group)) == 3)
    alert = env.world.sent_to(group)[-1]
    assert alert.text.startswith("🔔")
    env.world.press_button(env.bot, member, alert, buttons(alert)[0].type.data)
    await wait_for(lambda: env.world.callback_answers)
    assert env.world.callback_answers[-1].message == "Only this group's administrators can do that."
    env.world.set_admins(group, [ADMIN, MEMBER])  # promoted in Telegram: allowed at once
    group_says(member, "/mode@chanwatch_bot 1 both")
    await wait_for(lambda: len(env.world.sent_to(group)) == 4)
    assert "is now <strong>both</strong>" in env.world.sent_to(group)[-1].html
    # the bot is removed from the group: dead letter, admins told
    env.world.remove_from_group(env.bot, group)
    env.world.post(env.news, "Второй дрон")
    await wait_for(lambda: any("can no longer receive alerts" in t
                               for t in env.notices_to(ADMIN)))
    chat = await env.running.store.chats.get(-1_000_000_000_000 - group)  # Telethon's marked id
    assert chat is not None and chat.status == "dead"


async def test_basic_group_gets_alerts_and_non_admins_cannot_change_rules(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    member = env.world.add_user(MEMBER, "Участник")
    await env.running.store.users.grant(MEMBER, Role.MEMBER, ADMIN)
    group = 6660001
    env.world.add_group(group, "Basic", [env.bot, env.admin, member], admins=[],
                        creator=ADMIN)
    env.world.group_message(env.bot, group, member, "/alert@chanwatch_bot дрон")
    await wait_for(lambda: env.world.sent_to(group))
    assert env.world.sent_to(group)[-1].text == GROUP_ADMINS_ONLY
    env.world.group_message(env.bot, group, env.admin, "/alert дрон")  # the creator
    await wait_for(lambda: len(env.world.sent_to(group)) == 2)
    env.world.post(env.news, "Дрон")
    await wait_for(lambda: len(env.world.sent_to(group)) == 3)
    assert env.world.sent_to(group)[-1].text.startswith("🔔")


async def test_a_forward_in_another_channel_edits_the_alert_with_also_in(env: Env) -> None:
    other = env.world.add_channel(2345678, "Другой канал", "other_news")
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/watch @other_news")
    await ask(env, env.admin, "/alert дрон")
    original = env.world.post(env.news, "Дрон атаковал подстанцию в Шебекино")
    await wait_for(lambda: env.alerts_to(ADMIN))
    (alert,) = env.alerts_to(ADMIN)
    env.world.post(other, "Дрон атаковал подстанцию в Шебекино", fwd_from_channel=env.news.id,
                   fwd_from_msg_id=original.id)
    await wait_for(lambda: env.world.edited)
    edit = env.world.edited[-1]
    assert edit.msg_id == alert.msg_id and edit.peer_id == ADMIN
    assert edit.html.endswith('↪ also in <a href="https://t.me/other_news/1">@other_news</a>')
    assert [b.text for b in buttons(edit)] == [b.text for b in buttons(alert)]
    assert len(env.alerts_to(ADMIN)) == 1  # no second alert


async def test_quiet_hours_hold_alerts_and_fold_them_when_released(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/alert дрон")
    now = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=2)))  # Kyiv, winter
    quiet = f"{now - dt.timedelta(hours=1):%H:%M}-{now + dt.timedelta(hours=1):%H:%M}"
    assert "Quiet hours" in await ask(env, env.admin, f"/quiet {quiet}")
    env.world.post(env.news, "Ночной дрон номер один")
    env.world.post(env.news, "Ночной дрон номер два")
    await counted(env, "SELECT COUNT(*) FROM outbox WHERE status = 'held'", 2)
    assert env.alerts_to(ADMIN) == []
    assert "2 held alerts will arrive now" in await ask(env, env.admin, "/quiet off")
    await wait_for(lambda: any(t.startswith("🌙 Quiet hours are over. 2 alerts")
                               for t in env.notices_to(ADMIN)))
    (fold,) = [t for t in env.notices_to(ADMIN) if t.startswith("🌙")]
    assert fold.index("номер один") < fold.index("номер два")


async def test_a_digest_job_fires_on_schedule_with_a_chart(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/alert дрон")
    await ask(env, env.admin, "/mode 1 both")
    assert "daily at 08:00" in await ask(env, env.admin, "/digest 08:00")
    app = env.running
    now = dt.datetime.now(dt.UTC)
    await app.database.transaction(lambda conn: conn.execute(
        "UPDATE chats SET digest_since = ? WHERE id = ?",
        ((now - dt.timedelta(hours=10)).isoformat(timespec="seconds"), ADMIN)))
    for hours_ago, views in ((9, 50), (6, 900), (6, 10), (2, 300)):
        env.world.post(env.news, f"Дрон, {hours_ago} ч назад, {views} просмотров",
                       date=now - dt.timedelta(hours=hours_ago), views=views, forwards=1)
    await counted(env, "SELECT COUNT(*) FROM matches", 4)
    await asyncio.sleep(1.1)  # periods are half-open to the second: matches of this second
    job = app.scheduler.get_job(f"digest:{ADMIN}")  # would go to the next digest
    assert job is not None
    job.modify(next_run_time=dt.datetime.now(dt.UTC))  # the scheduler fires it now
    await wait_for(lambda: any(m.photo for m in env.world.sent_to(ADMIN)), within=15)
    digest = next(m for m in env.world.sent_to(ADMIN) if "Digest ·" in m.text)
    assert "4 matching posts" in digest.text and "#1 дрон — 4" in digest.text
    top = digest.text.split("Most viewed")[1]
    assert top.index("900 просмотров") < top.index("300 просмотров") < top.index("50 просм")
    photo = next(m.photo for m in env.world.sent_to(ADMIN) if m.photo)
    assert photo is not None and photo[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0")
    # firing again for the same scheduled time sends nothing more
    job.modify(next_run_time=dt.datetime.now(dt.UTC))
    await counted(env, "SELECT COUNT(*) FROM outbox WHERE kind = 'digest'", 1)
    before = len(env.world.sent_to(ADMIN))
    await app.digests.run_scheduled(ADMIN)
    assert await env.count("SELECT COUNT(*) FROM outbox WHERE kind = 'digest'") == 1
    assert len(env.world.sent_to(ADMIN)) == before


async def test_a_long_message_is_split_without_cutting_markup(env: Env) -> None:
    await ask(env, env.admin, "/start")
    lines = [f"<b>Строка {i}</b> 🔔 <a href=\"https://t.me/news_test/{i}\">ссылка {i}</a>"
             for i in range(400)]
    app = env.running
    assert await app.store.outbox.enqueue_notice(ADMIN, "\n".join(lines), "long")
    app.dispatcher.wake()
    await wait_for(lambda: sum("Строка 399" in t for t in env.notices_to(ADMIN)) == 1)
    parts = [m for m in env.world.sent_to(ADMIN) if m.reply_to is None and "Строка" in m.text]
    assert len(parts) >= 3
    assert all(utf16_len(p.text) <= 4096 for p in parts)
    joined = "\n".join(p.html for p in parts)
    for i in range(400):  # every line arrived whole, bold and link intact, once
        assert joined.count(f"<strong>Строка {i}</strong>") == 1
        assert joined.count(f'<a href="https://t.me/news_test/{i}">ссылка {i}</a>') == 1
    assert len({p.random_id for p in parts}) == len(parts)

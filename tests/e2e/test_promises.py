"""Promises the README makes, tested from outside through the running service.

- Every path that queues a message wakes the dispatcher at once: with its idle poll set to an
  hour, alerts, edit alerts, deletion notices, released quiet-hours alerts, "also in" edits,
  digests, admin notices and webhook deliveries still leave within a second or two.
- An edit and the alert it earned commit together: a failure while queuing the alert leaves
  the edit unrecorded, so the next read of the post records both.
- A post deleted before its alert went out is alerted anyway, and the alert says so.
- A chat's ordinary rules feed its digest (a rule's default is instant alerts *and* digest).
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
import pytest_asyncio
from telethon.tl import functions

import bot.dispatcher
from bot.models import Post
from bot.store import Database, apply_migrations
from bot.store.migrate import migrations_dir
from bot.telegram.convert import message_to_post
from tests.support.fakes import FakeClock
from tests.support.harness import ADMIN, Env, ask, wait_for, wait_until
from tests.support.http_receiver import Receiver

SOON = 3.0  # seconds: far below the idle poll, far above a loaded CI machine's latency


@pytest_asyncio.fixture
async def awake(env: Env, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    """The service with the dispatcher's safety-net poll at one hour: only wake-ups send."""
    await env.stop_app()
    monkeypatch.setattr(bot.dispatcher, "IDLE_WAIT", 3600.0)
    env.settings["SEND_RATE_CHAT"] = "50/s"
    await env.start_app()
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/alert Белгород")
    await env.running.store.rules.set_notify_deleted(ADMIN, 1, True)
    yield env


async def settle(env: Env) -> None:
    """Let the dispatcher finish what is due and go to sleep (for an hour)."""
    await wait_until(lambda: _pending(env, 0))


async def _pending(env: Env, expected: int) -> bool:
    return await env.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending'") == expected


async def test_a_live_alert_wakes_the_dispatcher(awake: Env) -> None:
    await settle(awake)
    awake.world.post(awake.news, "Белгород: взрыв на окраине")
    await wait_for(lambda: awake.alerts_to(ADMIN), within=SOON)


async def test_an_edit_that_matches_wakes_the_dispatcher(awake: Env) -> None:
    plain = awake.world.post(awake.news, "Погода на завтра")
    await wait_until(lambda: _stored(awake, plain.id))
    await settle(awake)
    awake.world.edit(awake.news, plain.id, "Погода на завтра: в Белгороде снег")
    await wait_for(lambda: any("✏️ edited" in a.text for a in awake.alerts_to(ADMIN)),
                   within=SOON)


async def test_a_deletion_notice_wakes_the_dispatcher(awake: Env) -> None:
    hit = awake.world.post(awake.news, "Белгород: пост, который удалят")
    await wait_for(lambda: awake.alerts_to(ADMIN))
    await settle(awake)
    awake.world.delete(awake.news, [hit.id])
    await wait_for(lambda: any(n.startswith("🗑") for n in awake.notices_to(ADMIN)),
                   within=SOON)


async def test_released_quiet_hours_alerts_wake_the_dispatcher(awake: Env) -> None:
    await ask(awake, awake.admin, "/quiet 00:00-23:59")
    awake.world.post(awake.news, "Белгород: ночью")
    await wait_until(lambda: _count(awake, "SELECT COUNT(*) FROM outbox WHERE status = 'held'"))
    await settle(awake)
    await ask(awake, awake.admin, "/quiet off")
    await wait_for(lambda: any("Quiet hours are over" in n and "ночью" in n
                               for n in awake.notices_to(ADMIN)), within=SOON)


async def test_an_also_in_edit_wakes_the_dispatcher(awake: Env) -> None:
    other = awake.world.add_channel(4242001, "Перепост", "repost_chan")
    await ask(awake, awake.admin, "/watch @repost_chan")
    text = "Белгород: сбит беспилотник над жилым кварталом, пострадавших нет"
    awake.world.post(awake.news, text)
    await wait_for(lambda: awake.alerts_to(ADMIN))
    await settle(awake)
    awake.world.post(other, text)
    await wait_for(lambda: any("also in" in m.text for m in awake.world.edited), within=SOON)


async def test_a_digest_wakes_the_dispatcher(awake: Env) -> None:
    await ask(awake, awake.admin, "/digest 08:00")
    awake.world.post(awake.news, "Белгород: для дайджеста")
    await wait_for(lambda: awake.alerts_to(ADMIN))
    await settle(awake)
    await ask(awake, awake.admin, "/digest now")
    await wait_for(lambda: any(t.startswith("🗞 <b>Digest") or t.startswith("🗞 Digest")
                               for t in awake.notices_to(ADMIN)), within=SOON)


async def test_an_admin_notice_wakes_the_dispatcher(awake: Env) -> None:
    await settle(awake)
    awake.world.fail_channel(awake.news.id, functions.messages.GetPeerDialogsRequest,
                             "CHANNEL_PRIVATE")
    await awake.running.run_reconcile("schedule")
    await wait_for(lambda: any(n.startswith("⚠️ Channel") for n in awake.notices_to(ADMIN)),
                   within=SOON)


async def test_a_webhook_delivery_wakes_the_dispatcher(awake: Env) -> None:
    async with Receiver() as receiver:
        await awake.stop_app()
        awake.settings.update({"WEBHOOK_URL": f"{receiver.url}/hook",
                               "WEBHOOK_ALLOW_PRIVATE": "1"})
        await awake.start_app()
        await settle(awake)
        awake.world.post(awake.news, "Белгород: для вебхука")
        await wait_for(lambda: receiver.to("/hook"), within=SOON)
        await wait_for(lambda: awake.alerts_to(ADMIN), within=SOON)


# ------------------------------------------------------------------ edits commit with alerts
async def test_an_edit_and_its_alert_commit_together(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/alert Белгород")
    plain = env.world.post(env.news, "Погода на завтра")
    await wait_until(lambda: _stored(env, plain.id))
    await env.stop_app()
    # edited while chanwatch is down: nobody pushes it, the deletion check re-reads it
    env.world.edit(env.news, plain.id, "Погода на завтра: в Белгороде снег")
    # a failure while the alert is queued, inside the transaction that records the edit
    db = sqlite3.connect(env.data_dir / "chanwatch.sqlite3")
    db.execute("CREATE TRIGGER crash_on_alert BEFORE INSERT ON outbox WHEN NEW.kind = 'alert'"
               " BEGIN SELECT RAISE(ABORT, 'injected crash while queuing the alert'); END")
    db.commit()
    db.close()
    await env.start_app()
    with pytest.raises(sqlite3.IntegrityError, match="injected crash"):
        await env.running.ingest.apply_edit(_current(env, plain.id))
    assert await env.count("SELECT COUNT(*) FROM post_versions") == 0  # nothing half-done
    assert await env.count("SELECT COUNT(*) FROM posts WHERE text LIKE '%снег'") == 0
    await env.stop_app()
    db = sqlite3.connect(env.data_dir / "chanwatch.sqlite3")
    db.execute("DROP TRIGGER crash_on_alert")
    db.commit()
    db.close()
    await env.start_app()
    await env.running.run_deletion_check()  # re-reads recent posts: finds the edit again
    await wait_for(lambda: any("✏️ edited" in a.text for a in env.alerts_to(ADMIN)))
    assert await env.count("SELECT COUNT(*) FROM post_versions") == 1


def _current(env: Env, message_id: int) -> Post:
    return message_to_post(env.news.messages[message_id], env.news.username)


# ------------------------------------------------------------------ deleted before sent
async def test_a_post_deleted_before_its_alert_went_out_is_alerted_and_says_so(
    env: Env,
) -> None:
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/alert Белгород")
    await env.running.store.rules.set_notify_deleted(ADMIN, 1, True)
    env.world.fail_sends(ADMIN, "FLOOD_WAIT_3", code=420)  # the alert has to wait a little
    hit = env.world.post(env.news, "Белгород: пост, который удалят до отправки")
    await wait_for(lambda: env.world.failed_sends)
    env.world.delete(env.news, [hit.id])  # … and the channel deletes the post meanwhile
    await wait_for(lambda: env.alerts_to(ADMIN), within=15)
    [alert] = env.alerts_to(ADMIN)
    assert "удалят до отправки" in alert.text  # the text is evidence
    assert "🗑 deleted from the channel before this alert was sent" in alert.text
    # the alert itself says it: no separate deletion notice for an alert not yet sent
    assert not any(n.startswith("🗑") for n in env.notices_to(ADMIN))


async def test_a_held_alert_whose_post_was_deleted_says_so_in_the_fold(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/alert Белгород")
    await ask(env, env.admin, "/quiet 00:00-23:59")
    kept = env.world.post(env.news, "Белгород: пост, который останется")
    gone = env.world.post(env.news, "Белгород: пост, который исчезнет")
    await wait_until(lambda: _count(env, "SELECT COUNT(*) FROM outbox WHERE status = 'held'", 2))
    env.world.delete(env.news, [gone.id])
    await wait_until(lambda: _count(env, "SELECT COUNT(*) FROM posts WHERE deleted_at IS NOT NULL"))
    # the quiet hours end (as time would end them): the held alerts are folded into one
    await env.stop_app()
    db = sqlite3.connect(env.data_dir / "chanwatch.sqlite3")
    db.execute("UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00+00:00'"
               " WHERE status = 'held'")
    db.commit()
    db.close()
    await env.start_app()
    await wait_for(lambda: any("Quiet hours are over" in n for n in env.notices_to(ADMIN)))
    [fold] = [n for n in env.notices_to(ADMIN) if "Quiet hours are over" in n]
    lines = fold.splitlines()
    [kept_line] = [ln for ln in lines if "останется" in ln]
    [gone_line] = [ln for ln in lines if "исчезнет" in ln]
    assert "deleted from the channel before this alert was sent" in gone_line
    assert "deleted" not in kept_line
    assert kept.id < gone.id


# ------------------------------------------------------------------ digest default
async def test_ordinary_rules_feed_the_digest(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/alert Белгород")  # no /mode: the default
    await ask(env, env.admin, "/digest 08:00")
    env.world.post(env.news, "Белгород: новость для дайджеста")
    await wait_for(lambda: env.alerts_to(ADMIN))  # alerted at once …
    await ask(env, env.admin, "/digest now")
    await wait_for(lambda: any("Digest" in n for n in env.notices_to(ADMIN)))
    [digest] = [n for n in env.notices_to(ADMIN) if "Digest" in n]
    assert "новость для дайджеста" in digest  # … and counted in the digest
    assert "No new posts matched" not in digest


async def test_migration_moves_old_default_rules_to_both(tmp_path: Path,
                                                        clock: FakeClock) -> None:
    old = tmp_path / "migrations-0.4"  # the schema as it was before 0005
    old.mkdir()
    for sql in sorted(migrations_dir().glob("000[1-4]_*.sql")):
        shutil.copy(sql, old / sql.name)
    db = await Database.open(tmp_path / "old.sqlite3")
    try:
        await apply_migrations(db, clock, old)
        await db.transaction(_old_rules)
        assert 5 in await apply_migrations(db, clock)
        rows = await db.fetchall("SELECT number, mode FROM rules ORDER BY number")
    finally:
        await db.close()
    assert [(r[0], r[1]) for r in rows] == [(1, "both"), (2, "digest"), (3, "both")]


async def _old_rules(conn: aiosqlite.Connection) -> None:
    await conn.execute("INSERT INTO chats (id, kind, created_at) VALUES (1, 'private', '2026')")
    for number, mode in ((1, "instant"), (2, "digest"), (3, "both")):
        await conn.execute(
            "INSERT INTO rules (chat_id, number, expression, mode, created_at)"
            " VALUES (1, ?, 'дрон', ?, '2026')", (number, mode))


async def _stored(env: Env, message_id: int) -> bool:
    return await env.count("SELECT COUNT(*) FROM posts WHERE channel_id = ? AND message_id = ?",
                           env.news.id, message_id) == 1


async def _count(env: Env, sql: str, expected: int = 1) -> bool:
    return await env.count(sql) >= expected

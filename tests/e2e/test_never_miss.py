"""Never miss a post: outages, restarts, handler failures, edits, deletions, albums, floods,
channel trouble and backfill — all through the real composition root and real Telethon."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sqlite3

import pytest
from telethon.tl import functions, types

from tests.support.harness import ADMIN, Env, ask, wait_for, wait_until

LATE = dt.timedelta(minutes=7)


async def setup_rule(env: Env, rule: str = "Белгород") -> None:
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, f"/alert {rule}")


async def stored(env: Env) -> list[tuple[int, str]]:
    rows = await env.running.database.fetchall(
        "SELECT message_id, source FROM posts WHERE channel_id = ? ORDER BY message_id",
        (env.news.id,))
    return [(int(r[0]), str(r[1])) for r in rows]


async def cursor(env: Env) -> int:
    channel = await env.running.store.channels.get(env.news.id)
    assert channel is not None
    return channel.cursor


@pytest.mark.parametrize("missed", [3, 150])
async def test_outage_posts_are_fetched_after_reconnect_in_order_marked_late(
    env: Env, missed: int
) -> None:
    await setup_rule(env)
    env.fake.drop_connections()
    published = dt.datetime.now(dt.UTC) - LATE  # the outage lasted a while
    for i in range(missed):
        text = f"Пост {i}: взрыв в Белгороде" if i % 10 == 0 else f"Пост {i}: погода"
        env.world.post(env.news, text, date=published)
    expected_alerts = len(range(0, missed, 10))
    await wait_for(lambda: len(env.alerts_to(ADMIN)) == expected_alerts, within=30)
    alerts = env.alerts_to(ADMIN)
    numbers = [int(a.text.split("Пост ")[1].split(":")[0]) for a in alerts]
    assert numbers == list(range(0, missed, 10))  # in order
    assert all("min late: found when catching up" in a.text for a in alerts)
    await wait_for(lambda: any(r.reason == "reconnect" for r in env.running.reconciler.reports))
    reports = [(r.reason, r.stored) for r in env.running.reconciler.reports]
    assert ("reconnect", missed) in reports, reports
    rows = await stored(env)
    assert [m for m, _ in rows] == list(range(1, missed + 2))  # 1 = the backfilled old post
    assert await cursor(env) == missed + 1
    await asyncio.sleep(0.3)
    assert len(env.alerts_to(ADMIN)) == expected_alerts  # nothing twice


async def test_channels_are_caught_up_at_start(env: Env) -> None:
    await setup_rule(env)
    quiet = env.world.add_channel(555001, "Тихий", "quiet_chan")
    await ask(env, env.admin, "/watch @quiet_chan")
    await env.stop_app()
    # both post while chanwatch is down; Telethon has no saved state for the quiet channel
    env.world.post(env.news, "Белгород: пост во время остановки")
    env.world.post(quiet, "Белгород: тихий канал ожил")
    await env.start_app()
    await wait_for(lambda: len(env.alerts_to(ADMIN)) == 2, within=15)
    texts = "\n".join(a.text for a in env.alerts_to(ADMIN))
    assert "пост во время остановки" in texts and "тихий канал ожил" in texts
    assert env.running.reconciler.reports[0].reason == "start"


def _errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The live handler's errors (the suite records INFO from every logger too)."""
    return [r for r in caplog.records
            if r.name == "bot.telegram.user" and r.levelno >= logging.ERROR]


async def test_a_live_post_whose_processing_fails_is_stored_by_the_next_reconcile(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    await env.stop_app()
    env.settings["DB_BUSY_TIMEOUT"] = "0.2s"
    await env.start_app()
    await setup_rule(env)
    lock = sqlite3.connect(env.data_dir / "chanwatch.sqlite3", isolation_level=None)
    try:
        lock.execute("BEGIN IMMEDIATE")  # another process holds the database
        with caplog.at_level(logging.ERROR, logger="bot.telegram.user"):
            failed = env.world.post(env.news, "Белгород: пост, который не записался")
            await wait_for(lambda: _errors(caplog), within=10)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    [record] = _errors(caplog)
    assert f"failed to process post {failed.id} of channel {env.news.id}" in record.getMessage()
    after = env.world.post(env.news, "обычный пост после сбоя")
    await wait_until(lambda: _has(env, after.id))
    assert await cursor(env) == failed.id - 1  # the cursor waits below the lost post
    await env.running.run_reconcile("test")
    assert (failed.id, "reconcile") in await stored(env)
    assert await cursor(env) == after.id
    await wait_for(lambda: env.alerts_to(ADMIN))
    assert len(env.alerts_to(ADMIN)) == 1


async def _has(env: Env, message_id: int) -> bool:
    return message_id in [m for m, _ in await stored(env)]


async def test_edits_versions_and_edit_made_matches(env: Env) -> None:
    await setup_rule(env)
    hit = env.world.post(env.news, "Белгород: первая версия")
    await wait_for(lambda: len(env.alerts_to(ADMIN)) == 1)
    env.world.edit(env.news, hit.id, "Белгород: исправленная версия")
    plain = env.world.post(env.news, "Погода на завтра")
    await wait_until(lambda: _has(env, plain.id))
    env.world.edit(env.news, plain.id, "Погода на завтра: в Белгороде снег")
    await wait_for(lambda: len(env.alerts_to(ADMIN)) == 2)
    await asyncio.sleep(0.3)
    alerts = env.alerts_to(ADMIN)
    assert len(alerts) == 2  # the edit of the already alerted post did not alert again
    assert "✏️ edited: the new text matches" in alerts[1].text
    assert "в Белгороде снег" in alerts[1].text
    db = env.running.database
    versions = await db.fetchall(
        "SELECT p.message_id, v.text FROM post_versions v JOIN posts p ON p.id = v.post_id"
        " ORDER BY v.id")
    assert [tuple(r) for r in versions] == [(hit.id, "Белгород: первая версия"),
                                           (plain.id, "Погода на завтра")]
    row = await db.fetchone("SELECT text, edit_date FROM posts WHERE message_id = ?", (hit.id,))
    assert row is not None and row[0] == "Белгород: исправленная версия" and row[1]


async def test_deletions_are_flagged_kept_and_reported_when_asked(env: Env) -> None:
    await setup_rule(env)
    assert "deleted" in await ask(env, env.admin, "/ondelete 1 on")
    hit = env.world.post(env.news, "Белгород: пост, который удалят")
    other = env.world.post(env.news, "Пост без совпадений")
    await wait_for(lambda: len(env.alerts_to(ADMIN)) == 1)
    await wait_until(lambda: _has(env, other.id))
    env.world.delete(env.news, [hit.id, other.id])
    await wait_for(lambda: any(n.startswith("🗑") for n in env.notices_to(ADMIN)))
    rows = await env.running.database.fetchall(
        "SELECT message_id, text, deleted_at FROM posts WHERE message_id IN (?, ?)",
        (hit.id, other.id))
    assert {(r[0], r[1]) for r in rows} == {(hit.id, "Белгород: пост, который удалят"),
                                            (other.id, "Пост без совпадений")}
    assert all(r[2] for r in rows)
    [notice] = [n for n in env.notices_to(ADMIN) if n.startswith("🗑")]
    assert "deleted a post that rule #1 alerted on" in notice
    assert "Белгород: пост, который удалят" in notice


async def test_deletions_telegram_did_not_push_are_found_by_the_check(env: Env) -> None:
    await setup_rule(env)
    quiet_delete = env.world.post(env.news, "пост, исчезнувший тихо")
    edited = env.world.post(env.news, "пост, исправленный тихо")
    await wait_until(lambda: _has(env, edited.id))
    del env.news.messages[quiet_delete.id]  # gone without an update
    env.news.messages[edited.id].message = "пост, исправленный тихо: Белгород"
    await env.running.run_deletion_check()
    row = await env.running.database.fetchone(
        "SELECT deleted_at FROM posts WHERE message_id = ?", (quiet_delete.id,))
    assert row is not None and row[0]
    await wait_for(lambda: env.alerts_to(ADMIN))
    assert "✏️ edited" in env.alerts_to(ADMIN)[0].text


async def test_an_album_alerts_once(env: Env) -> None:
    await setup_rule(env)
    for text in ("Белгород: фото 1", "Белгород: фото 2", ""):
        env.world.post(env.news, text, grouped_id=777, media="photo")
    await wait_until(lambda: _count_posts(env, 4))
    await wait_for(lambda: env.alerts_to(ADMIN))
    await asyncio.sleep(0.3)
    assert len(env.alerts_to(ADMIN)) == 1


async def _count_posts(env: Env, n: int) -> bool:
    return len(await stored(env)) == n


async def test_flood_wait_on_history_waits_and_resumes_without_duplicates(env: Env) -> None:
    await setup_rule(env)
    await env.stop_app()
    for i in range(250):
        env.world.post(env.news, f"пост {i}", deliver=False)
    # the second history page is refused once with FLOOD_WAIT_1
    env.world.rpc_errors[functions.messages.GetHistoryRequest] = [
        types.RpcError(420, "FLOOD_WAIT_1")]
    await env.start_app()
    await wait_until(lambda: _count_posts(env, 251), within=20)
    assert env.running.user.flood_waits == 1
    rows = await stored(env)
    assert len({m for m, _ in rows}) == len(rows) == 251
    assert await cursor(env) == 251


async def test_channel_trouble_is_visible_and_told_once(env: Env) -> None:
    await setup_rule(env)
    gone = env.world.add_channel(555002, "Исчезающий", "vanishing")
    await ask(env, env.admin, "/watch @vanishing")
    # news becomes private (the account is removed); vanishing is deleted; both at once
    env.news.private, env.news.username = True, None
    env.user_account.channels.discard(env.news.id)
    del env.world.channels[gone.id]
    await env.running.run_reconcile("test")
    await env.running.run_reconcile("test")  # nothing new: no second notice
    await wait_for(lambda: len([n for n in env.notices_to(ADMIN) if n.startswith("⚠️")]) == 2)
    await asyncio.sleep(0.3)
    warnings = [n for n in env.notices_to(ADMIN) if n.startswith("⚠️")]
    assert len(warnings) == 2
    assert any("became private, or the account was removed or banned there" in w
               for w in warnings)
    assert any("Исчезающий" in w and "no longer exists" in w for w in warnings)
    listing = await ask(env, env.admin, "/channels")
    assert "[private]" in listing and "[deleted]" in listing


async def test_a_renamed_channel_is_followed(env: Env) -> None:
    await setup_rule(env)
    env.news.username = "news_renamed"
    await env.running.run_reconcile("test")
    channel = await env.running.store.channels.get(env.news.id)
    assert channel is not None and channel.username == "news_renamed"
    await wait_for(lambda: any("changed its username" in n for n in env.notices_to(ADMIN)))
    env.world.post(env.news, "Белгород после переименования")
    await wait_for(lambda: env.alerts_to(ADMIN))
    assert "https://t.me/news_renamed/" in env.alerts_to(ADMIN)[0].text


async def test_backfill_stores_recent_posts_without_alerts(env: Env) -> None:
    for i in range(260):
        env.world.post(env.news, f"Белгород, старый пост {i}", deliver=False)
    await ask(env, env.admin, "/alert Белгород")  # before /watch: backfilled posts match it
    await ask(env, env.admin, "/watch @news_test")  # backfill of the last 200
    await wait_for(lambda: any("Backfill" in n and "done" in n for n in env.notices_to(ADMIN)),
                   within=20)
    rows = await stored(env)
    assert len(rows) == 200 and all(s == "backfill" for _, s in rows)
    assert [m for m, _ in rows] == list(range(62, 262))  # the newest 200 of 261
    assert env.alerts_to(ADMIN) == []
    assert "200 earlier posts stored" in next(n for n in env.notices_to(ADMIN) if "done" in n)
    matches = await env.count("SELECT COUNT(*) FROM matches")
    assert matches == 200  # they count for search and digests


async def test_backfill_since_a_date_reports_progress(env: Env) -> None:
    old = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    recent = dt.datetime(2026, 11, 5, tzinfo=dt.UTC)
    for i in range(50):
        env.world.post(env.news, f"очень старый {i}", deliver=False, date=old)
    for i in range(620):
        env.world.post(env.news, f"свежий {i}", deliver=False, date=recent)
    reply = await ask(env, env.admin, "/watch @news_test since 2026-11-01")
    assert "posts since 2026-11-01 are being stored" in reply
    await wait_for(lambda: any("done" in n for n in env.notices_to(ADMIN)), within=30)
    notices = [n for n in env.notices_to(ADMIN) if "Backfill" in n]
    assert notices[0].endswith(": 500/620")
    assert "620 earlier posts stored" in notices[-1]
    assert await env.count("SELECT COUNT(*) FROM posts") == 620
    assert await ask(env, env.admin, "/watch @news_test since yesterday") == (
        "⚠️ 'yesterday' is not a date like 2026-11-01.")

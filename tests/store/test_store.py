from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from bot.events import AlsoIn
from bot.models import ChatKind, Post, Role, StoryKeys
from bot.store import Database, MigrationError, RuleHitRecord, Store, StoreBusy, apply_migrations
from bot.store.event_json import event_json, parse_also, parse_event
from bot.store.migrate import discover, migrations_dir
from tests.support.events import alert_event, draft
from tests.support.fakes import FakeClock

EXPECTED_TABLES = {"channels", "posts", "chats", "users", "rules", "matches", "outbox",
                   "schema_migrations"}


def make_post(message_id: int = 1, text: str = "Сбит беспилотник над Белгородом") -> Post:
    return Post(
        channel_id=777, message_id=message_id,
        date=dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC), text=text,
        permalink=f"https://t.me/kanal/{message_id}", views=10,
    )


async def test_migrations_apply_from_empty_and_are_a_noop_the_second_time(
    db: Database, clock: FakeClock
) -> None:
    first = await apply_migrations(db, clock)
    assert first == [m.version for m in discover(migrations_dir())]
    assert await apply_migrations(db, clock) == []
    rows = await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
    assert EXPECTED_TABLES <= {r["name"] for r in rows}
    recorded = await db.fetchall("SELECT version FROM schema_migrations")
    assert [r["version"] for r in recorded] == first


async def test_connection_is_configured(db: Database) -> None:
    assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"  # type: ignore[index]
    assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1  # type: ignore[index]
    assert (await db.fetchone("PRAGMA busy_timeout"))[0] > 0  # type: ignore[index]


async def test_failed_migration_rolls_back_whole_file(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    mig = tmp_path / "migs"
    mig.mkdir()
    (mig / "0001_ok.sql").write_text("CREATE TABLE a (x INTEGER);\n")
    (mig / "0002_bad.sql").write_text("CREATE TABLE b (x INTEGER);\nINSERT INTO nope VALUES (1);\n")
    with pytest.raises(MigrationError, match=r"0002_bad\.sql failed"):
        await apply_migrations(db, clock, mig)
    names = {r["name"] for r in await db.fetchall("SELECT name FROM sqlite_master")}
    assert "a" in names and "b" not in names
    versions = [r["version"] for r in await db.fetchall("SELECT version FROM schema_migrations")]
    assert versions == [1]


async def test_badly_named_migration_is_refused(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    (tmp_path / "init.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        await apply_migrations(db, clock, tmp_path)


async def _rule_setup(store: Store) -> int:
    await store.channels.add(777, "kanal", "Канал", 5, added_by=500)
    await store.chats.upsert(500, ChatKind.PRIVATE, None)
    rule = await store.rules.add(500, "Белгород", created_by=500)
    return rule.id


async def test_same_post_twice_is_one_row_and_one_alert(store: Store, db: Database) -> None:
    rule_id = await _rule_setup(store)
    hits = [RuleHitRecord(rule_id, [(21, 31)])]
    alerts = [draft(make_post(), 500)]
    first = await store.posts.save(make_post(), hits, alerts)
    second = await store.posts.save(make_post(), hits, alerts)
    assert first.created and first.alerts_enqueued == 1
    assert not second.created and second.alerts_enqueued == 0
    assert second.post_id == first.post_id
    counts = {t: (await db.fetchone(f"SELECT COUNT(*) FROM {t}"))[0]  # type: ignore[index]
              for t in ("posts", "matches", "outbox")}
    assert counts == {"posts": 1, "matches": 1, "outbox": 1}
    channel = await store.channels.get(777)
    assert channel is not None and channel.cursor == 1


async def cursor(store: Store) -> int:
    channel = await store.channels.get(777)
    assert channel is not None
    return channel.cursor


async def test_live_posts_move_the_cursor_only_without_gaps(store: Store, db: Database) -> None:
    await _rule_setup(store)
    await store.posts.save(make_post(1), [], [])
    await store.posts.save(make_post(2), [], [])
    assert await cursor(store) == 2
    # post 3 failed to store: live post 4 must not hide it from the reconciler
    await store.posts.save(make_post(4), [], [])
    assert await cursor(store) == 2
    # the reconciler fetches everything above the cursor in order and moves it on
    await store.posts.save(make_post(3), [], [], source="reconcile")
    await store.posts.save(make_post(4), [], [], source="reconcile")
    assert await cursor(store) == 4
    await store.posts.save(make_post(2), [], [], source="reconcile")
    assert await cursor(store) == 4  # never back
    rows = await db.fetchall("SELECT message_id, source FROM posts ORDER BY 1")
    assert [(r[0], r[1]) for r in rows] == [(1, "live"), (2, "live"), (3, "reconcile"),
                                            (4, "live")]


async def test_integrity_and_foreign_keys_after_writes(store: Store, db: Database) -> None:
    rule_id = await _rule_setup(store)
    for i in range(1, 20):
        await store.posts.save(make_post(i), [RuleHitRecord(rule_id, [(0, 4)])],
                              [draft(make_post(i), 500)])
    await store.rules.delete(500, 1)
    await store.users.grant(42, Role.MEMBER, 500)
    assert (await db.fetchone("PRAGMA integrity_check"))[0] == "ok"  # type: ignore[index]
    assert await db.fetchall("PRAGMA foreign_key_check") == []


async def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        await store.posts.save(make_post(), [], [])  # channel 777 is unknown


async def test_failed_transaction_leaves_nothing_behind(store: Store, db: Database) -> None:
    await _rule_setup(store)
    # the alert names a chat that does not exist: the whole batch, post included, rolls back
    with pytest.raises(sqlite3.IntegrityError):
        await store.posts.save(make_post(9), [], [draft(make_post(9), 999)])
    assert (await db.fetchone("SELECT COUNT(*) FROM posts"))[0] == 0  # type: ignore[index]
    channel = await store.channels.get(777)
    assert channel is not None and channel.cursor == 0


async def test_rule_numbers_are_per_chat_and_never_reused(store: Store) -> None:
    await store.chats.upsert(1, ChatKind.PRIVATE, None)
    await store.chats.upsert(2, ChatKind.PRIVATE, None)
    a = await store.rules.add(1, "a", 1)
    b = await store.rules.add(1, "b", 1)
    c = await store.rules.add(2, "c", 2)
    assert (a.number, b.number, c.number) == (1, 2, 1)
    assert await store.rules.delete(1, 2) is not None
    assert await store.rules.delete(1, 2) is None
    d = await store.rules.add(1, "d", 1)
    assert d.number == 3
    assert [r.number for r in await store.rules.of_chat(1)] == [1, 3]


async def test_locked_database_gives_store_busy_and_loses_nothing(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "locked.sqlite3"
    db = await Database.open(path, busy_timeout_ms=100)
    try:
        await apply_migrations(db, clock)
        store = Store(db, clock)
        await store.channels.add(777, "kanal", "Канал", 5, added_by=1)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            with pytest.raises(StoreBusy):
                await store.posts.save(make_post(), [], [])
        finally:
            other.execute("ROLLBACK")
            other.close()
        # after the other writer is gone, the same post stores normally
        result = await store.posts.save(make_post(), [], [])
        assert result.created
    finally:
        await db.close()


async def test_batch_save_is_idempotent_and_moves_the_cursor(store: Store, db: Database) -> None:
    rule_id = await _rule_setup(store)
    await store.posts.save(make_post(2), [], [])
    items = [(make_post(i), [RuleHitRecord(rule_id, [(0, 4)])], [draft(make_post(i), 500)])
             for i in (1, 2, 3, 3)]
    results = await store.posts.save_many(items, source="reconcile")
    assert [(r.created, r.alerts_enqueued) for r in results] == [
        (True, 1), (False, 0), (True, 1), (False, 0)]
    assert results[2].post_id == results[3].post_id
    assert await cursor(store) == 3
    again = await store.posts.save_many(items, source="reconcile")
    assert not any(r.created for r in again)
    assert await db.fetchall("SELECT message_id FROM posts ORDER BY 1") is not None
    counts = [(await db.fetchone(f"SELECT COUNT(*) FROM {t}"))[0]  # type: ignore[index]
              for t in ("posts", "matches", "outbox")]
    assert counts == [3, 2, 2]
    with pytest.raises(ValueError, match="one by one"):
        await store.posts.save_many(items, source="live")


async def test_edits_of_backfilled_posts_and_stale_edits(store: Store, db: Database) -> None:
    rule_id = await _rule_setup(store)
    old = make_post(7, "Белгород: v1")
    await store.posts.save_many([(old, [RuleHitRecord(rule_id, [(0, 8)])], [])], source="backfill")
    v2 = Post(777, 7, old.date, "Белгород: v2", old.permalink,
              edit_date=old.date + dt.timedelta(minutes=5))
    edit = await store.posts.record_edit(v2)
    assert edit is not None and edit.changed
    assert edit.alerted_chats == frozenset({500})  # it matched before: the edit is no news
    stale = Post(777, 7, old.date, "Белгород: v1 again", old.permalink,
                 edit_date=old.date + dt.timedelta(minutes=1))
    again = await store.posts.record_edit(stale)
    assert again is not None and not again.changed
    row = await db.fetchone("SELECT text FROM posts WHERE message_id = 7")
    assert row is not None and row[0] == "Белгород: v2"


def test_alert_events_round_trip_through_their_stored_json() -> None:
    post = Post(channel_id=777, message_id=3, grouped_id=9, text="Дрон\nнад городом",
                date=dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC), views=5, media="photo",
                fwd_from="channel:1/2", edit_date=dt.datetime(2026, 11, 25, 10, 1, tzinfo=dt.UTC),
                permalink="https://t.me/kanal/3", channel_username="kanal")
    for event in (alert_event(post, 500, spans=[(0, 4)], places=["Шебекино"],
                              late_by=dt.timedelta(seconds=725.5)),
                  alert_event(post, 500, edited_match=True)):
        assert parse_event(event_json(event)) == event
    assert parse_event(None) is None  # a row queued before migration 0006
    assert parse_also('["<a href=\\"u\\">@old</a>", {"name": "@new", "url": "https://x/1"}]') == (
        '<a href="u">@old</a>', AlsoIn("@new", "https://x/1"))


async def test_dedup_compares_the_keys_the_caller_gives(store: Store, db: Database) -> None:
    """The store compares story keys and fingerprints; it does not work them out."""
    rule_id = await _rule_setup(store)
    await store.channels.add(888, "other", "Другой", 6, added_by=500)
    hits = [RuleHitRecord(rule_id, [(21, 31)])]
    first = make_post(1)
    repost = Post(channel_id=888, message_id=5, date=first.date, text="совсем другой текст",
                  permalink="https://t.me/other/5")
    same_story = StoryKeys("channel:777/1")
    await store.posts.save(first, hits, [draft(first, 500)], keys=same_story)
    result = await store.posts.save(repost, hits, [draft(repost, 500)], keys=same_story)
    assert result.alerts_enqueued == 1  # folded into the first alert as "also in"
    rows = await db.fetchall("SELECT kind, also FROM outbox ORDER BY id")
    assert [r["kind"] for r in rows] == ["alert"] and "other" in rows[0]["also"]
    # without keys a post takes no part in dedup: its own alert
    third = Post(channel_id=888, message_id=6, date=first.date, text="ещё текст",
                 permalink="https://t.me/other/6")
    await store.posts.save(third, hits, [draft(third, 500)])
    row = await db.fetchone("SELECT COUNT(*) FROM outbox WHERE kind = 'alert'")
    assert row is not None and row[0] == 2
    stored = await db.fetchall("SELECT story FROM posts ORDER BY message_id, channel_id")
    assert [r["story"] for r in stored] == ["channel:777/1", "channel:777/1", None]

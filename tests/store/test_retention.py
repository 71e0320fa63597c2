"""Retention on a real database and a real media store: old posts lose their text, earlier
versions, picture text and files (a file a newer post carries too is kept); ids, dates,
matches and counts stay; search shows them no more; a second run changes nothing; and
`vacuum` refuses while a service holds the database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.archive.search import ArchiveSearch
from bot.match import Lemmatizer
from bot.media.files import MediaFiles
from bot.models import ChatKind, MediaFile, Post
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.services.retention import RetentionJob
from bot.services.rules import RulesService
from bot.store import Database, Store
from bot.store.backup import BackupError, ServiceLock, vacuum
from tests.support.fakes import FakeClock
from tests.support.images import encode, scene

CHAT, CHANNEL = 11, 777


async def one(db: Database, sql: str, *args: object) -> tuple[object, ...]:
    row = await db.fetchone(sql, args)
    assert row is not None
    return tuple(row)


@pytest.fixture
async def filled(store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer,
                 tmp_path: Path) -> tuple[IngestService, MediaFiles, dict[str, Post]]:
    await store.chats.upsert(CHAT, ChatKind.PRIVATE, None)
    await store.channels.add(CHANNEL, "kanal", "Канал", None, None)
    rules = RulesService(store, lemmatizer)
    await rules.rebuild()
    await rules.add(CHAT, "дрон", CHAT)
    ingest = IngestService(store, rules, ZoneInfo("UTC"), clock,
                           AdminNotifier(store, frozenset()))
    files = MediaFiles(tmp_path / "media")
    files.make_temp()
    now = clock.now()
    old_only, shared = encode(scene(1)), encode(scene(2))
    posts: dict[str, Post] = {}
    for n, (name, days, text, picture) in enumerate((
            ("old", 40, "Старый пост: дрон над городом", old_only),
            ("old_shared", 35, "Старый пост с общим фото: дрон", shared),
            ("new", 1, "Новый пост: дрон у подстанции", shared)), start=1):
        post = Post(channel_id=CHANNEL, message_id=n, date=now - dt.timedelta(days=days),
                    text=text, permalink=f"https://t.me/kanal/{n}", channel_username="kanal",
                    media="photo", media_file=MediaFile(file_id=9000 + n, kind="photo",
                                                        mime="image/jpeg", ref=b"tl"))
        await ingest.ingest_many([post], source="reconcile")
        item = await store.media.next_due()
        assert item is not None
        part = tmp_path / f"{n}.part"
        part.write_bytes(picture)
        stored = files.put(part, "jpg")
        await store.media.stored(item, stored.sha256, stored.ext, stored.size)
        posts[name] = post
    old = posts["old"]
    await ingest.apply_edit(Post(**{**old.__dict__, "text": old.text + " (правка)",
                                    "edit_date": old.date + dt.timedelta(hours=1)}))
    sha_old = (await one(db, "SELECT sha256 FROM post_media WHERE file_id = 9001"))[0]
    await store.media.save_text(str(sha_old), "rus", "текст на картинке", None)
    return ingest, files, posts


async def test_old_text_versions_and_files_go_ids_matches_and_counts_stay(
        store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer,
        filled: tuple[IngestService, MediaFiles, dict[str, Post]]) -> None:
    _, files, posts = filled
    matches_before = await one(db, "SELECT COUNT(*) FROM matches")
    assert await one(db, "SELECT COUNT(*) FROM post_versions") == (1,)
    paths = {r[0]: files.path(r[1], "jpg") for r in await db.fetchall(
        "SELECT file_id, sha256 FROM post_media ORDER BY file_id")}
    dropped = await RetentionJob(store, files, 30, clock).run()
    assert (dropped.texts, dropped.files) == (2, 1) and dropped.bytes > 0
    rows = await db.fetchall("SELECT message_id, text, text_dropped_at IS NOT NULL FROM posts"
                             " ORDER BY message_id")
    assert [tuple(r) for r in rows] == [(1, "", 1), (2, "", 1), (3, posts["new"].text, 0)]
    assert await one(db, "SELECT COUNT(*) FROM post_versions") == (0,)
    assert await one(db, "SELECT COUNT(*) FROM matches") == matches_before
    states = await db.fetchall("SELECT file_id, state, sha256 IS NOT NULL FROM post_media"
                               " ORDER BY file_id")
    assert [tuple(r) for r in states] == [(9001, "expired", 1), (9002, "stored", 1),
                                          (9003, "stored", 1)]
    assert not paths[9001].exists() and paths[9002].exists()  # the shared file stays
    assert await one(db, "SELECT COUNT(*) FROM media") == (2,)  # what it was stays known
    assert await one(db, "SELECT COUNT(*) FROM media_text") == (0,)
    search = ArchiveSearch(store, lemmatizer)
    page = await search.page(search.compile("дрон"))
    assert [h.post.post.message_id for h in page.hits] == [3]
    # nothing more to drop
    again = await RetentionJob(store, files, 30, clock).run()
    assert (again.texts, again.files, again.bytes) == (0, 0, 0)
    # a day later the shared file is still kept: the newer post is 2 days old
    clock.advance(days=1)
    assert (await RetentionJob(store, files, 30, clock).run()).files == 0


async def test_vacuum_refuses_while_a_service_holds_the_database(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "chanwatch.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x TEXT)")
    conn.executemany("INSERT INTO t VALUES (?)", [("x" * 1000,)] * 2000)
    conn.commit()
    conn.execute("DELETE FROM t")
    conn.commit()
    conn.close()
    lock = ServiceLock(path)
    lock.hold()
    try:
        with pytest.raises(BackupError, match="the service is running"):
            vacuum(path)
    finally:
        lock.release()
    before, after = vacuum(path)
    assert after < before / 4
    with pytest.raises(BackupError, match="no database"):
        vacuum(tmp_path / "none.sqlite3")

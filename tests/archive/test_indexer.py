"""The index of posts stored before migration 0007 is built in the background, resumably."""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.archive.indexer import ArchiveIndexer
from bot.archive.search import ArchiveSearch
from bot.archive.terms import TermMaker
from bot.clock import to_iso
from bot.commands import Reply, Services
from bot.commands.context import CommandContext
from bot.commands.export import export_reply
from bot.commands.search import cmd_search
from bot.commands.stats import cmd_stats
from bot.match import Lemmatizer
from bot.models import ChatKind, Role, TextTerms
from bot.regions.places import PlaceMatcher
from bot.services.access import AccessService
from bot.services.rules import RulesService
from bot.services.watch import WatchService
from bot.store import Database, Store, apply_migrations
from bot.store.migrate import migrations_dir
from tests.archive.conftest import sample_posts
from tests.support.fakes import FakeClock, NoTelegram
from tests.support.harness import wait_until

ADMIN_CHAT = 77


async def _old_archive(tmp_path: Path, clock: FakeClock, posts: int) -> Database:
    """A database at schema 0006 with posts in it, then migrated to the current schema."""
    old = tmp_path / "old-migrations"
    old.mkdir()
    for path in sorted(migrations_dir().glob("*.sql"))[:6]:
        shutil.copy(path, old / path.name)
    db = await Database.open(tmp_path / "old.sqlite3")
    await apply_migrations(db, clock, old)
    rows = sample_posts(posts)

    async def fill(conn: object) -> None:
        for channel_id in sorted({p.channel_id for p in rows}):
            await conn.execute(  # type: ignore[attr-defined]
                "INSERT INTO channels (id, username, title, added_at) VALUES (?, ?, ?, ?)",
                (channel_id, rows[0].channel_username if channel_id == rows[0].channel_id
                 else f"c{channel_id}", f"Канал {channel_id}", to_iso(clock.now())))
        for p in rows:
            await conn.execute(  # type: ignore[attr-defined]
                "INSERT INTO posts (channel_id, message_id, date, text, permalink, received_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (p.channel_id, p.message_id, to_iso(p.date), p.text, p.permalink,
                 to_iso(clock.now())))

    await db.transaction(fill)  # type: ignore[arg-type]
    await apply_migrations(db, clock)
    return db


class FailingTerms(TermMaker):
    """Terms that fail on one text."""

    def __init__(self, inner: TermMaker, fail_at: int) -> None:
        self._inner, self._left = inner, fail_at

    def of(self, text: str) -> TextTerms:
        self._left -= 1
        if self._left == 0:
            raise RuntimeError("injected failure")
        return self._inner.of(text)


class BlockingTerms(TermMaker):
    """Terms that stop on the n-th text until released: a process killed mid-build."""

    def __init__(self, inner: TermMaker, block_at: int) -> None:
        self._inner, self._left = inner, block_at
        self.release = threading.Event()

    def of(self, text: str) -> TextTerms:
        self._left -= 1
        if self._left == 0:
            self.release.wait(10)
        return self._inner.of(text)


async def test_older_posts_are_indexed_with_progress_and_resume_after_a_stop(
        tmp_path: Path, clock: FakeClock, lemmatizer: Lemmatizer, places: PlaceMatcher,
        caplog: pytest.LogCaptureFixture) -> None:
    db = await _old_archive(tmp_path, clock, 60)
    try:
        store = Store(db, clock)
        terms = TermMaker.for_places(lemmatizer, places)
        search = ArchiveSearch(store, lemmatizer, places)
        blocking = BlockingTerms(terms, block_at=15)
        indexer = ArchiveIndexer(store, blocking, batch=10)
        assert (await indexer.progress()).total == 60
        compiled = search.compile("Украина")
        assert (await search.count(compiled)).total == 0  # nothing indexed yet
        task = asyncio.ensure_future(indexer.run())

        async def first_batch() -> bool:
            return (await indexer.progress()).done == 10
        await wait_until(first_batch)
        task.cancel()
        blocking.release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await indexer.progress()).done == 10  # the finished batch is kept
        caplog.set_level(logging.INFO, logger="bot.archive.indexer")
        again = ArchiveIndexer(store, terms, batch=10)
        assert await again.run() == 50
        assert (await again.progress()).finished
        assert await again.run() == 0
        assert "search index: 50 posts indexed" in caplog.text
        assert "search index built: 50 posts" in caplog.text
        docs = await db.fetchone("SELECT COUNT(*) FROM posts_fts")
        assert docs is not None and docs[0] == 60  # every post once, none twice
        expected = [p.message_id for p in sample_posts(60)
                    if compiled.index.match(p.text, p.channel_username)]
        assert expected
        assert (await search.count(compiled)).total == len(expected)
    finally:
        await db.close()


async def test_a_text_that_fails_is_skipped_and_a_busy_database_waited_for(
        tmp_path: Path, clock: FakeClock, lemmatizer: Lemmatizer,
        caplog: pytest.LogCaptureFixture) -> None:
    db = await _old_archive(tmp_path, clock, 12)
    try:
        store = Store(db, clock)
        indexer = ArchiveIndexer(store, FailingTerms(TermMaker(lemmatizer), fail_at=3),
                                 batch=5)
        indexer.busy_pause = 0.05
        await db.fetchone("PRAGMA busy_timeout = 50")
        other = sqlite3.connect(tmp_path / "old.sqlite3")
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        task = asyncio.ensure_future(indexer.run())
        await asyncio.sleep(0.5)
        assert not task.done() and (await indexer.progress()).done == 0
        other.rollback()
        other.close()
        assert await asyncio.wait_for(task, 10) == 12
        assert "could not be analysed" in caplog.text and "database busy" in caplog.text
        docs = await db.fetchone("SELECT COUNT(*) FROM posts_fts")
        assert docs is not None and docs[0] == 12
    finally:
        await db.close()


async def test_a_new_database_has_nothing_to_build(store: Store, lemmatizer: Lemmatizer) -> None:
    indexer = ArchiveIndexer(store, TermMaker(lemmatizer))
    assert (await indexer.progress()).finished
    assert await indexer.run() == 0


async def test_search_stats_and_export_say_while_older_posts_are_not_indexed_yet(
        tmp_path: Path, clock: FakeClock, lemmatizer: Lemmatizer, places: PlaceMatcher) -> None:
    db = await _old_archive(tmp_path, clock, 40)
    try:
        store = Store(db, clock)
        terms = TermMaker.for_places(lemmatizer, places)
        indexer = ArchiveIndexer(store, terms, batch=10)
        svc = Services(store, AccessService(store, frozenset({ADMIN_CHAT})),
                       WatchService(store, NoTelegram()),
                       RulesService(store, lemmatizer, places=places), ZoneInfo("UTC"),
                       clock=clock, archive=ArchiveSearch(store, lemmatizer, places),
                       indexer=indexer)

        async def replies() -> list[str]:
            out = []
            for handler, args in ((cmd_search, "Украина"), (cmd_stats, "Украина 90d")):
                ctx = CommandContext(ADMIN_CHAT, ADMIN_CHAT, ChatKind.PRIVATE, None, args,
                                     Role.ADMIN)
                reply = await handler(ctx, svc)
                out.append(reply.html if isinstance(reply, Reply) else reply)
            ctx = CommandContext(ADMIN_CHAT, ADMIN_CHAT, ChatKind.PRIVATE, None, "csv",
                                 Role.ADMIN)
            reply = await export_reply(ctx, svc, gzip_above=10**7, limit=10**8)
            out.append(reply.html if isinstance(reply, Reply) else reply)
            return out

        note = "The search index of older posts is still being built ({}% done)"
        assert all(note.format(0) in r for r in await replies())
        await store.archive.index_batch([], 20)  # half of the 40 posts indexed
        assert all(note.format(50) in r for r in await replies())
        await indexer.run()
        assert not any("still being built" in r for r in await replies())
    finally:
        await db.close()

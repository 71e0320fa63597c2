"""``chanwatch import`` into a real SQLite archive: idempotent, all-or-nothing, never alerting."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.archive.export import ArchiveAccess, export
from bot.archive.importer import ImportProgress, import_paths
from bot.archive.search import ArchiveSearch
from bot.archive.tdexport import ImportFormatError
from bot.cli import main
from bot.match import Lemmatizer
from bot.models import ChatKind, Post
from bot.regions.places import PlaceMatcher
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.services.rules import RulesService
from bot.store import Database, Store, apply_migrations
from bot.store.records import SearchWindow
from tests.support.fakes import FakeClock

DATA = Path(__file__).resolve().parent.parent / "data" / "telegram_desktop"
FULL = DATA / "channel_full.json"
CHANNEL = 1650038103
TABLES = ("posts", "posts_fts", "post_versions", "channels", "matches", "outbox",
          "posts_fts_config")


@dataclass
class Target:
    store: Store
    lemmatizer: Lemmatizer
    places: PlaceMatcher


@pytest.fixture
def target(store: Store, lemmatizer: Lemmatizer, places: PlaceMatcher) -> Target:
    return Target(store, lemmatizer, places)


async def counts(db: Database) -> dict[str, int]:
    out = {}
    for table in TABLES:
        row = await db.fetchone(f"SELECT COUNT(*) FROM {table}")
        assert row is not None
        out[table] = int(row[0])
    return out


async def test_import_twice_changes_nothing(db: Database, target: Target) -> None:
    first = await import_paths(target, [FULL])
    assert (first.new, first.existing, first.service, first.empty) == (19, 0, 3, 1)
    after_first = await counts(db)
    assert after_first["posts"] == 19 and after_first["channels"] == 1
    assert after_first["posts_fts"] == 19  # one document per text
    second = await import_paths(target, [FULL])
    assert (second.new, second.existing) == (0, 19)
    assert await counts(db) == after_first
    # the bulk-load setting of the index is back to FTS5's default
    hashsize = await db.fetchone("SELECT v FROM posts_fts_config WHERE k = 'hashsize'")
    assert hashsize is not None and hashsize[0] == 1 << 20
    assert second.line() == ("imported 1 file: 0 posts new, 19 already there, 4 skipped"
                             " (3 service messages, 1 empty)")


async def test_imported_posts_are_found_counted_and_never_alert(
        db: Database, store: Store, target: Target, lemmatizer: Lemmatizer,
        places: PlaceMatcher) -> None:
    rules = RulesService(store, lemmatizer, places=places)
    await store.chats.upsert(1, ChatKind.PRIVATE, None)
    rule, _ = await rules.add(1, "Белгород", 1)
    await import_paths(target, [FULL])
    found = await db.fetchall("SELECT p.message_id FROM matches m JOIN posts p"
                              " ON p.id = m.post_id WHERE m.rule_id = ? ORDER BY 1", (rule.id,))
    assert [r[0] for r in found] == [2]  # «Над Белгородом»: recorded like backfill
    assert (await counts(db))["outbox"] == 0
    search = ArchiveSearch(store, lemmatizer, places)
    page = await search.page(search.compile("Белгород"))
    assert sorted(h.post.post.message_id for h in page.hits) == [2]
    assert {h.post.source for h in page.hits} == {"import"}
    page = await search.page(search.compile("region:belgorod"))
    assert sorted(h.post.post.message_id for h in page.hits) == [2, 3]  # Шебекино too
    by_day = await store.archive.count_by(None, SearchWindow(), "day")
    assert by_day == [("2024-03-01", "Вести Белгорода", 19)]


async def test_a_live_post_of_the_channel_meets_the_imported_ones(
        db: Database, store: Store, target: Target, clock: FakeClock, lemmatizer: Lemmatizer,
        places: PlaceMatcher) -> None:
    await import_paths(target, [FULL])
    # /watch of the same channel later: the same row becomes active, with its username
    channel, _ = await store.channels.add(CHANNEL, "vesti_belgorod", "Вести Белгорода", 99, 1)
    assert channel.status == "active"
    rules = RulesService(store, lemmatizer, places=places)
    ingest = IngestService(store, rules, ZoneInfo("UTC"), clock,
                           AdminNotifier(store, frozenset()))
    date = dt.datetime(2024, 3, 1, 12, 5, tzinfo=dt.UTC)
    again = await ingest.ingest(Post(CHANNEL, 2, date, "Над Белгородом сбиты две ракеты",
                                     "https://t.me/vesti_belgorod/2",
                                     channel_username="vesti_belgorod"), source="reconcile")
    assert not again.created
    fresh = await ingest.ingest(Post(CHANNEL, 25, date, "Новый пост", "https://t.me/x/25",
                                     channel_username="vesti_belgorod"))
    assert fresh.created
    got = await counts(db)
    assert (got["posts"], got["channels"]) == (20, 1)
    # a later import of the channel links its posts with the username the archive knows
    summary = await import_paths(target, [DATA / "legacy_2020.json", FULL])
    assert (summary.new, summary.existing) == (3, 19)


async def test_username_from_the_archive_gives_public_links(store: Store,
                                                           target: Target) -> None:
    await store.channels.add(CHANNEL, "vesti_belgorod", "Вести", None, 1)
    await import_paths(target, [FULL])
    assert await store.posts.text(CHANNEL, 2) == "Над Белгородом сбиты две ракеты"
    rows = await store.archive.posts([1])
    assert rows[0].post.permalink == "https://t.me/vesti_belgorod/2"


def _big_export(path: Path, messages: int, broken_at: int | None = None) -> int | None:
    """An export of ``messages`` posts; message ``broken_at`` lacks a comma. Its line."""
    lines = ['{', ' "name": "Большой канал",', ' "type": "public_channel",', ' "id": 424242,',
             ' "messages": [']
    broken_line = None
    for n in range(1, messages + 1):
        comma = "" if n == broken_at else ","
        if n == broken_at:
            broken_line = len(lines) + 4  # the key after the missing comma
        lines += ["  {", f'   "id": {n},', f'   "type": "message"{comma}',
                  f'   "date_unixtime": "{1709294400 + n}",', f'   "text": "Белгород {n}"',
                  "  }" + ("," if n < messages else "")]
    lines += [" ]", "}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return broken_line


async def test_malformed_file_leaves_nothing_half_written(db: Database, target: Target,
                                                          tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    _big_export(good, 10)
    bad = tmp_path / "bad.json"
    line = _big_export(bad, 2600, broken_at=2500)
    seen: list[ImportProgress] = []
    await import_paths(target, [good])
    before = await counts(db)
    with pytest.raises(ImportFormatError) as caught:
        # batches of 500: five were written inside the transaction before the error
        await import_paths(target, [bad], seen.append, batch=500)
    assert str(caught.value) == (f"{bad}: line {line} column 4: Expecting ',' delimiter"
                                 " (message 2500)")
    assert [p.posts for p in seen] == [500, 1000, 1500, 2000]
    assert await counts(db) == before  # rolled back: the good file's posts only
    configs = await db.fetchall("SELECT k, v FROM posts_fts_config ORDER BY k")
    assert ("hashsize", 1 << 20) in [tuple(r) for r in configs]


async def test_unreadable_and_foreign_files(target: Target, tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("  \n")
    with pytest.raises(ImportFormatError, match=r"empty\.json: the file is empty"):
        await import_paths(target, [empty])
    array = tmp_path / "array.json"
    array.write_text("[1, 2]")
    with pytest.raises(ImportFormatError, match="nor chanwatch JSONL"):
        await import_paths(target, [array])
    broken_gzip = tmp_path / "x.jsonl.gz"
    broken_gzip.write_bytes(gzip.compress(b'{"channel_id": 1}\n' * 50)[:40])
    with pytest.raises(ImportFormatError, match=r"x\.jsonl\.gz: cannot read it"):
        await import_paths(target, [broken_gzip])


async def _filled(store: Store, clock: FakeClock, lemmatizer: Lemmatizer,
                  places: PlaceMatcher) -> None:
    """A live archive: posts, an edit, a deletion, an album, a forward, reactions."""
    rules = RulesService(store, lemmatizer, places=places)
    ingest = IngestService(store, rules, ZoneInfo("UTC"), clock,
                           AdminNotifier(store, frozenset()))
    await store.channels.add(500, "news_bel", "Новости Белгорода", None, 1)
    await store.channels.add(600, None, "Закрытый канал", None, 1)
    base = dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC)
    posts = [
        Post(500, 1, base, "Над Белгородом сбит беспилотник", "https://t.me/news_bel/1",
             views=120, forwards=3, channel_username="news_bel"),
        Post(500, 2, base + dt.timedelta(minutes=5), "Фото с места", "https://t.me/news_bel/2",
             grouped_id=9876543210, media="photo", channel_username="news_bel"),
        Post(500, 3, base + dt.timedelta(minutes=5), "", "https://t.me/news_bel/3",
             grouped_id=9876543210, media="photo", channel_username="news_bel"),
        Post(600, 7, base + dt.timedelta(hours=1), "Переслано: Курск", "https://t.me/c/600/7",
             fwd_from="channel:500/1", reply_to=1),
    ]
    for post in posts:
        await ingest.ingest(post)
    await ingest.apply_edit(Post(500, 1, base, "Над Белгородом сбиты два беспилотника",
                                 "https://t.me/news_bel/1",
                                 edit_date=base + dt.timedelta(minutes=30),
                                 channel_username="news_bel"))
    await ingest.apply_deletions(600, [7])


async def _snapshot(db: Database) -> list[tuple[object, ...]]:
    rows = await db.fetchall(
        "SELECT channel_id, message_id, date, edit_date, text, views, forwards, fwd_from,"
        " reply_to, grouped_id, media, permalink, deleted_at, text_version, regions,"
        " (SELECT group_concat(text, '|') FROM post_versions v WHERE v.post_id = posts.id)"
        " FROM posts ORDER BY channel_id, message_id")
    return [tuple(r) for r in rows]


async def test_export_then_import_into_an_empty_archive_gives_the_same_posts(
        store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer,
        places: PlaceMatcher, tmp_path: Path) -> None:
    await _filled(store, clock, lemmatizer, places)
    search = ArchiveSearch(store, lemmatizer, places)
    out = io.BytesIO()
    await export(ArchiveAccess(store, search), SearchWindow(), "jsonl", out)
    plain = tmp_path / "archive.jsonl"
    plain.write_bytes(out.getvalue())
    zipped = tmp_path / "archive.jsonl.gz"
    zipped.write_bytes(gzip.compress(out.getvalue()))
    expected = await _snapshot(db)
    assert len(expected) == 4 and expected[0][13] == 1  # the edit is there to carry
    for path in (plain, zipped):
        other = await Database.open(tmp_path / f"{path.name}.sqlite3")
        try:
            await apply_migrations(other, clock)
            fresh = Store(other, clock)
            summary = await import_paths(Target(fresh, lemmatizer, places), [path])
            assert (summary.new, summary.existing) == (4, 0)
            assert await _snapshot(other) == expected
            # the edited post is found by its current text and not by the one edited away
            found = ArchiveSearch(fresh, lemmatizer, places)
            hits = (await found.page(found.compile("беспилотник"))).hits
            assert [(h.post.post.channel_id, h.post.post.message_id, h.post.edits)
                    for h in hits] == [(500, 1, 1)]
            titles = await other.fetchall("SELECT id, username, title, status FROM channels"
                                          " ORDER BY id")
            assert [tuple(r) for r in titles] == [(500, "news_bel", "Новости Белгорода",
                                                   "unwatched"),
                                                  (600, None, "Закрытый канал", "unwatched")]
            assert (await counts(other))["outbox"] == 0
        finally:
            await other.close()


async def test_jsonl_bad_line_is_named(db: Database, target: Target, tmp_path: Path) -> None:
    good = {"channel_id": 5, "message_id": 1, "date": "2026-11-20T08:00:00+00:00",
            "text": "первый"}
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "message_id": 2}) + "\n"
                    + '{"channel_id": 5, "message_id": 3, "date": \n', encoding="utf-8")
    with pytest.raises(ImportFormatError, match=r"x.jsonl: line 3 column 44: Expecting value"):
        await import_paths(target, [path])
    path.write_text(json.dumps({**good, "date": "yesterday"}) + "\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match=r"line 1: date is not a date: 'yesterday'"):
        await import_paths(target, [path])
    assert (await counts(db))["posts"] == 0


@pytest.fixture(scope="module")
def cli_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the CLI tests: the gazetteer's compiled cache is built once."""
    return tmp_path_factory.mktemp("cli")


def test_cli_imports_and_reports(cli_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = cli_dir / "ok.sqlite3"
    code = main(["import", str(FULL), str(DATA / "devtwitter_2021_cut.json"), "--db", str(db)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out == ("imported 2 files: 64 posts new, 0 already there, 4 skipped"
                   " (3 service messages, 1 empty)\n")
    assert err == ""  # no progress bar: stderr is no terminal here


def test_cli_errors_are_one_line(cli_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = cli_dir / "errors.sqlite3"
    bad = cli_dir / "bad.json"
    line = _big_export(bad, 3, broken_at=2)
    code = main(["import", str(DATA / "legacy_2020.json"), str(bad), "--db", str(db)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == (f"chanwatch: {bad}: line {line} column 4: Expecting ',' delimiter (message 2)"
                   " — nothing of it was imported; imported 1 file: 3 posts new, 0 already"
                   " there, 1 skipped (1 service messages, 0 empty) before it\n")
    code = main(["import", str(FULL), str(bad), "--username", "x", "--db", str(db)])
    assert code == 2 and "one file" in capsys.readouterr().err
    code = main(["import", str(cli_dir / "missing.json"), "--db", str(db)])
    assert code == 2 and "missing.json: no such file" in capsys.readouterr().err


async def test_gzipped_export_with_progress(db: Database, target: Target, tmp_path: Path) -> None:
    path = tmp_path / "result.json.gz"
    plain = tmp_path / "result.json"
    _big_export(plain, 1200)
    path.write_bytes(gzip.compress(plain.read_bytes()))
    seen: list[ImportProgress] = []
    summary = await import_paths(target, [path], seen.append, batch=500)
    assert (summary.new, summary.existing) == (1200, 0)
    assert [p.posts for p in seen] == [500, 1000, 1200]
    done = [p.done_bytes for p in seen]
    assert done == sorted(done) and done[-1] == seen[-1].total_bytes == path.stat().st_size
    assert (await counts(db))["posts"] == 1200

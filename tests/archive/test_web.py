"""``chanwatch web``: the real command in a subprocess, over a real database, asked over HTTP.

The database is filled through the real ingest path (the bundled posts, a rule, an edit, a
deletion); the server is ``python -m bot web`` on a free loopback port; every answer comes
from Datasette over HTTP (httpx), and once from Debian's chromium, headless.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import io
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.cli_tools.archive import cache_dir
from bot.match import CompiledRule, Lemmatizer, RuleIndex, parse_rule
from bot.models import ChatKind, MediaFile, Post
from bot.regions.places import PlaceMatcher
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.services.rules import RulesService
from bot.store import Database, Store, apply_migrations
from bot.store.archive import IMAGE_TEXT
from tests.archive.conftest import CHANNEL_IDS, TITLES, sample_posts
from tests.support.fakes import FakeClock

PASSWORD = "correct horse battery staple"
START_TIMEOUT = 90.0
OURS = "Ночью над Белгородом сбили две ракеты, сообщил губернатор."
OURS_EDITED = "Ночью над Белгородом сбили три ракеты, сообщил губернатор."
PHOTO_TEXT = "Фото дня"  # the post says nothing of Belgorod; its picture does
IN_PICTURE = "Над Белгородом сбит беспилотник\nВидео очевидцев"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass(frozen=True)
class Archive:
    """The database file and what the fixture put in it."""

    path: Path
    ours: int  # post id of the post edited once
    photo: int  # post id of the post whose picture's text (OCR) names Belgorod
    deleted: int  # post id of a deleted post
    deleted_text: str


async def _fill(path: Path, lemmatizer: Lemmatizer, places: PlaceMatcher) -> Archive:
    clock = FakeClock()
    db = await Database.open(path)
    try:
        await apply_migrations(db, clock)
        store = Store(db, clock)
        rules = RulesService(store, lemmatizer, places=places)
        ingest = IngestService(store, rules, ZoneInfo("UTC"), clock,
                               AdminNotifier(store, frozenset()))
        await store.chats.upsert(1, ChatKind.PRIVATE, None)
        await rules.add(1, "Белгород", 1)  # rule 1 of chat 1: its matches are recorded
        for name, channel_id in sorted(CHANNEL_IDS.items()):
            await store.channels.add(channel_id, name, TITLES[name], None, 1)
        posts = sample_posts()
        for post in posts:
            await ingest.ingest(post)
        newest = max(p.date for p in posts)
        mine = Post(CHANNEL_IDS["mash"], 900001, newest, OURS, "https://t.me/mash/900001",
                    channel_username="mash")
        ours = (await ingest.ingest(mine)).post_id
        await ingest.apply_edit(Post(mine.channel_id, mine.message_id, mine.date, OURS_EDITED,
                                     mine.permalink, edit_date=newest,
                                     channel_username="mash"))
        gone = posts[0]
        await ingest.apply_deletions(gone.channel_id, [gone.message_id])
        row = await db.fetchone("SELECT id FROM posts WHERE channel_id = ? AND message_id = ?",
                                (gone.channel_id, gone.message_id))
        assert row is not None
        return Archive(path, ours, await _photo(store, ingest, newest), int(row[0]), gone.text)
    finally:
        await db.close()


async def _photo(store: Store, ingest: IngestService, date: dt.datetime) -> int:
    """A post with a picture, filed and read as the downloader and the OCR worker do."""
    post = Post(CHANNEL_IDS["mash"], 900002, date, PHOTO_TEXT, "https://t.me/mash/900002",
                channel_username="mash", media="photo",
                media_file=MediaFile(file_id=4242, kind="photo", mime="image/jpeg", ref=b"tl"))
    post_id = (await ingest.ingest(post)).post_id
    queued = await store.media.next_due()
    assert queued is not None and queued.message_id == post.message_id
    sha = hashlib.sha256(IN_PICTURE.encode()).hexdigest()
    await store.media.stored(queued, sha, "jpg", 1234)
    item = await store.media.next_ocr()
    assert item is not None and item.post_id == post_id
    await store.media.save_text(sha, "rus+ukr+eng", IN_PICTURE)
    await ingest.apply_image_text(item, IN_PICTURE)
    return post_id


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, lemmatizer: Lemmatizer,
            places: PlaceMatcher) -> Archive:
    path = tmp_path_factory.mktemp("web") / "chanwatch.sqlite3"
    filled = asyncio.run(_fill(path, lemmatizer, places))
    # compile the gazetteer cache once, here: the servers then start in a second, and never
    # write the same cache file at once
    PlaceMatcher.cached(lemmatizer, cache_dir(path))
    return filled


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chanwatch(*args: str) -> list[str]:
    """The command line (settings only from the environment: no .env is read)."""
    return [sys.executable, "-m", "bot", "--env-file", os.devnull, "web", *args]


def environment(password: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "WEB_PASSWORD"}
    if password is not None:
        env["WEB_PASSWORD"] = password
    return env



class Server:
    """``chanwatch web`` running in a subprocess on a free loopback port."""

    def __init__(self, db: Path, password: str | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            chanwatch("--db", str(db), "--port", str(self.port)), env=environment(password),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"chanwatch web exited: {self.proc.communicate()}")
            try:
                httpx.get(f"{self.url}/-/versions.json", timeout=2.0)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError("chanwatch web did not start")

    def stop(self) -> tuple[int, str]:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=20)
        return self.proc.returncode, err


@pytest.fixture(scope="module")
def servers(archive: Archive) -> Iterator[dict[str, Server]]:
    # both start at once: each loads the dictionaries and the gazetteer (seconds)
    started = {"open": Server(archive.path, None), "guarded": Server(archive.path, PASSWORD)}
    try:
        for server in started.values():
            server.wait_ready()
        yield started
    finally:
        for server in started.values():
            if server.proc.poll() is None:
                server.stop()


@pytest.fixture
def web(servers: dict[str, Server]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=servers["open"].url, timeout=30.0) as client:
        yield client


def expected_ids(db: Path, lemmatizer: Lemmatizer, places: PlaceMatcher, query: str) -> set[int]:
    """Post ids the rule's own matcher accepts, over every post's current text and the text
    in its pictures."""
    index = RuleIndex.build(lemmatizer, [CompiledRule(0, 0, parse_rule(query))], places)
    with sqlite3.connect(db) as conn:
        rows = conn.execute(f"SELECT p.id, p.text, c.username, {IMAGE_TEXT} FROM posts p"
                            " JOIN channels c ON c.id = p.channel_id").fetchall()
    return {int(i) for i, text, username, pictures in rows
            if index.match(text, username) or (pictures and index.match(pictures, username))}


def rows(client: httpx.Client, path: str, **params: str) -> list[dict[str, object]]:
    answer = client.get(path, params={"_shape": "objects", "_size": "max", **params})
    assert answer.status_code == 200, answer.text
    found: list[dict[str, object]] = answer.json()["rows"]
    return found


# ---------------------------------------------------------------------------- search
def test_search_box_takes_the_rule_language_and_word_forms(
        web: httpx.Client, archive: Archive, lemmatizer: Lemmatizer,
        places: PlaceMatcher) -> None:
    found = rows(web, "/archive/posts.json", _search="Белгород")
    ids = {int(str(r["id"])) for r in found}
    assert archive.ours in ids  # «над Белгородом»: a form, not the word typed
    assert archive.photo in ids  # found by the text in its picture
    assert ids == expected_ids(archive.path, lemmatizer, places, "Белгород")
    dates = [str(r["date"]) for r in found]
    assert dates == sorted(dates, reverse=True)  # newest first


@pytest.mark.parametrize("query", ['"над Белгородом"', "Белгород* channel:@mash",
                                   "region:belgorod NOT ракеты", "Белгород OR Курск"])
def test_search_agrees_with_the_matcher(web: httpx.Client, archive: Archive, query: str,
                                        lemmatizer: Lemmatizer, places: PlaceMatcher) -> None:
    found = {int(str(r["id"])) for r in rows(web, "/archive/posts.json", _search=query)}
    assert found == expected_ids(archive.path, lemmatizer, places, query)


def test_canned_search_query_finds_the_same_posts(web: httpx.Client, archive: Archive) -> None:
    table = {int(str(r["id"])) for r in rows(web, "/archive/posts.json", _search="Белгород")}
    canned = rows(web, "/archive/search.json", q="Белгород")
    assert {int(str(r["id"])) for r in canned} == table
    assert {str(r["channel"]) for r in canned} <= set(TITLES.values())
    pictures = {int(str(r["id"])): r["image_text"] for r in canned}
    assert pictures[archive.photo] == IN_PICTURE  # the text that made it match, shown
    assert pictures[archive.ours] is None
    read = rows(web, "/archive/media_text.json")
    assert [r["text"] for r in read] == [IN_PICTURE]


def test_a_period_after_the_query_narrows_it(web: httpx.Client) -> None:
    every = rows(web, "/archive/posts.json", _search="Белгород since 2000-01-01")
    assert every and every == rows(web, "/archive/posts.json", _search="Белгород")
    assert rows(web, "/archive/posts.json", _search="Белгород until 2000-01-01") == []


@pytest.mark.parametrize(("query", "says"), [
    ("Белгород AND (", "cannot understand the query"),
    ("region:nowhere-at-all", "nowhere-at-all"),
    ("Белгород since yesterday-ish", "cannot read the time"),
])
def test_a_bad_query_gets_one_clear_line(web: httpx.Client, query: str, says: str) -> None:
    answer = web.get("/archive/posts.json", params={"_search": query})
    assert answer.status_code == 400
    assert says in answer.json()["error"]


def test_query_text_never_reaches_fts5_syntax(web: httpx.Client) -> None:
    # FTS5 operators and quotes typed as words are searched for, never run
    for query in ['"NEAR(a b)" OR x*', "a\"b", "^x", "col:term"]:
        answer = web.get("/archive/posts.json", params={"_search": query})
        assert answer.status_code in (200, 400), answer.text
        assert "fts5" not in answer.text.lower()


# ---------------------------------------------------------------------------- output and facets
def test_csv_out_has_the_search_results(web: httpx.Client) -> None:
    answer = web.get("/archive/posts.csv", params={"_search": "Белгород", "_size": "max"})
    assert answer.status_code == 200
    table = list(csv.DictReader(io.StringIO(answer.text)))
    json_rows = rows(web, "/archive/posts.json", _search="Белгород")
    assert [r["id"] for r in table] == [str(r["id"]) for r in json_rows]
    assert OURS_EDITED in {r["text"] for r in table}


def test_facets_by_channel_date_and_region(web: httpx.Client) -> None:
    answer = web.get("/archive/posts.json", params={"_search": "Белгород"})
    body = answer.json()
    facets = body["facet_results"]
    channels = {str(v["label"]): int(v["count"]) for v in facets["channel_id"]["results"]}
    assert set(channels) <= set(TITLES.values()) and "Mash" in channels
    assert sum(channels.values()) == body["filtered_table_rows_count"]
    assert any("RU-BEL" in str(v["value"]) for v in facets["regions"]["results"])
    assert facets["date"]["results"]  # by day
    # a facet value narrows the search
    mash = web.get("/archive/posts.json", params={
        "_search": "Белгород", "channel_id": str(CHANNEL_IDS["mash"]), "_shape": "objects"})
    assert mash.json()["filtered_table_rows_count"] == channels["Mash"]


# ---------------------------------------------------------------------------- canned queries
def test_matches_of_a_rule(web: httpx.Client, archive: Archive) -> None:
    found = rows(web, "/archive/rule_matches.json", chat_id="1", rule="1")
    with sqlite3.connect(archive.path) as conn:
        stored = {int(r[0]) for r in conn.execute(
            "SELECT m.post_id FROM matches m JOIN rules r ON r.id = m.rule_id"
            " WHERE r.chat_id = 1 AND r.number = 1")}
    assert archive.ours in stored
    assert {int(str(r["post_id"])) for r in found} == stored
    assert rows(web, "/archive/rule_matches.json", chat_id="1", rule="2") == []


def test_deleted_posts_keep_their_text(web: httpx.Client, archive: Archive) -> None:
    found = rows(web, "/archive/deleted_posts.json")
    assert [(int(str(r["id"])), r["text"]) for r in found] == [
        (archive.deleted, archive.deleted_text)]
    assert found[0]["deleted_at"]


def test_edits_show_every_version(web: httpx.Client, archive: Archive) -> None:
    found = [r for r in rows(web, "/archive/edits.json") if r["post"] == archive.ours]
    assert [(r["version"], r["text"]) for r in found] == [(0, OURS), (1, OURS_EDITED)]


# ---------------------------------------------------------------------------- read-only, private
def test_writes_are_refused(web: httpx.Client, archive: Archive) -> None:
    with sqlite3.connect(archive.path) as conn:
        before = conn.execute("SELECT COUNT(*), MAX(id) FROM posts").fetchone()
    for sql in ["DELETE FROM posts", "UPDATE posts SET text = ''",
                "WITH x AS (SELECT 1) DELETE FROM posts", "PRAGMA journal_mode = DELETE"]:
        answer = web.get("/archive.json", params={"sql": sql})
        assert answer.status_code == 400 and answer.json()["ok"] is False, sql
    for path in ["/archive/search", "/archive/posts", "/-/messages"]:
        assert web.post(path, data={"q": "x"}).status_code == 405, path
    with sqlite3.connect(archive.path) as conn:
        assert conn.execute("SELECT COUNT(*), MAX(id) FROM posts").fetchone() == before


def test_the_services_own_tables_cannot_be_read(web: httpx.Client) -> None:
    for table in ["chats", "outbox", "webhooks", "users"]:
        assert web.get(f"/archive/{table}.json").status_code == 403, table
        answer = web.get("/archive.json", params={"sql": f"SELECT * FROM {table}"})
        assert answer.status_code == 400 and "prohibited" in answer.json()["error"], table
    listed = {t["name"] for t in web.get("/archive.json").json()["tables"]}
    assert {"posts", "channels", "post_versions"} <= listed
    assert not listed & {"chats", "outbox", "webhooks", "users"}
    assert web.get("/archive.db").status_code in (403, 404)  # no download of the file


def test_a_password_guards_every_request(servers: dict[str, Server]) -> None:
    url = servers["guarded"].url
    for path in ["/", "/archive/posts.json", "/archive/search.csv?q=x", "/-/versions.json"]:
        refused = httpx.get(url + path)
        assert refused.status_code == 401, path
        assert refused.headers["www-authenticate"].startswith("Basic")
    assert httpx.get(url + "/archive/posts.json", auth=("anyone", "wrong")).status_code == 401
    assert httpx.get(url + "/archive/posts.json", auth=("anyone", PASSWORD)).status_code == 200
    bearer = {"Authorization": f"Bearer {PASSWORD}"}
    assert httpx.get(url + "/archive/posts.json", headers=bearer).status_code == 200
    assert httpx.get(url + "/archive/posts.json",
                     headers={"Authorization": "Basic %%%"}).status_code == 401


# ---------------------------------------------------------------------------- refusals
def refused(*args: str, password: str | None = None) -> str:
    done = subprocess.run(chanwatch(*args), env=environment(password), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chanwatch: "), done.stderr
    return lines[0]


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "example.org"])
def test_a_public_address_needs_a_password(archive: Archive, host: str) -> None:
    assert "WEB_PASSWORD" in refused("--db", str(archive.path), "--host", host)


def test_bad_databases_and_ports_get_one_line(archive: Archive, tmp_path: Path,
                                              servers: dict[str, Server]) -> None:
    assert "no database at" in refused("--db", str(tmp_path / "none.sqlite3"))
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).close()
    assert "not a chanwatch database" in refused("--db", str(empty))
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    assert "cannot read" in refused("--db", str(junk))
    busy = servers["open"].port
    assert "cannot listen" in refused("--db", str(archive.path), "--port", str(busy))
    assert "--port" in refused("--db", str(archive.path), "--port", "70000")


def test_it_stops_cleanly_on_sigterm(archive: Archive) -> None:
    server = Server(archive.path, None)
    server.wait_ready()
    code, err = server.stop()
    assert code == 0, err
    assert PASSWORD not in err


# ---------------------------------------------------------------------------- a real browser
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not found (.ci/run installs Debian's)")
def test_a_headless_browser_loads_a_search_page(servers: dict[str, Server],
                                                tmp_path: Path) -> None:
    url = servers["open"].url + "/archive/posts?" + str(httpx.QueryParams({"_search": "Белгород"}))
    done = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url],
        capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert 'name="_search"' in dom and 'value="Белгород"' in dom  # the search box, filled
    assert OURS_EDITED in dom  # the post found through a word form, in the results table
    assert "Mash" in dom  # the channel facet

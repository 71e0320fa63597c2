"""Live-path throughput: real posts through match + index terms + store, one transaction each.

Replays posts of the ru-news-2024 dataset (../shared/data) through chanwatch's IngestService
the way the live handler does (``ingest(post)``: one post, one transaction, its full-text index
terms included), with the service's own configuration: the lemmatizer, and the place matcher
the app loads (``PlaceMatcher.cached``, the same index as ``PlaceMatcher.shared``), used by the
rule index and by the index terms (``p_<place>`` terms, posts.regions). Prints one JSON line.

Two runs over the same measured posts (the first POSTS of the corpus), each with fresh caches
and a fresh database:

* ``cold``: a service that just started: no word has been lemmatised yet.
* ``warm``: a service that has been running: before the clock starts it ingests WARM *other*
  posts of the corpus (the ones after the measured slice), so its caches (lemma keys, place
  and rule-index lookups) and its database hold earlier posts; no measured post is among them.

In the same run, the raw baseline: the same rows (with their terms, computed beforehand) into
a bare SQLite table plus a contentless FTS5 index, one transaction per post, synchronously
through the sqlite3 module (no asyncio, no matching); ``ratio`` = warm / raw.

Usage: python bench/ingest.py [POSTS] [RULES] [WARM]   (defaults 3000 20 and all other posts)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.archive.terms import TermMaker
from bot.clock import SystemClock
from bot.match import Lemmatizer
from bot.models import ChatKind, Post
from bot.regions.places import PlaceMatcher
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.services.rules import RulesService
from bot.store import Database, Store, apply_migrations

DATASET = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ru-news-2024"
RULE_WORDS = ["Белгород", "беспилотник", "Курск", "ПВО", "обстрел", "Шебекино", "Брянск",
              "дрон", "ракета", "взрыв", "Москва", "курс рубля", "санкции", "выборы", "Украина",
              "армия", "губернатор", "пожар", "суд", "нефть"]


def load_posts() -> list[Post]:
    """Every post of the corpus with text, in file order."""
    posts: list[Post] = []
    for path in sorted(DATASET.glob("*_messages.json")):
        for r in json.loads(path.read_text(encoding="utf-8")):
            if r.get("text"):
                cid = int(str(r["sender_id"])[4:])
                msg_id = int(str(r["message_id"]))
                posts.append(Post(cid, msg_id, dt.datetime.fromisoformat(str(r["date"])),
                                  str(r["text"]), f"https://t.me/c/{cid}/{msg_id}"))
    return posts


async def run(measured: list[Post], warmup: list[Post], rule_count: int,
              cache_dir: Path) -> dict[str, Any]:
    """A fresh service and database; ingest ``warmup`` untimed, then ``measured`` timed."""
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "bench.sqlite3")
        try:
            await apply_migrations(db, clock)
            store = Store(db, clock)
            lemmatizer = Lemmatizer()
            places = PlaceMatcher.cached(lemmatizer, cache_dir)  # as bot/app.py loads it
            rules = RulesService(store, lemmatizer, places=places)
            await store.chats.upsert(1, ChatKind.PRIVATE, None)
            for i in range(rule_count):
                await rules.add(1, RULE_WORDS[i % len(RULE_WORDS)] + ("" if i < 20 else f" -x{i}"),
                                1)
            ingest = IngestService(store, rules, ZoneInfo("UTC"), clock,
                                   AdminNotifier(store, frozenset()))
            for cid in sorted({p.channel_id for p in measured + warmup}):
                await store.channels.add(cid, None, str(cid), None, 1)
            for post in warmup:
                await ingest.ingest(post)
            lemmas_before = lemmatizer.keys.cache_info()
            started = time.perf_counter()
            alerts = 0
            for post in measured:
                alerts += (await ingest.ingest(post)).alerts_enqueued
            elapsed = time.perf_counter() - started
            lemmas = lemmatizer.keys.cache_info()
            stored = await db.fetchone("SELECT COUNT(*) FROM posts")
            if stored is None or stored[0] != len(measured) + len(warmup):
                raise RuntimeError(f"{stored[0] if stored else 0} posts stored, expected"
                                   f" {len(measured) + len(warmup)}")
        finally:
            await db.close()
    looked_up = (lemmas.hits - lemmas_before.hits) + (lemmas.misses - lemmas_before.misses)
    return {"posts_per_s": round(len(measured) / elapsed), "seconds": round(elapsed, 2),
            "alerts": alerts, "warmed_on_posts": len(warmup),
            "lemma_cache_entries_at_start": lemmas_before.currsize,
            "lemma_cache_hit_rate": round((lemmas.hits - lemmas_before.hits)
                                          / max(looked_up, 1), 3)}


def raw_fts(posts: list[Post], terms: list[str], path: Path) -> float:
    """Posts/s of the bare insert: a post row and its FTS5 document, one transaction each."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE posts (id INTEGER PRIMARY KEY, channel_id INTEGER NOT NULL,"
                 " message_id INTEGER NOT NULL, date TEXT NOT NULL, text TEXT,"
                 " permalink TEXT, received_at TEXT NOT NULL, UNIQUE (channel_id, message_id))")
    conn.execute("CREATE VIRTUAL TABLE posts_fts USING fts5(terms, content = '',"
                 " detail = 'none', tokenize = \"unicode61 remove_diacritics 0"
                 " tokenchars '''-_'\")")
    now = dt.datetime.now(dt.UTC).isoformat()
    started = time.perf_counter()
    for post, text_terms in zip(posts, terms, strict=True):
        conn.execute("BEGIN IMMEDIATE")
        post_id = conn.execute(
            "INSERT INTO posts (channel_id, message_id, date, text, permalink, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (post.channel_id, post.message_id, post.date.isoformat(), post.text,
             post.permalink, now)).fetchone()[0]
        conn.execute("INSERT INTO posts_fts (rowid, terms) VALUES (?, ?)", (post_id, text_terms))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return len(posts) / elapsed


async def main(limit: int, rule_count: int, warm: int | None) -> dict[str, object]:
    posts = load_posts()
    measured, rest = posts[:limit], posts[limit:]
    warmup = rest if warm is None else rest[:warm]
    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = Path(tmp) / "cache"
        lem_started = time.perf_counter()
        lemmatizer = Lemmatizer()
        load_seconds = time.perf_counter() - lem_started
        # compile the place index once (saved in cache_dir): each run loads it, as the app does
        terms = TermMaker.for_places(lemmatizer, PlaceMatcher.cached(lemmatizer, cache_dir))
        cold = await run(measured, [], rule_count, cache_dir)
        warmed = await run(measured, warmup, rule_count, cache_dir)
        raw = raw_fts(measured, [terms.of(p.text).terms for p in measured],
                      Path(tmp) / "raw.sqlite3")
    return {"posts": len(measured), "rules": rule_count, "alerts": warmed["alerts"],
            "cold_posts_per_s": cold["posts_per_s"], "warm_posts_per_s": warmed["posts_per_s"],
            "raw_fts_posts_per_s": round(raw), "ratio": round(warmed["posts_per_s"] / raw, 3),
            "cold_ratio": round(cold["posts_per_s"] / raw, 3),
            "cold": cold, "warm": warmed, "dictionary_load_seconds": round(load_seconds, 2)}


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:4]]
    defaults = [3000, 20, None]
    limit, rule_count, warm_count = (args + defaults[len(args):])[:3]
    print(json.dumps(asyncio.run(main(limit, rule_count, warm_count))))

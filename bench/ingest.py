"""Ingest throughput: real posts through match + store (one transaction each), real SQLite.

Replays posts of the ru-news-2024 dataset (../shared/data) through chanwatch's IngestService
with a set of keyword rules, the way the live handler does, and prints one JSON line.
Usage: python bench/ingest.py [POSTS] [RULES]
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.clock import SystemClock
from bot.match import Lemmatizer
from bot.models import ChatKind, Post
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.services.rules import RulesService
from bot.store import Database, Store, apply_migrations

DATASET = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ru-news-2024"
RULE_WORDS = ["Белгород", "беспилотник", "Курск", "ПВО", "обстрел", "Шебекино", "Брянск",
              "дрон", "ракета", "взрыв", "Москва", "курс рубля", "санкции", "выборы", "Украина",
              "армия", "губернатор", "пожар", "суд", "нефть"]


def load_posts(limit: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for path in sorted(DATASET.glob("*_messages.json")):
        rows += [r for r in json.loads(path.read_text(encoding="utf-8")) if r.get("text")]
    return rows[:limit]


async def main(limit: int, rule_count: int) -> dict[str, object]:
    rows = load_posts(limit)
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "bench.sqlite3")
        try:
            await apply_migrations(db, clock)
            store = Store(db, clock)
            lem_started = time.perf_counter()
            lemmatizer = Lemmatizer()
            load_seconds = time.perf_counter() - lem_started
            rules = RulesService(store, lemmatizer)
            await store.chats.upsert(1, ChatKind.PRIVATE, None)
            for i in range(rule_count):
                await rules.add(1, RULE_WORDS[i % len(RULE_WORDS)] + ("" if i < 20 else f" -x{i}"),
                                1)
            ingest = IngestService(store, rules, ZoneInfo("UTC"), clock,
                                   AdminNotifier(store, frozenset()))
            channels = {int(str(r["sender_id"])[4:]) for r in rows}
            for cid in channels:
                await store.channels.add(cid, None, str(cid), None, 1)
            started = time.perf_counter()
            alerts = 0
            for r in rows:
                cid = int(str(r["sender_id"])[4:])
                msg_id = int(str(r["message_id"]))
                post = Post(cid, msg_id, dt.datetime.fromisoformat(str(r["date"])),
                            str(r["text"]), f"https://t.me/c/{cid}/{msg_id}")
                alerts += (await ingest.ingest(post)).alerts_enqueued
            elapsed = time.perf_counter() - started
        finally:
            await db.close()
    return {"posts": len(rows), "rules": rule_count, "alerts": alerts,
            "seconds": round(elapsed, 2), "posts_per_second": round(len(rows) / elapsed),
            "dictionary_load_seconds": round(load_seconds, 2)}


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(asyncio.run(main(*(args or [5000, 20])))))

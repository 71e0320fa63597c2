"""Matching and ingest throughput on real posts (ru-news-2024), at 10, 1,000 and 10,000 rules.

Rules are generated from the corpus vocabulary (single words, two-word phrases, AND pairs,
prefixes). The same posts also go through a per-rule Python ``re`` loop, as simple bots do.
Prints one JSON line.   Usage: python bench/match.py [--quick]
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import itertools
import json
import random
import re
import resource
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.clock import SystemClock
from bot.match import CompiledRule, Lemmatizer, RuleIndex, parse_rule
from bot.match.normalize import tokenize
from bot.models import ChatKind, Post
from bot.regions.gazetteer import Gazetteer
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.services.rules import RulesService
from bot.store import Database, Store, apply_migrations

DATASET = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ru-news-2024"


def load_posts() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for path in sorted(DATASET.glob("*_messages.json")):
        rows += [r for r in json.loads(path.read_text(encoding="utf-8")) if r.get("text")]
    return rows


def make_rules(texts: list[str], count: int, rng: random.Random) -> list[str]:
    """Rules from mid-frequency corpus words: words, phrases, AND pairs and prefixes."""
    freq: collections.Counter[str] = collections.Counter()
    bigrams: list[str] = []
    for text in texts[:5000]:
        words = [m.lower() for m in re.findall(r"[А-Яа-яЁёІіЇїЄєҐґ]{4,}", text)]
        freq.update(words)
        bigrams += [f"{a} {b}" for a, b in itertools.pairwise(words)]
    vocab = sorted(w for w, n in freq.items() if 2 <= n <= 400)
    rules = []
    for i in range(count):
        kind = i % 10
        if kind < 7:
            rules.append(rng.choice(vocab))
        elif kind == 7:
            rules.append(f'"{rng.choice(bigrams)}"')
        elif kind == 8:
            rules.append(f"{rng.choice(vocab)} {rng.choice(vocab)}")
        else:
            rules.append(rng.choice(vocab)[:5] + "*")
    return rules


def regex_loop(texts: list[str], rules: list[str]) -> float:
    """Posts per second of the naive approach: one compiled regex per rule, tried in turn."""
    patterns = [re.compile(r"\b" + re.escape(r.strip('"*').split()[0]), re.I) for r in rules]
    started = time.perf_counter()
    for text in texts:
        for pattern in patterns:
            pattern.search(text)
    return len(texts) / (time.perf_counter() - started)


async def ingest_rate(rows: list[dict[str, object]], lemmatizer: Lemmatizer,
                      rules: list[str]) -> float:
    """Posts per second through IngestService.ingest_many (lemmatise + match + store)."""
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "bench.sqlite3")
        try:
            await apply_migrations(db, clock)
            store = Store(db, clock)
            service = RulesService(store, lemmatizer, max_rules=len(rules))
            await store.chats.upsert(1, ChatKind.PRIVATE, None)
            for rule in rules:
                await store.rules.add(1, rule, 1)
            await service.rebuild()
            ingest = IngestService(store, service, ZoneInfo("UTC"), clock,
                                   AdminNotifier(store, frozenset()))
            posts = []
            for r in rows:
                cid = int(str(r["sender_id"])[4:])
                mid = int(str(r["message_id"]))
                posts.append(Post(cid, mid, dt.datetime.fromisoformat(str(r["date"])),
                                  str(r["text"]), f"https://t.me/c/{cid}/{mid}"))
            for cid in {p.channel_id for p in posts}:
                await store.channels.add(cid, None, str(cid), None, 1)
            started = time.perf_counter()
            for start in range(0, len(posts), 500):
                await ingest.ingest_many(posts[start:start + 500], source="backfill")
            return len(posts) / (time.perf_counter() - started)
        finally:
            await db.close()


def main(quick: bool) -> dict[str, object]:
    rng = random.Random(42)
    rows = load_posts()
    if quick:
        rows = rows[:1200]
    texts = [str(r["text"]) for r in rows]
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    lemmatizer = Lemmatizer()
    started = time.perf_counter()
    tokens = [tokenize(t) for t in texts]
    tokenize_s = time.perf_counter() - started
    started = time.perf_counter()
    for toks in tokens:
        for tok in toks:
            lemmatizer.keys(tok.norm, tok.proper)
    cold = sum(map(len, tokens)) / (time.perf_counter() - started)
    started = time.perf_counter()
    for toks in tokens:
        for tok in toks:
            lemmatizer.keys(tok.norm, tok.proper)
    warm = sum(map(len, tokens)) / (time.perf_counter() - started)
    out: dict[str, object] = {"posts": len(texts), "megabytes": round(megabytes, 1),
                              "tokens": sum(map(len, tokens)),
                              "tokenize_posts_per_s": round(len(texts) / tokenize_s),
                              "lemmatizer_cold_tokens_per_s": round(cold),
                              "lemmatizer_warm_tokens_per_s": round(warm)}
    for count in (10, 1000, 10000):
        rules = make_rules(texts, count, rng)
        started = time.perf_counter()
        index = RuleIndex.build(lemmatizer, [CompiledRule(i, 1, parse_rule(r))
                                             for i, r in enumerate(rules)])
        out[f"build_s_{count}"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        hits = sum(len(index.match(t)) for t in texts)
        elapsed = time.perf_counter() - started
        out[f"posts_per_s_{count}"] = round(len(texts) / elapsed)
        out[f"mb_per_s_{count}"] = round(megabytes / elapsed, 2)
        out[f"hits_per_post_{count}"] = round(hits / len(texts), 1)
        sample = texts[: (100 if count == 10000 else 500)]
        out[f"regex_loop_posts_per_s_{count}"] = round(regex_loop(sample, rules), 1)
    out["speedup_vs_regex_10000"] = round(
        float(out["posts_per_s_10000"]) / float(out["regex_loop_posts_per_s_10000"]), 1)
    out["ratio_10000_to_10"] = round(
        float(out["posts_per_s_10000"]) / float(out["posts_per_s_10"]), 2)
    ingest_rules = make_rules(texts, 1000, rng)
    ingest_rules_sample = ingest_rules
    # the gazetteer: compile time, place finding on every post, memory with it loaded
    from bot.regions.places import PlaceMatcher

    started = time.perf_counter()
    places = PlaceMatcher.build(Gazetteer.load(), lemmatizer)
    out["gazetteer_build_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    found = sum(len(places.find(t)) for t in texts)
    out["gazetteer_posts_per_s"] = round(len(texts) / (time.perf_counter() - started))
    out["gazetteer_places_per_post"] = round(found / len(texts), 2)
    region_rules = [CompiledRule(i, 1, parse_rule(f"region:{code}"))
                    for i, code in enumerate(("RU-BEL", "RU-KRS", "UA-63", "RU-MOW", "UA-14"))]
    index = RuleIndex.build(lemmatizer, [*region_rules, *(
        CompiledRule(100 + i, 1, parse_rule(r)) for i, r in enumerate(ingest_rules_sample))],
        places)
    started = time.perf_counter()
    for t in texts:
        index.match(t)
    out["posts_per_s_1000_with_regions"] = round(len(texts) / (time.perf_counter() - started))
    out["rss_with_gazetteer_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    # the whole ingest path at 1,000 rules: match + store in batches of 500, warm word cache
    out["ingest_posts_per_s"] = round(asyncio.run(ingest_rate(rows, lemmatizer, ingest_rules)))
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


if __name__ == "__main__":
    print(json.dumps(main("--quick" in sys.argv[1:])))

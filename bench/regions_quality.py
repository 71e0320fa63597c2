"""Region detection quality against hand-labelled posts, and its speed.

Precision and recall over (post, first-level region) pairs, for three sets reported apart:

- ``set1``: the 240 posts of tests/data/regions_sample.jsonl, which the rules were tuned on;
- ``tune``: the tune half of tests/data/regions_eval/ (rule changes may look at it);
- ``heldout``: its held-out half (only ever measured; the judge).

``per_region`` is what a subscriber of one region sees, on the held-out half: for each region
with at least 10 labelled posts, of the posts ``region:<it>`` would alert on, the share that
truly mention it (precision), and the share of its labelled posts found (recall).
``posts_per_s`` is place finding over every post of ru-news-2024 (as ``chanwatch tag-regions``
does, without the JSON), after a warm-up pass. Prints one JSON line.

Usage: python bench/regions_quality.py [--verbose] [--no-speed]
(--verbose lists every false positive and negative of set1 and the tune half; the held-out
half's errors are counted, never listed, so that nobody tunes on them by accident.)
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.match import Lemmatizer
from bot.regions.places import PlaceMatcher

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
EVAL = DATA / "regions_eval"
EVAL_POSTS = (EVAL / "ru_news.jsonl", EVAL / "uk_air_raid.jsonl", EVAL / "ntrex" / "uk_news.jsonl")
CORPUS = ROOT.parent / "shared" / "data" / "ru-news-2024"
MIN_MENTIONS = 10


@dataclass(frozen=True)
class Labelled:
    id: str
    text: str
    lang: str
    half: str
    truth: frozenset[str]


def _jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def load_set1() -> list[Labelled]:
    texts = {str(r["id"]): str(r["text"]) for r in _jsonl(DATA / "regions_sample.jsonl")}
    return [Labelled(str(r["id"]), texts[str(r["id"])], "ru", "set1",
                     frozenset(r["regions"]))  # type: ignore[arg-type]
            for r in _jsonl(DATA / "regions_labels.jsonl")]


def load_eval() -> list[Labelled]:
    posts = {str(r["id"]): r for path in EVAL_POSTS for r in _jsonl(path)}
    out = []
    for label in _jsonl(EVAL / "labels.jsonl"):
        post = posts[str(label["id"])]
        out.append(Labelled(str(post["id"]), str(post["text"]), str(post["lang"]),
                            str(post["half"]), frozenset(label["regions"])))  # type: ignore[arg-type]
    return out


def score(found: dict[str, frozenset[str]], rows: Iterable[Labelled],
          places: dict[str, dict[str, list[str]]], *, listed: bool) -> dict[str, object]:
    tp = fp = fn = 0
    false_pos: list[str] = []
    false_neg: list[str] = []
    posts = 0
    for row in rows:
        posts += 1
        got = found[row.id]
        tp += len(got & row.truth)
        fp += len(got - row.truth)
        fn += len(row.truth - got)
        if listed:
            false_pos += [f"{row.id} {r} via {places[row.id][r]}" for r in sorted(got - row.truth)]
            false_neg += [f"{row.id} {r}" for r in sorted(row.truth - got)]
    report: dict[str, object] = {
        "posts": posts, "labels": tp + fn, "found": tp + fp,
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "recall": round(tp / (tp + fn), 3) if tp + fn else None,
        "false_positives": false_pos if listed else fp,
        "false_negatives": false_neg if listed else fn,
    }
    return report


def per_region(found: dict[str, frozenset[str]], rows: list[Labelled]) -> list[dict[str, object]]:
    regions = sorted({r for row in rows for r in row.truth})
    table = []
    for region in regions:
        mentions = sum(region in row.truth for row in rows)
        if mentions < MIN_MENTIONS:
            continue
        alerted = [row for row in rows if region in found[row.id]]
        right = sum(region in row.truth for row in alerted)
        table.append({"region": region, "mentions": mentions, "alerts": len(alerted),
                      "precision": round(right / len(alerted), 3) if alerted else None,
                      "recall": round(right / mentions, 3)})
    return sorted(table, key=lambda t: (t["precision"] is None, t["precision"], t["region"]))


def corpus_texts() -> list[str]:
    texts = []
    for path in sorted(CORPUS.glob("*_messages.json")):
        texts += [m["text"] for m in json.loads(path.read_text(encoding="utf-8")) if m.get("text")]
    return texts


def speed(matcher: PlaceMatcher) -> dict[str, object]:
    texts = corpus_texts()
    if not texts:
        return {"posts_per_s": None, "speed_posts": 0}
    for text in texts[:2000]:
        matcher.find(text)
    started = time.perf_counter()
    for text in texts:
        matcher.find(text)
    elapsed = time.perf_counter() - started
    return {"posts_per_s": round(len(texts) / elapsed), "speed_posts": len(texts)}


def main(argv: list[str]) -> dict[str, object]:
    verbose = "--verbose" in argv
    started = time.perf_counter()
    matcher = PlaceMatcher.shared(Lemmatizer())
    load_s = time.perf_counter() - started
    set1, evaluation = load_set1(), load_eval()
    found: dict[str, frozenset[str]] = {}
    places: dict[str, dict[str, list[str]]] = {}
    for row in set1 + evaluation:
        hits = matcher.find(row.text)
        found[row.id] = frozenset(h.region for h in hits)
        by_region: dict[str, list[str]] = {}
        for h in hits:
            by_region.setdefault(h.region, []).append(h.text)
        places[row.id] = by_region
    report: dict[str, object] = {"set1": score(found, set1, places, listed=verbose)}
    for half in ("tune", "heldout"):
        rows = [r for r in evaluation if r.half == half]
        section = score(found, rows, places, listed=verbose and half == "tune")
        for lang in ("ru", "uk"):
            part = score(found, [r for r in rows if r.lang == lang], places, listed=False)
            section[lang] = {k: part[k] for k in ("posts", "labels", "precision", "recall")}
        report[half] = section
    report["per_region"] = per_region(found, [r for r in evaluation if r.half == "heldout"])
    report["gazetteer_load_s"] = round(load_s, 2)
    if "--no-speed" not in argv:
        report |= speed(matcher)
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), ensure_ascii=False))

"""Region detection quality against the hand-labelled posts in tests/data/.

Precision and recall over (post, first-level region) pairs; prints one JSON line with the keys
posts, precision, recall (and the errors, to read). Usage: python bench/regions_quality.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from bot.match import Lemmatizer
from bot.regions.places import PlaceMatcher

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def main() -> dict[str, object]:
    texts = {}
    for line in (DATA / "regions_sample.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        texts[row["id"]] = row["text"]
    labels = {}
    for line in (DATA / "regions_labels.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        labels[row["id"]] = set(row["regions"])
    started = time.perf_counter()
    places = PlaceMatcher.shared(Lemmatizer())
    load_s = time.perf_counter() - started
    tp = fp = fn = 0
    false_pos: list[str] = []
    false_neg: list[str] = []
    for post_id, truth in labels.items():
        hits = places.find(texts[post_id])
        found = {h.region for h in hits}
        tp += len(found & truth)
        for region in sorted(found - truth):
            fp += 1
            words = [h.text for h in hits if h.region == region]
            false_pos.append(f"{post_id} {region} via {words}")
        for region in sorted(truth - found):
            fn += 1
            false_neg.append(f"{post_id} {region}")
    return {
        "posts": len(labels), "labels": tp + fn, "found": tp + fp,
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "recall": round(tp / (tp + fn), 3) if tp + fn else None,
        "gazetteer_load_s": round(load_s, 2),
        "false_positives": false_pos, "false_negatives": false_neg,
    }


if __name__ == "__main__":
    report = main()
    if "--verbose" not in sys.argv:
        report["false_positives"] = len(report["false_positives"])  # type: ignore[arg-type]
        report["false_negatives"] = len(report["false_negatives"])  # type: ignore[arg-type]
    print(json.dumps(report, ensure_ascii=False))

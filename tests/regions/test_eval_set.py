"""The second labelled region set is whole: every post labelled, halves as documented."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

EVAL = Path(__file__).resolve().parents[1] / "data" / "regions_eval"
POSTS = (EVAL / "ru_news.jsonl", EVAL / "uk_air_raid.jsonl", EVAL / "ntrex" / "uk_news.jsonl")


def rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_post_has_one_label_with_valid_codes() -> None:
    posts = {r["id"]: r for path in POSTS for r in rows(path)}
    labels = rows(EVAL / "labels.jsonl")
    assert sorted(str(r["id"]) for r in labels) == sorted(str(i) for i in posts)
    codes = {line.split("|")[1].strip() for line in
             (EVAL / "CODES.md").read_text(encoding="utf-8").splitlines()
             if line.startswith(("| RU-", "| UA-"))}
    for label in labels:
        post = posts[label["id"]]
        assert label["half"] == post["half"], label["id"]
        assert set(label["regions"]) <= codes, label  # type: ignore[arg-type]
        assert label["regions"] == sorted(label["regions"]), label  # type: ignore[type-var]
        for place in label["places"]:  # type: ignore[attr-defined]
            assert place in post["text"], (label["id"], place)  # type: ignore[operator]


def test_the_set_is_as_large_and_as_mixed_as_promised() -> None:
    posts = [r for path in POSTS for r in rows(path)]
    halves = Counter(str(r["half"]) for r in posts)
    assert halves == {"tune": 1120, "heldout": 320}
    assert len({r["channel"] for r in posts if r["half"] == "heldout"}) >= 20
    assert sum(r["lang"] == "uk" for r in posts) >= 150
    assert sum(r["lang"] == "uk" for r in posts if r["half"] == "heldout") == 80
    readers = {str(r["reader"]).split("-")[0] for r in rows(EVAL / "labels.jsonl")}
    assert readers == {"tune", "tune2", "tune3", "tune4", "heldout"}

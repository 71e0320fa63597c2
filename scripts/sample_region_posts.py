"""Draw the posts of the hand-labelled region-detection evaluation set.

Usage: python scripts/sample_region_posts.py [DATASET_DIR]
(default DATASET_DIR: ../shared/data/ru-news-2024). Writes tests/data/regions_sample.jsonl.

The selection is deterministic (fixed seed, posts visited in a fixed order) and has two groups:

1. ``RANDOM_N`` posts drawn at random among all posts with non-empty text, so that the set
   reflects the real mix of posts, most of which name no region;
2. ``CUED_N`` posts drawn at random among the posts whose text contains a place cue (see
   ``CUE_RE``: a capitalised Cyrillic word starting with a place-name stem such as Белгород,
   Курск, Херсон, ДНР, Москв, or one of the generic words область/обл./край), excluding the
   posts of the first group, so that region mentions are frequent enough to measure recall.

Each output line is ``{"id": "<file stem>:<message_id>", "channel": ..., "text": ...}``; the
first group comes first, each group in id order. Texts are copied unchanged. The labels
themselves live in tests/data/regions_labels.jsonl (see tests/data/REGIONS_LABELLING.md).
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path
from typing import TypedDict

SEED = 20241125
RANDOM_N = 120
CUED_N = 120
OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "regions_sample.jsonl"

# Stems of place names, matched case-sensitively at the start of a word (so they must be
# capitalised, as names are); "Курск" also covers "Курской", "Москв" covers "Москве", etc.
PLACE_STEMS: tuple[str, ...] = (
    "Белгород", "Шебекино", "Грайворон", "Курск", "Суджа", "Судже", "Брянск", "Воронеж",
    "Ростов", "Краснодар", "Кубан", "Москв", "Подмоск", "Петербург", "Ленинград",
    "Крым", "Севастопол", "Донецк", "ДНР", "Луганск", "ЛНР", "Донбасс", "Мариупол",
    "Бахмут", "Авдеевк", "Покровск", "Купянск", "Харьков", "Херсон", "Запорож", "Киев",
    "Одесс", "Днепр", "Николаев", "Сумы", "Сумск", "Чернигов", "Татарстан", "Казан",
    "Дагестан", "Чечн", "Башкир", "Екатеринбург", "Новосибирск",
)
# Generic region words, matched as whole lowercase words.
GENERIC_CUES: tuple[str, ...] = (
    r"област(?:ь|и|ей|ям|ями|ях)", r"обл\.", r"кра(?:й|я|ю|ем|е|ев|ям|ях)",
)
_LETTER = "А-Яа-яЁё"
CUE_RE = re.compile(
    rf"(?<![{_LETTER}])(?:{'|'.join(PLACE_STEMS)})"
    rf"|(?<![{_LETTER}])(?:{'|'.join(GENERIC_CUES)})(?![{_LETTER}])"
)


class Post(TypedDict):
    """One output row."""

    id: str
    channel: str
    text: str


def load_posts(source: Path) -> list[Post]:
    """All posts with non-empty text, ordered by (file stem, message_id)."""
    posts: list[tuple[str, int, Post]] = []
    for path in sorted(source.glob("*_messages.json")):
        stem = path.name.removesuffix(".json")
        for msg in json.loads(path.read_text(encoding="utf-8")):
            text = msg.get("text") or ""
            if text.strip():
                post: Post = {"id": f"{stem}:{msg['message_id']}",
                              "channel": msg["channel"], "text": text}
                posts.append((stem, int(msg["message_id"]), post))
    posts.sort(key=lambda t: (t[0], t[1]))
    return [p for _, _, p in posts]


def has_cue(text: str) -> bool:
    """Whether the text contains one of the place cues."""
    return CUE_RE.search(text) is not None


def select(posts: list[Post]) -> tuple[list[Post], list[Post]]:
    """The random group and the cued group (disjoint), each sorted by id order of ``posts``."""
    rng = random.Random(SEED)
    order = {p["id"]: i for i, p in enumerate(posts)}
    first = rng.sample(posts, RANDOM_N)
    taken = {p["id"] for p in first}
    cued = [p for p in posts if p["id"] not in taken and has_cue(p["text"])]
    second = rng.sample(cued, CUED_N)
    return (sorted(first, key=lambda p: order[p["id"]]),
            sorted(second, key=lambda p: order[p["id"]]))


def main() -> int:
    """Select the posts and write them, one JSON object per line."""
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/ru-news-2024")
    posts = load_posts(source)
    first, second = select(posts)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as fh:
        for post in first + second:
            fh.write(json.dumps(post, ensure_ascii=False) + "\n")
    n_cued = sum(1 for p in posts if has_cue(p["text"]))
    print(f"{len(posts)} posts with text, {n_cued} with a place cue; "
          f"wrote {len(first)} random + {len(second)} cued posts to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

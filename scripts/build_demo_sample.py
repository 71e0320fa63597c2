"""Build the demo's bundled sample of real posts from the ru-news-2024 dataset.

Usage: python scripts/build_demo_sample.py [DATASET_DIR]
(default DATASET_DIR: ../shared/data/ru-news-2024). Writes bot/sandbox/data/demo_posts.jsonl.

The dataset is CC BY 4.0; bot/sandbox/data/ATTRIBUTION.md names it and what was changed
(a selection of posts from three channels over about a day and a half, texts unchanged).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# (file, public username, channel title) of the three channels the demo replays
CHANNELS = [
    ("1001101170442_messages.json", "rian_ru", "РИА Новости"),
    ("1001003921752_messages.json", "bbcrussian", "BBC News | Русская служба"),
    ("1001117628569_messages.json", "mash", "Mash"),
]
WINDOW = ("2024-11-27T04:00", "2024-11-28T13:00")
OUT = Path(__file__).resolve().parent.parent / "bot" / "sandbox" / "data" / "demo_posts.jsonl"


def main() -> int:
    """Select the posts and write them in chronological order, one JSON object per line."""
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/ru-news-2024")
    rows = []
    for filename, username, title in CHANNELS:
        for msg in json.loads((source / filename).read_text(encoding="utf-8")):
            text = (msg.get("text") or "").strip()
            if text and WINDOW[0] <= msg["date"][:16] < WINDOW[1]:
                rows.append({"channel": username, "title": title,
                             "message_id": msg["message_id"], "date": msg["date"], "text": text})
    rows.sort(key=lambda r: (r["date"], r["channel"], r["message_id"]))
    with OUT.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} posts to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

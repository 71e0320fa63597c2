"""Online backup speed, and what it costs the writes going on meanwhile.

Builds an SQLite database in WAL mode of about SIZE_MB (ru-news-2024 texts repeated into a
posts-like table with an index) — or takes DATABASE, a copy of a real archive — then takes
backups as the service does (bot/store/backup.py: one step, integrity_check, rename) while
another connection commits one small transaction every 10 ms, as the live path does. Prints
one JSON line: megabytes, seconds per backup, MB/s, and the writer's commits and worst commit
time during the backup against before it.

Usage: python bench/backup.py [--size-mb 300] [--db DATABASE] [--runs 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bot.store.backup import take_backup

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ru-news-2024"


def texts() -> list[str]:
    out = []
    for path in sorted(CORPUS.glob("*_messages.json")):
        out += [m.get("text") or "" for m in json.loads(path.read_text(encoding="utf-8"))]
    texts = [t for t in out if t]
    if not texts:
        raise SystemExit(f"no ru-news-2024 corpus at {CORPUS}")
    return texts


def build(path: Path, size_mb: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE posts (id INTEGER PRIMARY KEY, channel_id INTEGER, date TEXT,"
                 " text TEXT)")
    conn.execute("CREATE INDEX posts_date ON posts (channel_id, date)")
    corpus = texts()
    n = 0
    while path.stat().st_size < size_mb * 1_000_000:
        rows = [(i % 24, f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}", corpus[i % len(corpus)])
                for i in range(n, n + 20_000)]
        n += len(rows)
        with conn:
            conn.executemany("INSERT INTO posts (channel_id, date, text) VALUES (?, ?, ?)",
                             rows)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def writer(path: Path, stop: threading.Event, times: list[tuple[float, float]]) -> None:
    conn = sqlite3.connect(path, timeout=30)
    while not stop.is_set():
        started = time.perf_counter()
        with conn:
            conn.execute("INSERT INTO posts (channel_id, date, text) VALUES (1, '2026-12-04',"
                         " 'живой пост во время копии')")
        times.append((started, time.perf_counter() - started))
        time.sleep(0.01)
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="chanwatch-bench-backup-"))
    try:
        db = work / "chanwatch.sqlite3"
        if args.db is not None:
            shutil.copyfile(args.db, db)
        else:
            build(db, args.size_mb)
        size = db.stat().st_size
        stop, times = threading.Event(), []
        thread = threading.Thread(target=writer, args=(db, stop, times))
        thread.start()
        time.sleep(1.0)
        spans, seconds = [], []
        for run in range(args.runs):
            started = time.perf_counter()
            take_backup(db, work / "backups", dt.datetime.now(dt.UTC) + dt.timedelta(
                seconds=run), keep=1)
            seconds.append(time.perf_counter() - started)
            spans.append((started, time.perf_counter()))
            time.sleep(0.5)
        stop.set()
        thread.join()
        during = [d for t, d in times if any(a <= t <= b for a, b in spans)]
        before = [d for t, d in times if t < spans[0][0]]
        print(json.dumps({
            "bench": "backup", "mb": round(size / 1e6, 1), "runs": args.runs,
            "seconds": round(statistics.median(seconds), 2),
            "mb_per_s": round(size / 1e6 / statistics.median(seconds), 1),
            "writes_during_backup": len(during),
            "write_ms_p50_during": round(statistics.median(during) * 1000, 2) if during else None,
            "write_ms_max_during": round(max(during) * 1000, 2) if during else None,
            "write_ms_max_before": round(max(before) * 1000, 2) if before else None,
        }))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

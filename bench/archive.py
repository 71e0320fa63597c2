"""The archive at scale: import, search and export of the ru-news-2024 corpus replicated.

Builds a chanwatch JSONL export of N posts (default 1,000,000: the corpus's 22,099 real texts
repeated with distinct ids over its 24 channels, dates spread over a year), imports it through
``chanwatch import``'s code path (bot/archive/importer.py), and in the same run inserts the
same rows raw into SQLite with an FTS5 index (unicode61, batches of 5,000) for comparison.
Then /search's query path (ArchiveSearch.page: candidates, confirmation, the count) for a
word, a prefix, a phrase and a word + channel + date range, against a LIKE scan of the word;
then ``chanwatch export`` of every post (a subprocess: posts/s and its own peak RSS above
the peak of a ``chanwatch search`` over the same archive, which opens it and loads both
dictionaries and the gazetteer). Prints one JSON line. The running service's RSS over such
an archive is bench/service_rss.py's (it takes the archive --keep leaves).
Usage: python bench/archive.py [POSTS] [--keep DIR [--reuse]]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATASET = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ru-news-2024"
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
YEAR = 365 * 24 * 3600
QUERIES = {
    "word": "Белгород",
    "prefix": "беспилотник*",
    "phrase": '"Курской области"',
    "word_channel_range": "суд channel:@{channel}",  # ~26 matches in its 30 days at 1M
}
RUNS = 20


def corpus() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for path in sorted(DATASET.glob("*_messages.json")):
        rows += [r for r in json.loads(path.read_text(encoding="utf-8")) if r.get("text")]
    return rows


def write_export(path: Path, rows: list[dict[str, object]], n: int) -> list[tuple[object, ...]]:
    """The JSONL file to import; returns the raw rows for the baseline insert."""
    channels = sorted({int(str(r["sender_id"])[4:]) for r in rows})
    names = {c: f"news{i:02d}" for i, c in enumerate(channels)}
    raw = []
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            src = rows[i % len(rows)]
            channel = int(str(src["sender_id"])[4:])
            message_id = i + 1  # distinct per channel: one counter over all of them
            date = START + dt.timedelta(seconds=(i * 7919) % YEAR)
            text = str(src["text"])
            out.write(json.dumps({
                "channel_id": channel, "channel_username": names[channel],
                "channel_title": names[channel].upper(), "message_id": message_id,
                "date": date.isoformat(), "text": text, "views": 100 + i % 5000,
                "link": f"https://t.me/{names[channel]}/{message_id}", "source": "import",
            }, ensure_ascii=False) + "\n")
            raw.append((channel, message_id, date.isoformat(), text))
    return raw


def raw_fts_insert(path: Path, raw: list[tuple[object, ...]]) -> float:
    """Posts/s of a plain insert with an FTS5 index in batches of 5,000 (the ceiling)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("CREATE TABLE posts (id INTEGER PRIMARY KEY, channel_id INTEGER, message_id"
               " INTEGER, date TEXT, text TEXT, UNIQUE (channel_id, message_id))")
    db.execute("CREATE VIRTUAL TABLE posts_fts USING fts5(text, content='posts',"
               " content_rowid='id', tokenize='unicode61 remove_diacritics 2')")
    started = time.perf_counter()
    for i in range(0, len(raw), 5000):
        chunk = raw[i:i + 5000]
        db.execute("BEGIN")
        cur = db.executemany("INSERT INTO posts (channel_id, message_id, date, text)"
                             " VALUES (?, ?, ?, ?) RETURNING id, text", chunk)
        ids = cur.fetchall()
        db.executemany("INSERT INTO posts_fts (rowid, text) VALUES (?, ?)", ids)
        db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return len(raw) / elapsed


async def import_and_search(db_path: Path, export: Path | None) -> dict[str, object]:
    """Import ``export`` (None: the archive is there already), then time the queries."""
    from bot.archive.importer import import_paths
    from bot.cli_tools.archive import open_archive

    args = argparse.Namespace(db=db_path, tz="UTC", env_file="/nonexistent")
    out: dict[str, object] = {}
    async with open_archive(args, create=True) as archive:
        if export is not None:
            started = time.perf_counter()
            summary = await import_paths(archive, [export])
            elapsed = time.perf_counter() - started
            out["import_seconds"] = round(elapsed, 1)
            out["import_posts_per_s"] = round(summary.new / elapsed)
        stored = await archive.db.fetchone("SELECT COUNT(*) FROM posts")
        out["posts"] = int(stored[0]) if stored else 0
        row = await archive.db.fetchone(
            "SELECT c.username FROM channels c JOIN posts p ON p.channel_id = c.id"
            " GROUP BY c.id ORDER BY COUNT(*) DESC, c.id LIMIT 1")
        channel = row[0] if row else "news00"
        since = START + dt.timedelta(days=90)
        until = START + dt.timedelta(days=120)
        for name, text in QUERIES.items():
            query = text.format(channel=channel)
            window = (since, until) if name == "word_channel_range" else (None, None)
            times = []
            total = 0
            for _ in range(RUNS):
                t0 = time.perf_counter()
                compiled = archive.search.compile(query, *window)
                page = await archive.search.page(compiled, size=5)
                times.append((time.perf_counter() - t0) * 1000)
                total = page.count.total
            times.sort()
            out[f"{name}_p50_ms"] = round(statistics.median(times), 1)
            out[f"{name}_p95_ms"] = round(times[int(0.95 * (len(times) - 1))], 1)
            out[f"{name}_matches"] = total
        t0 = time.perf_counter()
        await archive.db.fetchone("SELECT COUNT(*) FROM posts WHERE text LIKE ?",
                                  ("%Белгород%",))
        out["like_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    return out


# The child reports its own peak (VmHWM) as it exits: ru_maxrss from wait4 would count the
# pages the child shared with this (large) process between fork and exec.
_REPORT_PEAK = ("import atexit, runpy, sys\n"
                "def peak():\n"
                "    for line in open('/proc/self/status'):\n"
                "        if line.startswith('VmHWM:'):\n"
                "            sys.stderr.write('PEAK_KB ' + line.split()[1] + '\\n')\n"
                "atexit.register(peak)\n"
                "sys.argv = ['chanwatch', *sys.argv[1:]]\n"
                "runpy.run_module('bot', run_name='__main__')\n")


def peak_rss_mb(args: list[str]) -> tuple[float, float]:
    """Run ``python -m bot ARGS``; (its wall seconds, its own peak resident set in MB)."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _REPORT_PEAK, *args], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=False)
    elapsed = time.perf_counter() - started
    peaks = [line.split()[1] for line in proc.stderr.splitlines() if line.startswith("PEAK_KB ")]
    if proc.returncode != 0 or not peaks:
        raise RuntimeError(f"chanwatch {args[0]} failed: {proc.stderr[-2000:]}")
    return elapsed, int(peaks[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("posts", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="work here, keep the files")
    parser.add_argument("--reuse", action="store_true",
                        help="with --keep: query and export the archive a previous run left"
                             " there (no import figures)")
    args = parser.parse_args()
    if args.reuse and not (args.keep and (args.keep / "archive.sqlite3").exists()):
        raise SystemExit("--reuse needs --keep DIR holding a previous run's archive.sqlite3")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        db = work / "archive.sqlite3"
        result: dict[str, object] = {}
        if args.reuse:
            result.update(asyncio.run(import_and_search(db, None)))
        else:
            export = work / "export.jsonl"
            raw = write_export(export, corpus(), args.posts)
            result["raw_fts_posts_per_s"] = round(raw_fts_insert(work / "raw.sqlite3", raw))
            del raw
            result.update(asyncio.run(import_and_search(db, export)))
            result["ratio"] = round(float(result["import_posts_per_s"])  # type: ignore[arg-type]
                                    / float(result["raw_fts_posts_per_s"]), 2)  # type: ignore[arg-type]
        result["like_vs_word_p50"] = round(float(result["like_ms"])  # type: ignore[arg-type]
                                           / max(float(result["word_p50_ms"]), 0.01), 1)  # type: ignore[arg-type]
        _, baseline = peak_rss_mb(["search", "--db", str(db), "--limit", "5",
                                   "Белгород"])
        seconds, peak = peak_rss_mb(["export", "--db", str(db), "--format", "jsonl",
                                     "-o", str(work / "out.jsonl")])
        result["search_process_peak_rss_mb"] = round(baseline)
        result["export_posts_per_s"] = round(int(result["posts"]) / seconds)  # type: ignore[call-overload]
        result["export_peak_rss_mb"] = round(peak)
        result["export_rss_above_baseline_mb"] = round(peak - baseline)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""The running service's memory with a big archive: ``python -m bot run``, as operators start it.

Starts the loopback fake Telegram, then the real service as a subprocess with DATABASE_PATH
pointing at a copy of an existing archive (e.g. the 1,000,000-post database ``bench/archive.py
--keep DIR`` leaves in DIR/archive.sqlite3; the copy is made in a temporary directory next to
it, so the archive itself is not changed). A subscriber
watches 20 channels and adds 20 rules, 200 real posts are published and their alerts
awaited, and ``/search`` runs over the whole archive; then the service's resident set is read
from /proc: VmRSS (now) and VmHWM (its peak since start). Both dictionaries and the gazetteer
are loaded by the service itself (its cache directory is DIR/service-cache, kept between
runs: the first run compiles the gazetteer, later ones read it, as a restarted service does).
Prints one JSON line.

Usage: python bench/service_rss.py DATABASE [--posts 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.latency import CITIES, Bench, child_env, dataset_texts, until  # noqa: E402
from bot.sandbox import FakeTelegram  # noqa: E402


def status_mb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024)
    return out


async def main(database: Path, posts: int) -> dict[str, object]:
    fake = await FakeTelegram.start()
    try:
        with tempfile.TemporaryDirectory(dir=database.parent) as tmp:
            data_dir = Path(tmp)
            copy = data_dir / "archive.sqlite3"
            shutil.copyfile(database, copy)
            size = copy.stat().st_size
            bench = Bench(fake, data_dir)
            env = child_env(data_dir, [s.id for s in bench.subscribers])
            env["DATABASE_PATH"] = str(copy)
            cache = database.parent / "service-cache"  # kept: the gazetteer compiled once
            cache.mkdir(exist_ok=True)
            (data_dir / "cache").symlink_to(cache)
            compiled = not any(cache.iterdir())
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=env, cwd=data_dir,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            try:
                await until(lambda: (data_dir / "heartbeat").exists(), 600)
                up_seconds = time.monotonic() - started
                await bench.subscribe()
                idle = status_mb(proc.pid)
                marks = await bench.publish(dataset_texts(posts), 20.0, 0)
                await bench.wait_alerts(marks, 120)
                user = bench.subscribers[0]
                before = len(bench.world.sent_to(user.id))
                bench.world.private_message(bench.bot, user, "/search Белгород")
                await until(lambda: len(bench.world.sent_to(user.id)) > before, 60)
                after = status_mb(proc.pid)
            finally:
                proc.terminate()
                await proc.wait()
    finally:
        await fake.stop()
    return {"gazetteer_compiled": compiled, "database_mb": round(size / 2**20),
            "start_seconds": round(up_seconds, 1),
            "rss_idle_mb": idle["VmRSS"], "rss_after_posts_and_search_mb": after["VmRSS"],
            "peak_rss_mb": after["VmHWM"], "posts": posts, "alerts": len(marks),
            "rules": len(CITIES)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("database", type=Path)
    parser.add_argument("--posts", type=int, default=200)
    args = parser.parse_args()
    if not args.database.exists():
        raise SystemExit(f"{args.database}: no such database"
                         " (bench/archive.py --keep DIR leaves one there)")
    print(json.dumps(asyncio.run(main(args.database.resolve(), args.posts))))

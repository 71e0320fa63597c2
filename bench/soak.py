"""Soak: the real service for a long stretch of traffic, bursts and dropped connections.

`python -m bot run` (its own process, METRICS_PORT on) reads 50 channels of the loopback
fake Telegram; 10 subscribers follow a city each. Real ru-news-2024 posts arrive at BASE
posts/s, with a burst of BURST posts/s for 5 s every minute, and the fake drops every
connection every DISCONNECT seconds (the service reconnects and catches up). Every 2 s the
bench samples the service's RSS (/proc), its asyncio tasks (/metrics), the outbox's pending
messages and the WAL file's size. At the end it waits for every post to be stored and every
alert sent, and prints one JSON line: posts, alerts, disconnects, RSS at the start of the
second half and at the end with its slope over the second half (MB/h, a least-squares fit),
the tasks' high-water mark and last value, the outbox's high-water mark, the WAL's largest
and last size, posts missing and alerts sent twice.

Usage: python bench/soak.py [--minutes 30] [--base 5] [--burst 50] [--disconnect 180]
                           [--distinct N]   (N texts over and over: no new words after them)
(`tests/e2e/test_soak.py` runs it for 45 s with a disconnect every 15 s.)
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from latency import CITIES, MARK, child_env, dataset_texts, until

from bot.sandbox import FakeTelegram
from bot.sandbox.world import Account, FakeChannel

BOT_TOKEN = "424242:BENCH-TOKEN"
ADMIN = 500
SUBSCRIBERS = 10
CHANNELS = 50
SAMPLE = 2.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB), in MB an hour."""
    if len(points) < 3:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 0.0 if den == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys,
                                                                         strict=True)) / den * 3600


def outbox_pending(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return int(conn.execute(
                "SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return -1


def stored_ids(db: Path) -> dict[int, set[int]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        out: dict[int, set[int]] = collections.defaultdict(set)
        for channel_id, message_id in conn.execute("SELECT channel_id, message_id FROM posts"):
            out[int(channel_id)].add(int(message_id))
        return out
    finally:
        conn.close()


async def run(minutes: float, base: float, burst: float, disconnect: float,
              distinct: int = 0) -> dict[str, object]:
    fake = await FakeTelegram.start()
    with tempfile.TemporaryDirectory(prefix="chanwatch-soak-") as tmp:
        data_dir = Path(tmp)
        world = fake.world
        user = world.add_account(world.add_user(1000, "Монитор"))
        bot: Account = world.add_account(world.add_user(424242, "chanwatch", "chanwatch_bot",
                                                        bot=True), bot_token=BOT_TOKEN)
        fake.write_session(user, data_dir / "user.session")
        fake.write_session(bot, data_dir / "bot.session")
        people = [world.add_user(ADMIN + i, f"Читатель {i}") for i in range(SUBSCRIBERS)]
        channels: list[FakeChannel] = [world.add_channel(3_000_000 + i, f"Канал {i}",
                                                         f"soak_chan_{i}")
                                       for i in range(CHANNELS)]
        with socket.socket() as probe:  # a free port for its /metrics
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = child_env(data_dir, [p.id for p in people]) | {
            "METRICS_PORT": str(port), "RECONCILE_INTERVAL": "1m", "SEND_RATE_CHAT": "20/s",
            "SEND_RATE_TOTAL": "100/s", "BACKUP_INTERVAL": "0"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env, cwd=data_dir,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        db = data_dir / "chanwatch.sqlite3"
        samples: list[dict[str, float]] = []
        disconnects = posted = 0
        try:
            await until(lambda: (data_dir / "heartbeat").exists(), 60)

            async def command(who: int, text: str) -> None:
                before = len(world.sent_to(people[who].id))
                world.private_message(bot, people[who], text)
                await until(lambda: len(world.sent_to(people[who].id)) > before, 60)

            for ch in channels:
                await command(0, f"/watch @{ch.username}")
            for i in range(SUBSCRIBERS):
                await command(i, f"/alert {CITIES[i]}")
            texts = dataset_texts(distinct or 100_000)  # distinct: the same texts again
            started = time.monotonic()
            end = started + minutes * 60
            next_drop = started + disconnect
            next_sample = started
            mark = 0
            async with httpx.AsyncClient() as http:
                while time.monotonic() < end:
                    now = time.monotonic()
                    in_burst = (now - started) % 60 < 5
                    rate = burst if in_burst else base
                    text = texts[posted % len(texts)]
                    if posted % 10 == 0:  # one in ten alerts a subscriber
                        text = f"{CITIES[mark % SUBSCRIBERS]} ⟦{mark}⟧: {text}"
                        mark += 1
                    world.post(channels[posted % CHANNELS], text)
                    posted += 1
                    if now >= next_drop:
                        fake.drop_connections()
                        disconnects += 1
                        next_drop += disconnect
                    if now >= next_sample:
                        next_sample += SAMPLE
                        tasks = -1.0
                        try:
                            body = (await http.get(f"http://127.0.0.1:{port}/metrics",
                                                   timeout=2)).text
                            tasks = next(float(line.split()[1]) for line in body.splitlines()
                                         if line.startswith("chanwatch_tasks "))
                        except (httpx.HTTPError, StopIteration):
                            pass
                        wal = db.with_name(db.name + "-wal")
                        samples.append({
                            "t": now - started, "rss": rss_mb(proc.pid), "tasks": tasks,
                            "pending": await asyncio.to_thread(outbox_pending, db),
                            "wal": wal.stat().st_size / 1e6 if wal.exists() else 0.0})
                    await asyncio.sleep(1 / rate)
            # let it finish: every post stored, every alert out
            expected = {ch.id: set(ch.messages) for ch in channels}

            def settled() -> bool:
                got = stored_ids(db)
                return all(expected[c] <= got.get(c, set()) for c in expected)

            for _ in range(120):  # at most two minutes
                if await asyncio.to_thread(settled):
                    break
                await asyncio.sleep(1)
            await until(lambda: len({m for s in world.sent if s.text.startswith("🔔")
                                     for m in MARK.findall(s.text)}) >= mark, 120)
            got = await asyncio.to_thread(stored_ids, db)
            missing = sum(len(expected[c] - got.get(c, set())) for c in expected)
            marks = collections.Counter(m for s in world.sent if s.text.startswith("🔔")
                                        for m in MARK.findall(s.text))
        finally:
            proc.terminate()
            await proc.wait()
            await fake.stop()
    half = [s for s in samples if s["t"] >= samples[-1]["t"] / 2] if samples else []
    return {
        "bench": "soak", "minutes": minutes, "channels": CHANNELS, "posts": posted,
        "distinct_texts": distinct or None,
        "posts_per_s": round(posted / (minutes * 60), 1), "alerts": len(marks),
        "disconnects": disconnects, "samples": len(samples),
        "rss_mb_mid": round(half[0]["rss"], 1) if half else None,
        "rss_mb_end": round(samples[-1]["rss"], 1) if samples else None,
        "rss_slope_mb_per_h": round(slope_per_hour([(s["t"], s["rss"]) for s in half]), 1),
        "tasks_max": max((s["tasks"] for s in samples), default=None),
        "tasks_end": samples[-1]["tasks"] if samples else None,
        "outbox_high_water": max((s["pending"] for s in samples), default=None),
        "wal_mb_max": round(max((s["wal"] for s in samples), default=0.0), 1),
        "wal_mb_end": round(samples[-1]["wal"], 1) if samples else None,
        "missing_posts": missing, "alerts_expected": mark,
        "alerts_twice": sum(1 for n in marks.values() if n > 1),
    }


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--base", type=float, default=5.0, help="posts/s between bursts")
    parser.add_argument("--burst", type=float, default=50.0, help="posts/s in a burst")
    parser.add_argument("--disconnect", type=float, default=180.0,
                        help="seconds between dropped connections")
    parser.add_argument("--distinct", type=int, default=0,
                        help="repeat this many texts (0: every post a new text of the corpus)")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.minutes, args.base, args.burst, args.disconnect,
                             args.distinct))
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()

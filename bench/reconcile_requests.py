"""How many Telegram requests one reconcile makes: 500 watched channels, 50 with new posts.

Runs chanwatch's real composition root against the loopback fake Telegram and counts the
requests the fake receives during one reconcile. ``naive_requests`` is what asking every
channel for its history would cost (one messages.getHistory per channel).
Prints one JSON line.   Usage: python bench/reconcile_requests.py [CHANNELS] [CHANGED]
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

from bot.app import App
from bot.config import settings_from_mapping
from bot.sandbox import FakeTelegram


async def main(channels: int, changed: int) -> dict[str, object]:
    fake = await FakeTelegram.start()
    data_dir = Path(tempfile.mkdtemp(prefix="chanwatch-bench-"))
    try:
        world = fake.world
        user = world.add_account(world.add_user(1000, "Монитор"))
        bot = world.add_account(world.add_user(42, "bot", "bench_bot", bot=True),
                                bot_token="42000:BENCH-token")
        fake.write_session(user, data_dir / "user.session")
        fake.write_session(bot, data_dir / "bot.session")
        fakes = []
        for i in range(channels):
            ch = world.add_channel(3_000_000 + i, f"Канал {i}", f"bench_chan_{i}")
            world.post(ch, "первый пост", deliver=False)
            user.channels.add(ch.id)
            fakes.append(ch)
        app = App(settings_from_mapping({
            "TG_API_ID": "1", "TG_API_HASH": "0" * 32, "TG_BOT_TOKEN": "42000:BENCH-token",
            "ADMIN_IDS": "7", "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}))
        await app.start()
        try:
            for ch in fakes:  # as if each had been added with /watch at its first post
                await app.store.channels.add(ch.id, ch.username, ch.title, ch.entity.access_hash, 7)
                await app.store.channels.set_cursor(ch.id, ch.top_id)
            for ch in fakes[:changed]:
                for _ in range(3):
                    world.post(ch, "новый пост, пропущенный во время обрыва", deliver=False)
            fake.requests.clear()
            started = time.perf_counter()
            report = await app.reconciler.run("bench")
            elapsed = time.perf_counter() - started
            kinds = collections.Counter(type(r).__name__ for _, r in fake.requests)
        finally:
            await app.stop()
        return {
            "channels": channels, "changed": changed, "requests": sum(kinds.values()),
            "naive_requests": channels, "posts_fetched": report.fetched,
            "posts_stored": report.stored, "seconds": round(elapsed, 3),
            "by_type": dict(sorted(kinds.items())),
        }
    finally:
        await fake.stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    args = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(asyncio.run(main(*(args or [500, 50])))))

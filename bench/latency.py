"""Alert latency: a channel post → the bot's alert, through the real service.

`python -m bot run` runs as its own process (default settings, send budgets included) against
the loopback fake Telegram served by this process. Twenty subscribers each follow one city;
real posts of the ru-news-2024 dataset (../shared/data, CC BY 4.0) are published to 20 watched
channels, one in four led by a subscriber's city. Latency is from the moment the fake pushes
the post to the user account to the moment the bot's sendMessage reaches the fake.

- idle: one post every 125 ms (a matching one every 500 ms, each chat's turn every 10 s), so
  every alert meets an idle outbox;
- burst: 50 posts/s across the 20 channels, alerts to all 20 chats.

Prints one JSON line: alerts, p50_ms, p95_ms, p99_ms, max_ms and the same keys under burst_.
Goal (issue "promises kept"): p99_ms ≤ 250, burst_p99_ms ≤ 1,500.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.sandbox import FakeTelegram  # noqa: E402
from bot.sandbox.world import Account, FakeChannel, World  # noqa: E402

DATASET = ROOT.parent / "shared" / "data" / "ru-news-2024"
CITIES = ["Белгород", "Курск", "Брянск", "Воронеж", "Ростов", "Краснодар", "Симферополь",
          "Херсон", "Запорожье", "Донецк", "Луганск", "Харьков", "Одесса", "Николаев",
          "Мариуполь", "Бердянск", "Мелитополь", "Чернигов", "Житомир", "Ужгород"]
STEMS = [c.lower()[:5] for c in CITIES]  # posts mentioning any of them are left out
BOT_TOKEN = "424242:BENCH-TOKEN"
ADMIN = 500
MARK = re.compile(r"⟦(\d+)⟧")


def dataset_texts(limit: int) -> list[str]:
    """Real posts that mention none of the cities (so only marked posts alert)."""
    texts = []
    for path in sorted(DATASET.glob("*_messages.json")):
        for item in json.loads(path.read_text(encoding="utf-8")):
            text = (item.get("text") or "").strip()
            if 40 <= len(text) <= 1500 and not any(s in text.lower() for s in STEMS):
                texts.append(text)
    texts.sort(key=lambda t: (hash_of(t), t))  # a fixed mix of channels, independent of seeds
    return texts[:limit]


def hash_of(text: str) -> int:
    return sum(ord(ch) * (i + 1) for i, ch in enumerate(text[:64])) % 1_000_003


def child_env(data_dir: Path, admins: list[int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TG_", "ADMIN_"))}
    env.update({"TG_API_ID": "12345", "TG_API_HASH": "0123456789abcdef0123456789abcdef",
                "TG_BOT_TOKEN": BOT_TOKEN, "ADMIN_IDS": ",".join(map(str, admins)),
                "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING", "BACKFILL_POSTS": "0"})
    return env


async def until(predicate: object, within: float) -> None:
    deadline = time.monotonic() + within
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit("bench: timed out waiting for the service")
        await asyncio.sleep(0.01)


class Bench:
    """The world, the subscribers and the bookkeeping of when each marked post went out."""

    def __init__(self, fake: FakeTelegram, data_dir: Path) -> None:
        self.fake = fake
        self.world: World = fake.world
        me = self.world.add_user(1000, "Монитор")
        bot_user = self.world.add_user(424242, "chanwatch", "chanwatch_bot", bot=True)
        self.user_acc = self.world.add_account(me)
        self.bot: Account = self.world.add_account(bot_user, bot_token=BOT_TOKEN)
        fake.write_session(self.user_acc, data_dir / "user.session")
        fake.write_session(self.bot, data_dir / "bot.session")
        self.subscribers = [self.world.add_user(ADMIN + i, f"Читатель {i}") for i in range(20)]
        self.channels: list[FakeChannel] = [
            self.world.add_channel(2_000_000 + i, f"Канал {i}", f"bench_chan_{i}")
            for i in range(20)]
        self.posted: dict[int, float] = {}  # mark -> when the post was pushed

    async def command(self, who: int, text: str) -> None:
        user = self.subscribers[who]
        before = len(self.world.sent_to(user.id))
        self.world.private_message(self.bot, user, text)
        await until(lambda: len(self.world.sent_to(user.id)) > before, 60)

    async def subscribe(self) -> None:
        for ch in self.channels:
            await self.command(0, f"/watch @{ch.username}")
        for i, city in enumerate(CITIES):
            await self.command(i, f"/alert {city}")

    async def publish(self, texts: list[str], per_second: float, first_mark: int) -> list[int]:
        """Post `texts` at this rate; every fourth leads with a city. Returns the marks."""
        marks = []
        start = time.monotonic()
        for n, text in enumerate(texts):
            await asyncio.sleep(max(0.0, start + n / per_second - time.monotonic()))
            channel = self.channels[n % len(self.channels)]
            if n % 4 == 0:
                mark = first_mark + len(marks)
                city = CITIES[mark % len(CITIES)]
                text = f"{city} ⟦{mark}⟧: {text}"
                marks.append(mark)
                self.posted[mark] = time.monotonic()
            self.world.post(channel, text)
        return marks

    def latencies_ms(self, marks: list[int]) -> list[float]:
        arrived: dict[int, float] = {}
        for sent in self.world.sent:
            found = MARK.search(sent.text) if sent.text.startswith("🔔") else None
            if found:
                arrived.setdefault(int(found.group(1)), sent.received_at)
        missing = [m for m in marks if m not in arrived]
        if missing:
            raise SystemExit(f"bench: {len(missing)} alerts never arrived, e.g. {missing[:5]}")
        return sorted((arrived[m] - self.posted[m]) * 1000 for m in marks)

    async def wait_alerts(self, marks: list[int], within: float) -> None:
        wanted = set(marks)

        def done() -> bool:
            got = {int(f.group(1)) for s in self.world.sent if s.text.startswith("🔔")
                   for f in [MARK.search(s.text)] if f}
            return wanted <= got

        await until(done, within)


def summary(latencies: list[float], prefix: str = "") -> dict[str, float | int]:
    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1)

    return {f"{prefix}alerts": len(latencies), f"{prefix}p50_ms": round(
        statistics.median(latencies), 1), f"{prefix}p95_ms": pct(0.95),
        f"{prefix}p99_ms": pct(0.99), f"{prefix}max_ms": round(latencies[-1], 1)}


async def main(idle_alerts: int, burst_seconds: float) -> None:
    fake = await FakeTelegram.start()
    with tempfile.TemporaryDirectory(prefix="chanwatch-latency-") as tmp:
        data_dir = Path(tmp)
        bench = Bench(fake, data_dir)
        texts = dataset_texts(idle_alerts * 4 + int(burst_seconds * 50))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run",
            env=child_env(data_dir, [s.id for s in bench.subscribers]), cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            await until(lambda: (data_dir / "heartbeat").exists(), 60)
            await bench.subscribe()
            await asyncio.sleep(1.5)  # the replies' budgets have refilled
            idle = await bench.publish(texts[:idle_alerts * 4], 8.0, 0)
            await bench.wait_alerts(idle, 30)
            await asyncio.sleep(11)  # every chat's budget is full again
            burst = await bench.publish(texts[idle_alerts * 4:], 50.0, 100_000)
            await bench.wait_alerts(burst, 60)
            result = summary(bench.latencies_ms(idle)) | summary(bench.latencies_ms(burst),
                                                                 "burst_")
            result["burst_posts_per_s"] = 50
            result["posts"] = len(texts)
            print(json.dumps(result), flush=True)
        finally:
            proc.terminate()
            await proc.wait()
            await fake.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=120, help="matching posts when idle")
    parser.add_argument("--burst-seconds", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(main(args.alerts, args.burst_seconds))

"""Crash safety: ``chanwatch run`` is SIGKILLed at random moments while the channel posts.

After every restart the database must be intact, and at the end every post the fake channel
holds is stored exactly once and every matching post was delivered exactly once: a message sent
but not yet marked sent when the process died is re-sent with its persisted random_id, which
Telegram (and the fake) refuses as RANDOM_ID_DUPLICATE instead of delivering it twice.
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import signal
import sqlite3
import sys
from pathlib import Path

from telethon.tl import types

from bot.sandbox import FakeTelegram
from bot.sandbox.world import Account, World
from tests.support.harness import ADMIN, build_world, settings_env, wait_for

KILLS = 20


def child_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TG_", "ADMIN_"))}
    env.update(settings_env(data_dir))
    # ~190 alerts go to one chat in a minute: Telegram's 1/s per chat would take minutes, and
    # the fake does not enforce it (the budgets are tested in test_dispatcher.py)
    env.update({"RECONCILE_INTERVAL": "10s", "LOG_LEVEL": "WARNING", "SEND_RATE_CHAT": "50/s",
                "SEND_RATE_TOTAL": "200/s"})
    return env


async def spawn(data_dir: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=child_env(data_dir), cwd=data_dir,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )


def db_state(path: Path) -> tuple[str, list[int], int]:
    db = sqlite3.connect(path)
    try:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        ids = [r[0] for r in db.execute("SELECT message_id FROM posts ORDER BY 1")]
        pending = db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
        return integrity, ids, pending
    finally:
        db.close()


async def subscribe(world: World, bot: Account, admin: types.User) -> None:
    """The admin watches the channel and alerts on «Белгород» (each reply awaited)."""
    for command in ("/watch @news_test", "/alert Белгород"):
        before = len(world.sent_to(ADMIN))
        world.private_message(bot, admin, command)

        def answered(b: int = before) -> bool:
            return len(world.sent_to(ADMIN)) > b

        await wait_for(answered, within=30)


async def settle(db_path: Path, expected: list[int]) -> None:
    """Wait (at most a minute) until every expected post is stored and nothing is pending."""
    for _ in range(600):
        _, ids, pending = await asyncio.to_thread(db_state, db_path)
        if ids == expected and pending == 0:
            return
        await asyncio.sleep(0.1)


async def test_random_kills_lose_nothing_and_alert_once(tmp_path: Path) -> None:
    rng = random.Random(20261125)
    fake = await FakeTelegram.start()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    db_path = data_dir / "chanwatch.sqlite3"
    proc = None
    try:
        world, accounts = build_world(fake, data_dir)
        admin = world.add_user(ADMIN, "Админ")
        news = world.add_channel(1234567, "Новости", "news_test")
        proc = await spawn(data_dir)
        await wait_for(lambda: (data_dir / "heartbeat").exists(), within=30)  # it is up
        await subscribe(world, accounts["bot"], admin)

        posted = 0

        async def keep_posting() -> None:
            nonlocal posted
            while True:
                text = f"#{posted} Белгород" if posted % 3 == 0 else f"#{posted} погода"
                world.post(news, text)
                posted += 1
                await asyncio.sleep(rng.uniform(0.01, 0.06))

        poster = asyncio.create_task(keep_posting())
        integrity_failures = 0
        try:
            for _ in range(KILLS):
                await asyncio.sleep(rng.uniform(0.3, 1.8))
                proc.send_signal(signal.SIGKILL)
                await proc.wait()
                integrity, _, _ = await asyncio.to_thread(db_state, db_path)
                integrity_failures += integrity != "ok"
                (data_dir / "heartbeat").unlink(missing_ok=True)
                proc = await spawn(data_dir)
        finally:
            poster.cancel()
            await asyncio.gather(poster, return_exceptions=True)

        expected = sorted(news.messages)
        # the last process must be up (its first heartbeat; the file was removed before it
        # was spawned) before it is judged and stopped with SIGTERM
        await wait_for(lambda: (data_dir / "heartbeat").exists(), within=30)

        await settle(db_path, expected)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0

        integrity, ids, pending = db_state(db_path)
        assert integrity_failures == 0 and integrity == "ok"
        assert ids == expected, f"missing {sorted(set(expected) - set(ids))[:10]}"
        assert pending == 0
        alerts = [m.text for m in world.sent_to(ADMIN) if m.text.startswith("🔔")]
        per_post = collections.Counter(line for a in alerts for line in a.splitlines()
                                       if line.startswith("https://t.me/"))
        matching = [i for i in expected if news.messages[i].message.split()[0][1:].isdigit()
                    and int(news.messages[i].message.split()[0][1:]) % 3 == 0]
        assert sorted(per_post) == sorted(f"https://t.me/news_test/{i}" for i in matching)
        assert set(per_post.values()) == {1}, [k for k, v in per_post.items() if v > 1]
        print(f"\ncrash test: {KILLS} kills, {posted} posts, {len(alerts)} alerts delivered once"
              f" each, {world.duplicate_sends} resends refused as RANDOM_ID_DUPLICATE")
    finally:
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()
        await fake.stop()


async def test_sigterm_under_load_stops_within_5s_twice_harmless_nothing_lost(
        tmp_path: Path) -> None:
    """SIGTERM while a channel posts and alerts go out: exit 0 within 5 s, a second SIGTERM
    during the stop changes nothing, and after each restart every post is there."""
    rng = random.Random(20261204)
    fake = await FakeTelegram.start()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    db_path = data_dir / "chanwatch.sqlite3"
    proc = None
    stops: list[float] = []
    try:
        world, accounts = build_world(fake, data_dir)
        admin = world.add_user(ADMIN, "Админ")
        news = world.add_channel(1234567, "Новости", "news_test")
        proc = await spawn(data_dir)
        await wait_for(lambda: (data_dir / "heartbeat").exists(), within=30)
        await subscribe(world, accounts["bot"], admin)
        posted = 0

        async def keep_posting() -> None:
            nonlocal posted
            while True:
                world.post(news, f"#{posted} Белгород" if posted % 2 else f"#{posted} погода")
                posted += 1
                await asyncio.sleep(0.01)  # ~100 posts/s

        poster = asyncio.create_task(keep_posting())
        try:
            for _ in range(3):
                # up (its heartbeat) and working through the posts that came meanwhile
                await wait_for(lambda: (data_dir / "heartbeat").exists(), within=30)
                await asyncio.sleep(rng.uniform(0.5, 1.5))
                started = asyncio.get_running_loop().time()
                proc.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.1)
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)  # impatient operator: harmless
                code = await asyncio.wait_for(proc.wait(), 10)
                stops.append(asyncio.get_running_loop().time() - started)
                assert code == 0, stops
                integrity, _, _ = await asyncio.to_thread(db_state, db_path)
                assert integrity == "ok"
                (data_dir / "heartbeat").unlink(missing_ok=True)
                proc = await spawn(data_dir)
        finally:
            poster.cancel()
            await asyncio.gather(poster, return_exceptions=True)
        expected = sorted(news.messages)
        await wait_for(lambda: (data_dir / "heartbeat").exists(), within=30)

        await settle(db_path, expected)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
        _, ids, pending = db_state(db_path)
        assert ids == expected and pending == 0
        assert max(stops) < 5.0, stops
        alerts = [m.text for m in world.sent_to(ADMIN) if m.text.startswith("🔔")]
        links = collections.Counter(line for a in alerts for line in a.splitlines()
                                    if line.startswith("https://t.me/"))
        assert set(links.values()) == {1}  # each alerted once
        print(f"\nsigterm test: {posted} posts, 3 stops under load in"
              f" {', '.join(f'{s:.2f}' for s in stops)} s, {len(alerts)} alerts once each")
    finally:
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()
        await fake.stop()

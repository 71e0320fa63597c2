"""Warnings to the admins, on a real database and an injected clock: each condition is told
once when it starts and once when it clears; a silence is judged against what is usual at
that hour, and too little history raises nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.models import ChatKind, Post
from bot.services.notify import AdminNotifier
from bot.services.warnings import MIN_SILENCE, Warnings
from bot.store import Database, Store
from tests.support.fakes import FakeClock

ADMIN, CHANNEL = 500, 777


class Rig:
    def __init__(self, store: Store, db: Database, clock: FakeClock, tmp: Path,
                 disk_free_min: int = 0) -> None:
        self.store, self.db, self.clock = store, db, clock
        self.last_update: dt.datetime | None = None
        self.warnings = Warnings(store, AdminNotifier(store, frozenset({ADMIN})), clock, tmp,
                                 disk_free_min=disk_free_min,
                                 last_update=lambda: self.last_update,
                                 started_at=clock.now() - dt.timedelta(days=30))
        self.next_id = 0

    async def posts_at(self, when: dt.datetime, n: int) -> None:
        for _ in range(n):
            self.next_id += 1
            await self.store.posts.save(Post(
                channel_id=CHANNEL, message_id=self.next_id, date=when, text="пост",
                permalink=f"https://t.me/k/{self.next_id}", channel_username="k"), [], [])


@pytest.fixture
async def rig(store: Store, db: Database, clock: FakeClock, tmp_path: Path) -> Rig:
    await store.chats.upsert(ADMIN, ChatKind.PRIVATE, None)
    await store.channels.add(CHANNEL, "k", "Канал", None, None)
    return Rig(store, db, clock, tmp_path)


async def told(rig: Rig) -> list[str]:
    """Every notice queued for the admin, oldest first."""
    rows = await rig.db.fetchall(
        "SELECT payload FROM outbox WHERE chat_id = ? AND kind = 'notice' ORDER BY id", (ADMIN,))
    return [str(r[0]) for r in rows]


async def test_a_silence_much_longer_than_usual_for_the_hour_warns_once_then_clears(
        rig: Rig) -> None:
    now = rig.clock.now()
    for days in range(1, 8):  # 60 posts in this hour on each of the last 7 days
        await rig.posts_at(now - dt.timedelta(days=days, minutes=10), 60)
    assert await rig.warnings.usual_rate(now) == 60
    rig.last_update = now - dt.timedelta(minutes=10)  # 6.9/60 h = 7 min, but 15 at least
    assert await rig.warnings.check() == []
    rig.last_update = now - MIN_SILENCE - dt.timedelta(minutes=1)
    assert await rig.warnings.check() == ["silence"]
    assert await rig.warnings.check() == ["silence"]  # still on: told once
    notices = await told(rig)
    assert len(notices) == 1 and "No update from any channel for 16 min" in notices[0]
    assert "about 60 posts an hour" in notices[0]
    rig.last_update = now
    assert await rig.warnings.check() == []
    notices = await told(rig)
    assert len(notices) == 2 and "arriving again" in notices[1]


async def test_a_quiet_hour_allows_a_longer_silence(rig: Rig) -> None:
    now = rig.clock.now()
    for days in range(1, 8):  # 2 posts in this hour a day: 3.5 h of silence is usual enough
        await rig.posts_at(now - dt.timedelta(days=days, minutes=10), 2)
    rig.last_update = now - dt.timedelta(hours=3)
    assert await rig.warnings.check() == []
    rig.last_update = now - dt.timedelta(hours=4)
    assert await rig.warnings.check() == ["silence"]


async def test_too_little_history_raises_nothing(rig: Rig) -> None:
    now = rig.clock.now()
    for days in (1, 2):  # only 2 of 7 days had posts at this hour
        await rig.posts_at(now - dt.timedelta(days=days, minutes=10), 100)
    rig.last_update = now - dt.timedelta(days=2)
    assert await rig.warnings.usual_rate(now) is None
    assert await rig.warnings.check() == []


async def test_catch_ups_failing_in_a_row(rig: Rig) -> None:
    for _ in range(2):
        rig.warnings.reconcile_failed()
    assert await rig.warnings.check() == []
    rig.warnings.reconcile_failed()
    assert await rig.warnings.check() == ["reconcile"]
    rig.warnings.reconcile_succeeded()
    assert await rig.warnings.check() == []
    notices = await told(rig)
    assert "The last 3 catch-ups failed" in notices[0] and "Catch-ups work again" in notices[1]


async def test_an_outbox_that_does_not_drain(rig: Rig) -> None:
    await rig.store.chats.upsert(600, ChatKind.PRIVATE, None)
    for i in range(5):
        await rig.store.outbox.enqueue_notice(600, f"сообщение {i}", f"k{i}")
    assert await rig.warnings.check() == []
    rig.clock.advance(minutes=11)
    assert await rig.warnings.check() == ["outbox"]
    assert "5 messages are waiting to be sent, the oldest for 11 min" in (await told(rig))[0]
    # it drains: shorter than 10 minutes before (the warning itself is one more message)
    for _ in range(2):
        for item in await rig.store.outbox.due(rig.clock.now(), limit=10):
            if item.chat_id == 600:
                await rig.store.outbox.mark_sent(item.id)
    rig.clock.advance(minutes=11)
    assert await rig.warnings.check() == []  # fewer than before: draining
    assert "moving again" in (await told(rig))[-1]


async def test_free_disk_under_the_floor(store: Store, db: Database, clock: FakeClock,
                                         tmp_path: Path) -> None:
    await store.chats.upsert(ADMIN, ChatKind.PRIVATE, None)
    rig = Rig(store, db, clock, tmp_path, disk_free_min=10**18)  # an exabyte: never free
    assert await rig.warnings.check() == ["disk"]
    assert "GB free on the data volume" in (await told(rig))[0]
    rig.warnings.disk_free_min = 1  # the floor lowered: room again
    assert await rig.warnings.check() == []
    assert "has room again" in (await told(rig))[-1]

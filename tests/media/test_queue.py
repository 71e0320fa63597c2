"""The download queue in a real database: order, retries, end states, the plan."""

from __future__ import annotations

import datetime as dt

from bot.models import MediaFile, Post
from bot.store import Database, Store
from bot.store.media import GONE, NEXT_DUE, QUOTA
from tests.support.fakes import FakeClock

START = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def photo_post(message_id: int, minutes: int, file_id: int) -> Post:
    return Post(channel_id=777, message_id=message_id, date=START + dt.timedelta(minutes=minutes),
                text=f"пост {message_id}", permalink=f"https://t.me/kanal/{message_id}",
                media="photo", media_file=MediaFile(file_id=file_id, kind="photo",
                                                    mime="image/jpeg", ref=b"tl", size=1000))


async def test_newest_first_retries_wait_and_skipped_rows_come_back(
        store: Store, clock: FakeClock) -> None:
    await store.channels.add(777, "kanal", "Канал", 5, added_by=1)
    # stored out of order: a catch-up of old posts after a newer live one
    for message_id, minutes in ((3, 30), (1, 10), (2, 20)):
        await store.posts.save(photo_post(message_id, minutes, 100 + message_id), [], [],
                               source="reconcile")
    first = await store.media.next_due()
    assert first is not None and (first.message_id, first.file.file_id) == (3, 103)
    assert first.file.ref == b"tl" and first.file.size == 1000
    await store.media.retry_later(first, clock.now() + dt.timedelta(minutes=5), "boom")
    nxt = await store.media.next_due()
    assert nxt is not None and nxt.message_id == 2  # the waiting one is skipped meanwhile
    assert await store.media.next_retry_at() == clock.now() + dt.timedelta(minutes=5)
    await store.media.give_up(nxt, QUOTA, "MEDIA_MAX_GB reached")
    last = await store.media.next_due()
    assert last is not None and last.message_id == 1
    await store.media.give_up(last, GONE, "deleted")
    assert await store.media.next_due() is None
    clock.advance(minutes=5)
    again = await store.media.next_due()
    assert again is not None and (again.message_id, again.attempts) == (3, 1)
    # a restart puts the quota row back (its reference was kept), never the gone one
    assert await store.media.requeue_skipped() == 1
    counts = await store.media.counts()
    assert counts.by_state == {"gone": 1, "pending": 2} and counts.files == 0
    # the same post seen again (a replay) files nothing twice
    await store.posts.save(photo_post(3, 30, 103), [], [], source="reconcile")
    assert (await store.media.counts()).by_state == {"gone": 1, "pending": 2}


async def test_queue_lookup_reads_the_index_in_order(store: Store, db: Database) -> None:
    plan = await db.fetchall("EXPLAIN QUERY PLAN " + NEXT_DUE, ("x",))
    details = " | ".join(str(r[3]) for r in plan)
    assert "USING INDEX post_media_queue" in details and "TEMP B-TREE" not in details, details

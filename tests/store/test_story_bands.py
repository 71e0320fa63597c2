"""Cross-channel dedup looks up fingerprint bands (migrations/0008) and finds what the scan did.

The scan this replaced compared the new post's fingerprint with every alert of the chat in the
dedup window; ``_SCAN`` below is that query, kept as the reference the lookup must agree with.
"""

from __future__ import annotations

import itertools
import random
import shutil
import struct
from pathlib import Path

import aiosqlite
import pytest

from bot.clock import to_iso
from bot.match.dedup import BAND_SLOTS, BANDS, SIMILAR, SLOTS, bands, fingerprint, similarity
from bot.models import ChatKind, Post, StoryKeys
from bot.store import Database, Store, apply_migrations
from bot.store.migrate import migrations_dir
from bot.store.outbox import _EARLIER_ALERT, _story_params
from bot.store.records import DEFAULT_DEDUP_WINDOW
from tests.support.events import draft
from tests.support.fakes import FakeClock

_PACK = struct.Struct(f"<{SLOTS}I")
CHATS = (500, 501)
CHANNELS = (777, 888, 999)

# The query the band lookup replaced (bot/store/outbox.py before migration 0008).
_SCAN = (
    "SELECT o.id, o.status FROM outbox o JOIN posts p ON p.id = o.post_id"
    " WHERE o.chat_id = ? AND o.kind = 'alert' AND o.created_at >= ?"
    " AND o.status != 'dead' AND p.channel_id != ?"
    " AND (p.story = ? OR similarity(p.fingerprint, ?) >= ?)"
    " ORDER BY o.id LIMIT 1"
)


def signature(slots: list[int]) -> bytes:
    return _PACK.pack(*slots)


def differing(base: list[int], positions: list[int]) -> list[int]:
    """``base`` with the slots at ``positions`` changed (to values no other slot has)."""
    out = list(base)
    for i in positions:
        out[i] = base[i] ^ 0x5A5A5A5A
    return out


def one_per_band(chosen_bands: tuple[int, ...], *, second: bool) -> list[int]:
    """Slot positions spoiling each chosen band with one slot: the most bands per change."""
    return [b * BAND_SLOTS + (b % BAND_SLOTS if second else 0) for b in chosen_bands]


BASE = [random.Random(8).getrandbits(32) for _ in range(SLOTS)]


def fewest_equal_slots_that_are_similar() -> int:
    """Worked out with similarity() itself, so the test follows SLOTS and SIMILAR."""
    return min(k for k in range(SLOTS + 1)
               if (similarity(signature(BASE), signature(differing(BASE, list(range(SLOTS - k)))))
                   or 0) >= SIMILAR)


def test_similar_signatures_always_share_a_band() -> None:
    """The recall argument: 20 of 32 slots equal leaves at most 12 spoiled of 16 bands.

    Checked for the worst placements, one differing slot per band, over every choice of the
    spoiled bands, at exactly the threshold.
    """
    need = fewest_equal_slots_that_are_similar()
    assert need == 20  # 19/32 < 0.6 <= 20/32
    spoiled = SLOTS - need
    assert spoiled < BANDS
    a = signature(BASE)
    for chosen in itertools.combinations(range(BANDS), spoiled):
        for second in (False, True):
            b = signature(differing(BASE, one_per_band(chosen, second=second)))
            assert similarity(a, b) == need / SLOTS >= SIMILAR
            shared = set(bands(a)) & set(bands(b))
            assert len(shared) == BANDS - spoiled >= 4
            assert {n for n, _ in shared} == set(range(BANDS)) - set(chosen)


def test_bands_are_the_signature_cut_in_eight_byte_pieces() -> None:
    sig = fingerprint("Сбит беспилотник над Белгородом, пострадавших нет, сообщил губернатор")
    assert sig is not None
    assert [n for n, _ in bands(sig)] == list(range(BANDS))
    assert b"".join(v for _, v in bands(sig)) == sig
    assert bands(None) == [] and bands(sig[:64]) == []  # similarity() compares neither


async def _setup(store: Store) -> None:
    for chat_id in CHATS:
        await store.chats.upsert(chat_id, ChatKind.PRIVATE, None)
    for channel_id in CHANNELS:
        await store.channels.add(channel_id, f"c{channel_id}", f"Канал {channel_id}", 5,
                                 added_by=500)


def make_post(channel_id: int, message_id: int, clock: FakeClock) -> Post:
    return Post(channel_id=channel_id, message_id=message_id, date=clock.now(),
                text=f"пост {message_id}", permalink=f"https://t.me/c{channel_id}/{message_id}")


async def _alert(store: Store, clock: FakeClock, channel_id: int, message_id: int,
                 sig: bytes | None, chats: tuple[int, ...] = (500,),
                 story: str | None = None) -> int:
    """Save a post alerting ``chats``; return how many alerts it queued (new or "also in")."""
    post = make_post(channel_id, message_id, clock)
    keys = StoryKeys(story or f"channel:{channel_id}/{message_id}", sig)
    result = await store.posts.save(post, [], [draft(post, c) for c in chats], keys=keys)
    return result.alerts_enqueued


async def _alerts(db: Database) -> list[tuple[int, int, str | None]]:
    rows = await db.fetchall("SELECT o.chat_id, p.channel_id, o.also FROM outbox o"
                             " JOIN posts p ON p.id = o.post_id WHERE o.kind = 'alert'"
                             " ORDER BY o.id")
    return [(r[0], r[1], r[2]) for r in rows]


@pytest.mark.parametrize("chosen", [tuple(range(12)), tuple(range(4, 16)),
                                    (0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7),
                                    (15, 13, 11, 9, 7, 5, 3, 1, 0, 2, 4, 6)])
@pytest.mark.parametrize("second", [False, True])
async def test_a_repost_at_exactly_the_threshold_is_found(
    store: Store, db: Database, clock: FakeClock, chosen: tuple[int, ...], second: bool,
) -> None:
    """20/32 equal slots, the 12 differences spoiling 12 bands: still "also in"."""
    await _setup(store)
    await _alert(store, clock, 777, 1, signature(BASE))
    clock.advance(minutes=5)
    near = signature(differing(BASE, one_per_band(chosen, second=second)))
    assert similarity(signature(BASE), near) == 20 / 32
    assert await _alert(store, clock, 888, 1, near) == 1
    alerts = await _alerts(db)
    assert [(c, ch) for c, ch, _ in alerts] == [(500, 777)]
    assert alerts[0][2] is not None and "c888" in alerts[0][2]


async def test_below_the_threshold_a_shared_band_is_not_enough(
    store: Store, db: Database, clock: FakeClock,
) -> None:
    """19/32 equal slots still share 3 bands, but the similarity check says no: own alert."""
    await _setup(store)
    await _alert(store, clock, 777, 1, signature(BASE))
    clock.advance(minutes=5)
    far = signature(differing(BASE, one_per_band(tuple(range(13)), second=False)))
    assert len(set(bands(signature(BASE))) & set(bands(far))) == 3
    assert await _alert(store, clock, 888, 1, far) == 1
    assert [(c, ch, also) for c, ch, also in await _alerts(db)] == [
        (500, 777, None), (500, 888, None)]


async def test_band_rows_are_the_python_bands_of_each_alert(
    store: Store, db: Database, clock: FakeClock,
) -> None:
    """The trigger's substr() cuts the bytes bands() cuts, for each chat's alert."""
    await _setup(store)
    sig = fingerprint("Сбит беспилотник над Белгородом, пострадавших нет, сообщил губернатор")
    await _alert(store, clock, 777, 1, sig, chats=CHATS)
    await _alert(store, clock, 888, 1, None)  # no fingerprint: no rows
    await _alert(store, clock, 999, 1, sig[:64] if sig else None)  # uncomparable: no rows
    rows = await db.fetchall("SELECT b.chat_id, b.band, b.value, b.created_at, o.created_at"
                             " FROM story_bands b JOIN outbox o ON o.id = b.alert_id"
                             " ORDER BY b.chat_id, b.band")
    assert [(r[0], r[1], r[2]) for r in rows] == [(c, n, v) for c in CHATS for n, v in bands(sig)]
    assert all(r[3] == r[4] for r in rows)


async def test_the_lookup_agrees_with_the_scan(
    store: Store, db: Database, clock: FakeClock,
) -> None:
    """Random stories, near copies, forwards, dead alerts, two chats, time passing: each
    lookup answers what the scan of the window answers."""
    await _setup(store)
    rng = random.Random(2026)
    stories = [[rng.getrandbits(32) for _ in range(SLOTS)] for _ in range(4)]
    outcomes: dict[str, int] = {"found": 0, "by_fingerprint": 0, "at_threshold": 0, "none": 0}
    for message_id in range(1, 241):
        channel_id = rng.choice(CHANNELS)
        base = rng.choice(stories)
        changed = rng.randint(0, 18)
        sig = (signature(differing(base, rng.sample(range(SLOTS), changed)))
               if rng.random() > 0.1 else None)
        story = "channel:1/1" if rng.random() < 0.1 else f"channel:{channel_id}/{message_id}"
        since = to_iso(clock.now() - DEFAULT_DEDUP_WINDOW)
        for chat_id in CHATS:
            scan = await db.fetchone(_SCAN, (chat_id, since, channel_id, story, sig, SIMILAR))
            lookup = await db.fetchone(_EARLIER_ALERT, {
                "chat": chat_id, "since": since, "channel": channel_id,
                **_story_params(story, sig)})
            assert (tuple(lookup) if lookup else None) == (tuple(scan) if scan else None)
            if scan is None:
                outcomes["none"] += 1
                continue
            outcomes["found"] += 1
            found = await db.fetchone("SELECT p.story, p.fingerprint FROM outbox o"
                                      " JOIN posts p ON p.id = o.post_id WHERE o.id = ?",
                                      (scan[0],))
            assert found is not None
            if found[0] != story:
                outcomes["by_fingerprint"] += 1
                outcomes["at_threshold"] += similarity(found[1], sig) == 20 / 32
        chats = tuple(c for c in CHATS if rng.random() < 0.7) or (500,)
        await _alert(store, clock, channel_id, message_id, sig, chats, story)
        if rng.random() < 0.1:
            await db.transaction(lambda conn: conn.execute(
                "UPDATE outbox SET status = 'dead' WHERE id = (SELECT MAX(id) FROM outbox)"))
        clock.advance(minutes=rng.choice([1, 10, 30, 90]))
    # the walk went through every kind of answer
    assert outcomes["found"] > 50 and outcomes["none"] > 50
    assert outcomes["by_fingerprint"] > 20 and outcomes["at_threshold"] > 0


async def test_a_fingerprint_set_by_an_edit_files_the_posts_earlier_alerts(
    store: Store, db: Database, clock: FakeClock,
) -> None:
    """An alert queued while its post had no fingerprint is found once an edit gives it one."""
    await _setup(store)
    post = make_post(777, 1, clock)
    await _alert(store, clock, 777, 1, None)  # chat 500 alerted, no fingerprint yet
    assert await db.fetchall("SELECT * FROM story_bands") == []
    clock.advance(minutes=1)
    edited = Post(channel_id=777, message_id=1, date=post.date, text="пост 1, уточнение",
                  permalink=post.permalink, edit_date=clock.now())
    sig = signature(BASE)
    edit = await store.posts.save_edit(edited, [], [draft(edited, 501)], fingerprint=sig)
    assert edit is not None and edit.changed
    rows = await db.fetchall("SELECT chat_id, band, value FROM story_bands ORDER BY chat_id, band")
    assert [tuple(r) for r in rows] == [(c, n, v) for c in CHATS for n, v in bands(sig)]
    clock.advance(minutes=1)
    assert await _alert(store, clock, 888, 1, sig, chats=CHATS) == 2
    assert [(c, ch) for c, ch, also in await _alerts(db) if also] == [(500, 777), (501, 777)]


async def test_a_deleted_alert_takes_its_rows_along(
    store: Store, db: Database, clock: FakeClock,
) -> None:
    await _setup(store)
    await _alert(store, clock, 777, 1, signature(BASE), chats=CHATS)
    await db.transaction(lambda conn: conn.execute(
        "DELETE FROM outbox WHERE chat_id = 500 AND kind = 'alert'"))
    rows = await db.fetchall("SELECT DISTINCT chat_id FROM story_bands")
    assert [r[0] for r in rows] == [501]


async def test_the_lookup_uses_indexes_only(store: Store, db: Database, clock: FakeClock) -> None:
    """No scan of outbox, posts or story_bands, with statistics or without."""
    await _setup(store)
    for message_id in range(1, 30):
        await _alert(store, clock, CHANNELS[message_id % 3], message_id,
                     signature(differing(BASE, [message_id % SLOTS])), chats=CHATS)
    params = {"chat": 500, "since": to_iso(clock.now() - DEFAULT_DEDUP_WINDOW),
              "channel": 777, **_story_params("channel:777/1", signature(BASE))}
    for analysed in (False, True):
        if analysed:
            await db.transaction(lambda conn: conn.execute("ANALYZE"))
        plan = [r["detail"] for r in await db.fetchall("EXPLAIN QUERY PLAN " + _EARLIER_ALERT,
                                                       params)]
        scans = [d for d in plan if d.startswith("SCAN")]
        assert sorted(scans) == ["SCAN 16 CONSTANT ROWS", "SCAN c", "SCAN mine"], plan
        assert ("SEARCH b USING PRIMARY KEY"
                " (chat_id=? AND band=? AND value=? AND created_at>?)") in plan
        assert any("USING INDEX outbox_alert_post (post_id=? AND chat_id=?)" in d for d in plan)
        assert any("USING COVERING INDEX posts_story (story=?)" in d for d in plan)


async def _old_rows(conn: aiosqlite.Connection, clock: FakeClock, sig: bytes) -> None:
    """Posts and alerts as the code before 0008 wrote them (its tables, its columns)."""
    now = to_iso(clock.now())
    for channel_id, message_id, fp in ((777, 1, sig), (888, 2, None), (999, 3, sig[:64])):
        cur = await conn.execute(
            "INSERT INTO posts (channel_id, message_id, date, text, permalink, received_at,"
            " story, fingerprint) VALUES (?, ?, ?, 'пост', 'https://t.me/x', ?, ?, ?)"
            " RETURNING id",
            (channel_id, message_id, now, now, f"channel:{channel_id}/{message_id}", fp))
        row = await cur.fetchone()
        await cur.close()
        assert row is not None
        for chat_id in CHATS:
            await conn.execute(
                "INSERT INTO outbox (chat_id, kind, post_id, payload, random_id, dedup_key,"
                " next_attempt_at, created_at) VALUES (?, 'alert', ?, '', 0, ?, ?, ?)",
                (chat_id, row[0], f"post:{channel_id}:{message_id}", now, now))
    await conn.execute(
        "INSERT INTO outbox (chat_id, kind, post_id, payload, random_id, dedup_key,"
        " next_attempt_at, created_at) VALUES (500, 'webhook', 1, '', 0, 'w', ?, ?)",
        (now, now))


async def test_the_migration_files_alerts_queued_before_it(
    tmp_path: Path, clock: FakeClock,
) -> None:
    """0008 fills story_bands for the alerts already in the outbox, then dedup finds them."""
    old = tmp_path / "old-migrations"
    old.mkdir()
    for path in sorted(migrations_dir().glob("*.sql"))[:7]:
        shutil.copy(path, old / path.name)
    db = await Database.open(tmp_path / "old.sqlite3")
    try:
        await apply_migrations(db, clock, old)
        store = Store(db, clock)
        await _setup(store)
        sig = signature(BASE)
        await db.transaction(lambda conn: _old_rows(conn, clock, sig))
        assert (await apply_migrations(db, clock))[0] == 8  # and any after it
        rows = await db.fetchall("SELECT b.chat_id, b.band, b.value, b.created_at = o.created_at"
                                 " FROM story_bands b JOIN outbox o ON o.id = b.alert_id"
                                 " JOIN posts p ON p.id = o.post_id AND p.message_id = 1"
                                 " ORDER BY b.chat_id, b.band")
        assert [tuple(r) for r in rows] == [(c, n, v, 1) for c in CHATS for n, v in bands(sig)]
        count = await db.fetchone("SELECT COUNT(*) FROM story_bands")
        assert count is not None and count[0] == len(rows)
        clock.advance(minutes=5)
        near = signature(differing(BASE, one_per_band(tuple(range(12)), second=True)))
        assert await _alert(store, clock, 999, 4, near, chats=CHATS) == 2
        assert [(c, ch) for c, ch, also in await _alerts(db) if also] == [(500, 777), (501, 777)]
    finally:
        await db.close()


async def test_an_alert_outside_the_window_is_not_found(
    store: Store, db: Database, clock: FakeClock,
) -> None:
    await _setup(store)
    await _alert(store, clock, 777, 1, signature(BASE))
    clock.advance(seconds=DEFAULT_DEDUP_WINDOW.total_seconds() + 1)
    assert await _alert(store, clock, 888, 1, signature(BASE)) == 1
    assert [also for _, _, also in await _alerts(db)] == [None, None]
    clock.advance(minutes=1)
    assert await _alert(store, clock, 999, 1, signature(BASE)) == 1  # the second one, in time
    assert [(ch, also is not None) for _, ch, also in await _alerts(db)] == [
        (777, False), (888, True)]

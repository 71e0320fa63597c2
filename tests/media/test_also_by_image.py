""""Also in" by the picture, on a real database: when a post's photo is stored and hashed,
a chat's not yet sent alert of it is dropped for an earlier alert of another channel's post
with the same picture, which names it; the window, the channel and the distance decide; a
failure inside that transaction leaves the photo queued and the alert as it was."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.match import Lemmatizer
from bot.media.files import MediaFiles
from bot.media.phash import SAME_IMAGE_DISTANCE, image_phash
from bot.models import ChatKind, MediaFile, Post
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.services.rules import RulesService
from bot.store import Database, Store
from tests.support.fakes import FakeClock
from tests.support.images import encode, scene

CHAT = 11
A, B = 777, 888
UTC = ZoneInfo("UTC")


@dataclasses.dataclass
class Rig:
    store: Store
    db: Database
    clock: FakeClock
    ingest: IngestService
    files: MediaFiles
    tmp: Path
    next_id: int = 0

    async def post(self, channel: int, text: str, picture: bytes) -> Post:
        """A live post with a photo; returns it with its file still queued."""
        self.next_id += 1
        mid = self.next_id
        name = "kanal_a" if channel == A else "kanal_b"
        post = Post(channel_id=channel, message_id=mid, date=self.clock.now(), text=text,
                    permalink=f"https://t.me/{name}/{mid}", channel_username=name,
                    media="photo", media_file=MediaFile(file_id=5000 + mid, kind="photo",
                                                        mime="image/jpeg", ref=b"tl"))
        await self.ingest.ingest(post)
        (self.tmp / f"{mid}.jpg").write_bytes(picture)
        return post

    async def store_photo(self, post: Post) -> int:
        """What the downloader does once the file is in: store, hash, record (and dedup)."""
        item = await self.store.media.next_due()
        assert item is not None and item.message_id == post.message_id
        download = self.tmp / f"{post.message_id}.part"
        download.write_bytes((self.tmp / f"{post.message_id}.jpg").read_bytes())
        stored = self.files.put(download, "jpg")
        phash = image_phash(self.files.path(stored.sha256, stored.ext))
        return await self.store.media.stored(item, stored.sha256, stored.ext, stored.size,
                                             phash, same_image=SAME_IMAGE_DISTANCE)

    async def alerts(self) -> list[tuple[int, str, str | None]]:
        """(message id, status, also) of the chat's alerts."""
        rows = await self.db.fetchall(
            "SELECT p.message_id, o.status, o.also FROM outbox o JOIN posts p"
            " ON p.id = o.post_id WHERE o.kind = 'alert' ORDER BY o.id")
        return [(int(r[0]), r[1], r[2]) for r in rows]

    async def edits(self) -> int:
        row = await self.db.fetchone("SELECT COUNT(*) FROM outbox WHERE kind = 'edit'")
        assert row is not None
        return int(row[0])

    async def send_all(self) -> None:
        await self.db.transaction(lambda conn: conn.execute(
            "UPDATE outbox SET status = 'sent', sent_at = created_at, message_id = id"
            " WHERE status = 'pending'"))


@pytest.fixture
async def rig(store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer,
              tmp_path: Path) -> Rig:
    await store.chats.upsert(CHAT, ChatKind.PRIVATE, None)
    await store.channels.add(A, "kanal_a", "Канал А", None, None)
    await store.channels.add(B, "kanal_b", "Канал Б", None, None)
    rules = RulesService(store, lemmatizer)
    await rules.rebuild()
    await rules.add(CHAT, "дрон", CHAT)
    ingest = IngestService(store, rules, UTC, clock, AdminNotifier(store, frozenset()))
    files = MediaFiles(tmp_path / "media")
    files.make_temp()
    return Rig(store, db, clock, ingest, files, tmp_path)


PICTURE = scene(51)
COPY = encode(PICTURE.resize((400, 300)), quality=55)  # another channel's re-encoding


async def test_an_unsent_alert_with_the_same_picture_becomes_also_in(rig: Rig) -> None:
    first = await rig.post(A, "Дрон атаковал подстанцию", encode(PICTURE))
    assert await rig.store_photo(first) == 0  # nothing earlier
    await rig.send_all()
    second = await rig.post(B, "Совсем другой текст про дрон и очевидцев", COPY)
    assert [a[:2] for a in await rig.alerts()] == [(first.message_id, "sent"),
                                                  (second.message_id, "pending")]
    assert await rig.store_photo(second) == 1
    assert await rig.alerts() == [(first.message_id, "sent",
                                   '[{"name":"@kanal_b","url":"https://t.me/kanal_b/2"}]')]
    assert await rig.edits() == 1  # the sent alert is edited to say it
    # its match is kept (digests, search)
    row = await rig.db.fetchone("SELECT COUNT(*) FROM matches m JOIN posts p"
                                " ON p.id = m.post_id WHERE p.channel_id = ?", (B,))
    assert row is not None and row[0] == 1


async def test_a_sent_alert_stays_and_the_earlier_one_names_it(rig: Rig) -> None:
    first = await rig.post(A, "Дрон атаковал подстанцию", encode(PICTURE))
    await rig.store_photo(first)
    second = await rig.post(B, "Другой текст про дрон", COPY)
    await rig.send_all()  # both went out before the second photo was hashed
    assert await rig.store_photo(second) == 0
    alerts = await rig.alerts()
    assert [a[:2] for a in alerts] == [(first.message_id, "sent"), (second.message_id, "sent")]
    assert alerts[0][2] is not None and "@kanal_b" in alerts[0][2]


async def test_a_different_picture_the_same_channel_or_an_old_alert_is_not_the_same(
        rig: Rig) -> None:
    first = await rig.post(A, "Дрон атаковал подстанцию", encode(PICTURE))
    await rig.store_photo(first)
    await rig.send_all()
    other = await rig.post(B, "Другой дрон", encode(scene(52)))
    assert await rig.store_photo(other) == 0
    same_channel = await rig.post(A, "Тот же канал, тот же дрон", COPY)
    assert await rig.store_photo(same_channel) == 0
    rig.clock.advance(hours=7)  # past the 6 h window
    late = await rig.post(B, "Через семь часов: дрон", COPY)
    assert await rig.store_photo(late) == 0
    assert [a[1] for a in await rig.alerts()] == ["sent", "pending", "pending", "pending"]
    assert await rig.edits() == 0


async def test_dedup_window_zero_turns_it_off(rig: Rig) -> None:
    rig.store.media.dedup_window = rig.store.posts.dedup_window = 0 * rig.store.media.dedup_window
    first = await rig.post(A, "Дрон атаковал подстанцию", encode(PICTURE))
    await rig.store_photo(first)
    await rig.send_all()
    second = await rig.post(B, "Другой текст про дрон", COPY)
    assert await rig.store_photo(second) == 0
    assert len(await rig.alerts()) == 2


async def test_a_failure_inside_the_transaction_leaves_everything_as_it_was(rig: Rig) -> None:
    first = await rig.post(A, "Дрон атаковал подстанцию", encode(PICTURE))
    await rig.store_photo(first)
    await rig.send_all()
    second = await rig.post(B, "Другой текст про дрон", COPY)
    for statement in ("DELETE", "UPDATE"):  # dropping the alert / naming it in the earlier
        await rig.db.transaction(lambda conn, s=statement: conn.execute(
            f"CREATE TRIGGER fail_dedup BEFORE {s} ON outbox BEGIN"
            " SELECT RAISE(ABORT, 'injected'); END"))
        with pytest.raises(sqlite3.IntegrityError, match="injected"):
            await rig.store_photo(second)
        await rig.db.transaction(lambda conn: conn.execute("DROP TRIGGER fail_dedup"))
        # nothing half-done: the photo is still queued, both alerts as they were
        states = await rig.db.fetchall("SELECT state FROM post_media ORDER BY post_id")
        assert [r[0] for r in states] == ["stored", "pending"]
        assert [a[1:] for a in await rig.alerts()] == [("sent", None), ("pending", None)]
        assert await rig.edits() == 0
    assert await rig.store_photo(second) == 1  # tried again, it goes through


async def test_the_copy_repost_lookup_reads_indexes_only(rig: Rig) -> None:
    """The same-file lookup runs for every alert of a post with media: never a scan."""
    from bot.store.outbox import _EARLIER_FILE

    plan = [r["detail"] for r in await rig.db.fetchall(
        "EXPLAIN QUERY PLAN " + _EARLIER_FILE, (5001, CHAT, "2026-01-01T00:00:00+00:00", A))]
    assert not [d for d in plan if d.startswith("SCAN")], plan
    assert any("INDEX post_media_file (file_id=?)" in d for d in plan), plan
    assert any("INDEX outbox_alert_post (post_id=? AND chat_id=?)" in d for d in plan), plan

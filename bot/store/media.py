"""Media kept: the download queue (``post_media``) and the stored files (``media``).

Rows are written with the post, in its transaction (``queue_media``, called from
bot/store/posts.py), and then belong to the downloader (bot/media/downloader.py), which takes
them newest first, one at a time, and records how each ended (migrations/0010_media.sql).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass

import aiosqlite

from bot.clock import Clock, from_iso, to_iso
from bot.media.phash import distance as phash_distance  # a pure function: no imaging loaded
from bot.models import MediaFile, Post
from bot.store.base import Repository
from bot.store.db import Database
from bot.store.outbox import also_by_image
from bot.store.records import DEFAULT_DEDUP_WINDOW

# What a row can end as (besides 'pending' and 'stored'); the CHECK in 0010 lists them all.
TOO_LARGE, QUOTA, GONE, FAILED = "too_large", "quota", "gone", "failed"
REQUEUED_AT_START = (TOO_LARGE, QUOTA)  # the limits may have changed since


@dataclass(frozen=True)
class QueuedMedia:
    """One download to do: the file, the post that carries it, how it went so far."""

    post_id: int
    channel_id: int
    message_id: int
    file: MediaFile
    attempts: int


@dataclass(frozen=True)
class StoredMedia:
    """A file in the media store and one post that carries it."""

    sha256: str
    ext: str
    size: int
    mime: str
    post_id: int
    channel_id: int
    message_id: int
    kind: str


@dataclass(frozen=True)
class SimilarPost:
    """A stored post whose image is like the one asked about."""

    distance: int  # bits of the 64 that differ (0: the same hash)
    sha256: str
    ext: str
    channel_id: int
    channel_title: str
    channel_username: str | None
    message_id: int
    date: dt.datetime
    permalink: str
    deleted_at: dt.datetime | None
    post_id: int


@dataclass(frozen=True)
class PostFile:
    """A file a post carries, as an evidence bundle lists it (``sha256``: None if not kept)."""

    post_id: int
    kind: str
    mime: str
    state: str
    sha256: str | None
    ext: str | None
    size: int | None
    phash: str | None = None  # an image's perceptual hash, once stored


@dataclass(frozen=True)
class AlertPhoto:
    """The photo an alert of a post shows: the post's own or its album's first."""

    state: str  # post_media.state: pending, stored, too_large, quota, gone, failed
    sha256: str | None
    ext: str | None


# An album is up to 10 consecutive messages sharing grouped_id: looking 9 ids either way
# keeps the lookup on the posts' (channel_id, message_id) key.
ALERT_PHOTO = (
    "SELECT pm.state, pm.sha256, m.ext FROM posts p JOIN posts q"
    " ON q.channel_id = p.channel_id AND q.message_id BETWEEN p.message_id - 9"
    " AND p.message_id + 9 AND (q.id = p.id OR q.grouped_id = p.grouped_id)"
    " JOIN post_media pm ON pm.post_id = q.id LEFT JOIN media m ON m.sha256 = pm.sha256"
    " WHERE p.id = ? AND pm.kind = 'photo' ORDER BY q.message_id, pm.file_id LIMIT 1")


@dataclass(frozen=True)
class OcrItem:
    """A stored picture of a post whose text is to be read and matched."""

    post_id: int
    file_id: int
    sha256: str
    ext: str


@dataclass(frozen=True)
class MediaCounts:
    """The queue by state, and the store's size."""

    by_state: dict[str, int]
    files: int
    bytes: int


async def queue_media(conn: aiosqlite.Connection, post_id: int, post: Post, now: str) -> None:
    """File the post's photo or document for download (no-op without one, or if filed)."""
    f = post.media_file
    if f is None:
        return
    await conn.execute(
        "INSERT INTO post_media (post_id, file_id, kind, mime, size, width, height, duration,"
        " file_name, post_date, ref, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (post_id, f.file_id, f.kind, f.mime, f.size, f.width, f.height, f.duration,
         f.file_name, to_iso(post.date), f.ref, now))


# The newest pending download that is due: read in the order of the index post_media_queue
# (no sort, however long the backlog; tests/media/test_queue.py checks the plan).
NEXT_DUE = (
    "SELECT m.*, p.channel_id, p.message_id FROM post_media m"
    " JOIN posts p ON p.id = m.post_id"
    " WHERE m.state = 'pending' AND (m.next_try_at IS NULL OR m.next_try_at <= ?)"
    " ORDER BY m.post_date DESC, m.post_id DESC, m.file_id LIMIT 1"
)


# The newest stored picture whose text is not read yet, in the order of post_media_ocr.
NEXT_OCR = (
    "SELECT pm.post_id, pm.file_id, pm.sha256, m.ext FROM post_media pm"
    " JOIN media m ON m.sha256 = pm.sha256 WHERE pm.ocr = 'pending'"
    " ORDER BY pm.post_date DESC, pm.post_id DESC, pm.file_id LIMIT 1"
)


def _queued(row: sqlite3.Row) -> QueuedMedia:
    return QueuedMedia(
        post_id=int(row["post_id"]), channel_id=int(row["channel_id"]),
        message_id=int(row["message_id"]), attempts=int(row["attempts"]),
        file=MediaFile(file_id=int(row["file_id"]), kind=row["kind"], mime=row["mime"],
                       ref=bytes(row["ref"]), size=row["size"], width=row["width"],
                       height=row["height"], duration=row["duration"],
                       file_name=row["file_name"]))


class MediaRepository(Repository):
    """The download queue and the files it stored."""

    def __init__(self, db: Database, clock: Clock,
                 dedup_window: dt.timedelta = DEFAULT_DEDUP_WINDOW) -> None:
        super().__init__(db, clock)
        self.dedup_window = dedup_window  # "also in" by image looks this far back (DEDUP_WINDOW)

    async def requeue_skipped(self) -> int:
        """Put rows skipped for a limit back in the queue (at start: limits may have moved)."""
        marks = ",".join("?" * len(REQUEUED_AT_START))
        return await self._write(
            f"UPDATE post_media SET state = 'pending', done_at = NULL, last_error = NULL"
            f" WHERE state IN ({marks}) AND ref IS NOT NULL", REQUEUED_AT_START)

    async def next_due(self) -> QueuedMedia | None:
        """The newest pending download whose retry time has come, or None."""
        now = to_iso(self._clock.now())
        row = await self._db.fetchone(NEXT_DUE, (now,))
        return _queued(row) if row is not None else None

    async def next_retry_at(self) -> dt.datetime | None:
        """When the earliest pending download that waits for a retry is due."""
        row = await self._db.fetchone(
            "SELECT MIN(next_try_at) FROM post_media WHERE state = 'pending'")
        return from_iso(row[0]) if row is not None and row[0] else None

    async def stored(self, item: QueuedMedia, sha256: str, ext: str, size: int,
                     phash: str | None = None, same_image: int | None = None) -> int:
        """The file is in the store: record it (once) and close the queue row.

        ``same_image`` (bits, bot/media/phash.py ``SAME_IMAGE_DISTANCE``): the picture's
        alerts take part in "also in" by image (``also_by_image``), in the same transaction.
        Returns how many of the post's alerts that dropped.
        """
        now = to_iso(self._clock.now())
        f = item.file
        dropped = 0

        async def work(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "INSERT INTO media (sha256, size, mime, ext, width, height, duration, phash,"
                " stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO UPDATE"
                " SET phash = COALESCE(media.phash, excluded.phash)",
                (sha256, size, f.mime, ext, f.width, f.height, f.duration, phash, now))
            # a picture waits for its text to be read (bot/media/ocr.py), if OCR is on
            await conn.execute(
                "UPDATE post_media SET state = 'stored', sha256 = ?, ref = NULL, done_at = ?,"
                " last_error = NULL, ocr = CASE WHEN mime LIKE 'image/%' THEN 'pending' END"
                " WHERE post_id = ? AND file_id = ?",
                (sha256, now, item.post_id, f.file_id))
            if same_image is None or not self.dedup_window or not f.mime.startswith(
                    ("image/", "video/")):
                return  # DEDUP_WINDOW=0 turns "also in" off
            cur = await conn.execute("SELECT phash FROM media WHERE sha256 = ?", (sha256,))
            row = await cur.fetchone()
            await cur.close()
            if row is not None and row[0]:
                nonlocal dropped
                dropped = await also_by_image(conn, item.post_id, row[0], same_image,
                                              to_iso(self._clock.now() - self.dedup_window),
                                              now)

        await self._db.transaction(work)
        return dropped

    async def give_up(self, item: QueuedMedia, state: str, reason: str) -> None:
        """Close a queue row without a file (``state``: one of the module's end states).

        Rows skipped for a limit keep their reference, to be tried again after a restart.
        """
        keep_ref = state in REQUEUED_AT_START
        await self._write(
            "UPDATE post_media SET state = ?, last_error = ?, done_at = ?,"
            " ref = CASE WHEN ? THEN ref ELSE NULL END WHERE post_id = ? AND file_id = ?",
            (state, reason[:500], to_iso(self._clock.now()), keep_ref, item.post_id,
             item.file.file_id))

    async def retry_later(self, item: QueuedMedia, at: dt.datetime, reason: str) -> None:
        """Count a failed attempt; the row waits until ``at``."""
        await self._write(
            "UPDATE post_media SET attempts = attempts + 1, next_try_at = ?, last_error = ?"
            " WHERE post_id = ? AND file_id = ?",
            (to_iso(at), reason[:500], item.post_id, item.file.file_id))

    async def file_new(self, post: Post) -> bool:
        """File a stored post's photo or document if it is not filed yet (an edit that
        replaced the picture and kept the text); True if it was new. Reads before it writes:
        re-reads of unchanged posts cost no write transaction."""
        f = post.media_file
        if f is None:
            return False
        row = await self._db.fetchone(
            "SELECT p.id, pm.file_id FROM posts p LEFT JOIN post_media pm"
            " ON pm.post_id = p.id AND pm.file_id = ? WHERE p.channel_id = ?"
            " AND p.message_id = ?", (f.file_id, post.channel_id, post.message_id))
        if row is None or row[1] is not None:
            return False
        post_id, now = int(row[0]), to_iso(self._clock.now())

        async def work(conn: aiosqlite.Connection) -> None:
            await queue_media(conn, post_id, post, now)

        await self._db.transaction(work)
        return True

    async def has_phash(self, sha256: str) -> bool:
        """Whether the stored file with this hash has its perceptual hash already."""
        row = await self._db.fetchone(
            "SELECT 1 FROM media WHERE sha256 = ? AND phash IS NOT NULL", (sha256,))
        return row is not None

    async def total_bytes(self) -> int:
        """The size of every stored file (each counted once)."""
        row = await self._db.fetchone("SELECT COALESCE(SUM(size), 0) FROM media")
        return int(row[0]) if row is not None else 0

    async def counts(self) -> MediaCounts:
        """How many queue rows are in each state; how many files the store holds, and bytes."""
        rows = await self._db.fetchall(
            "SELECT state, COUNT(*) FROM post_media GROUP BY state ORDER BY state")
        total = await self._db.fetchone("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM media")
        assert total is not None
        return MediaCounts({r[0]: int(r[1]) for r in rows}, int(total[0]), int(total[1]))

    async def of_post(self, channel_id: int, message_id: int) -> list[StoredMedia]:
        """The stored files of one post, in file id order."""
        rows = await self._db.fetchall(
            "SELECT m.sha256, m.ext, m.size, m.mime, pm.post_id, p.channel_id, p.message_id,"
            " pm.kind FROM post_media pm JOIN media m ON m.sha256 = pm.sha256"
            " JOIN posts p ON p.id = pm.post_id WHERE p.channel_id = ? AND p.message_id = ?"
            " ORDER BY pm.file_id", (channel_id, message_id))
        return [StoredMedia(r[0], r[1], int(r[2]), r[3], int(r[4]), int(r[5]), int(r[6]),
                            r[7]) for r in rows]

    async def similar(self, phash: str, max_distance: int, limit: int) -> list[SimilarPost]:
        """Posts carrying an image within ``max_distance`` bits of ``phash``: the nearest
        first, then the newest; at most ``limit``."""
        near = {}
        for row in await self._db.fetchall(
                "SELECT sha256, phash FROM media WHERE phash IS NOT NULL"):
            bits = phash_distance(phash, row[1])
            if bits <= max_distance:
                near[row[0]] = bits
        if not near:
            return []
        marks = ",".join("?" * len(near))
        rows = await self._db.fetchall(
            "SELECT pm.sha256, m.ext, p.channel_id, c.title, c.username, p.message_id, p.date,"
            " p.permalink, p.deleted_at, p.id FROM post_media pm JOIN media m"
            " ON m.sha256 = pm.sha256"
            " JOIN posts p ON p.id = pm.post_id JOIN channels c ON c.id = p.channel_id"
            f" WHERE pm.sha256 IN ({marks})", sorted(near))
        found = [SimilarPost(near[r[0]], r[0], r[1], int(r[2]), r[3], r[4], int(r[5]),
                             from_iso(r[6]), r[7], from_iso(r[8]) if r[8] else None,
                             int(r[9])) for r in rows]
        found.sort(key=lambda s: (s.distance, -s.date.timestamp(), s.channel_id, s.message_id))
        return found[:limit]

    async def of_posts(self, post_ids: list[int]) -> dict[int, list[PostFile]]:
        """The files of each post (kept or not), in file id order."""
        if not post_ids:
            return {}
        marks = ",".join("?" * len(post_ids))
        rows = await self._db.fetchall(
            "SELECT pm.post_id, pm.kind, pm.mime, pm.state, pm.sha256, m.ext,"
            " COALESCE(m.size, pm.size), m.phash FROM post_media pm LEFT JOIN media m"
            f" ON m.sha256 = pm.sha256 WHERE pm.post_id IN ({marks})"
            " ORDER BY pm.post_id, pm.file_id", post_ids)
        out: dict[int, list[PostFile]] = {}
        for r in rows:
            out.setdefault(int(r[0]), []).append(
                PostFile(int(r[0]), r[1], r[2], r[3], r[4], r[5],
                         int(r[6]) if r[6] is not None else None, r[7]))
        return out

    async def alert_photo(self, post_id: int) -> AlertPhoto | None:
        """The photo an alert of this post shows (its album's first), or None: no photo."""
        row = await self._db.fetchone(ALERT_PHOTO, (post_id,))
        return AlertPhoto(row[0], row[1], row[2]) if row is not None else None

    # ------------------------------------------------------------------ text in images
    async def next_ocr(self) -> OcrItem | None:
        """The newest stored picture whose text is still to be read, or None."""
        row = await self._db.fetchone(NEXT_OCR)
        return OcrItem(int(row[0]), int(row[1]), row[2], row[3]) if row is not None else None

    async def ocr_pending(self) -> int:
        """How many stored pictures wait for their text to be read."""
        row = await self._db.fetchone("SELECT COUNT(*) FROM post_media WHERE ocr = 'pending'")
        return int(row[0]) if row is not None else 0

    async def read_text(self, sha256: str, langs: str) -> str | None:
        """What OCR read in this file in these languages before (None: not read yet)."""
        row = await self._db.fetchone(
            "SELECT text FROM media_text WHERE sha256 = ? AND langs = ?", (sha256, langs))
        return str(row[0]) if row is not None else None

    async def save_text(self, sha256: str, langs: str, text: str,
                        error: str | None = None) -> None:
        """Keep what OCR read in a file (``error``: why it could not be read)."""
        await self._write(
            "INSERT INTO media_text (sha256, langs, text, error, read_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (sha256) DO UPDATE SET langs = excluded.langs, text = excluded.text,"
            " error = excluded.error, read_at = excluded.read_at",
            (sha256, langs, text, error[:500] if error else None,
             to_iso(self._clock.now())))

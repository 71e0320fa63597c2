"""Posts, their versions and deletions; a post, its matches, alerts and cursor commit at once."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import aiosqlite

from bot.clock import Clock, from_iso, to_iso
from bot.models import (
    Post,
    PostSource,
    StoryKeys,
    TextTerms,
)
from bot.store.base import Repository
from bot.store.channels import ADVANCE_CURSOR
from bot.store.db import Database
from bot.store.media import queue_media
from bot.store.outbox import enqueue_alerts
from bot.store.records import (
    DEFAULT_DEDUP_WINDOW,
    AlertDraft,
    DeletedPost,
    EditResult,
    RuleHitRecord,
    SaveResult,
    alert_key,
)
from bot.store.rows import (
    to_post,
)


class PostRepository(Repository):
    """Posts as they arrive (live, catch-up, backfill), edits and deletions."""

    def __init__(self, db: Database, clock: Clock,
                 dedup_window: dt.timedelta = DEFAULT_DEDUP_WINDOW) -> None:
        super().__init__(db, clock)
        self.dedup_window = dedup_window

    def _dedup_since(self) -> str:
        return to_iso(self._clock.now() - self.dedup_window)

    async def save(
        self, post: Post, hits: Sequence[RuleHitRecord], alerts: Sequence[AlertDraft],
        *, source: str = PostSource.LIVE, keys: StoryKeys | None = None,
        terms: TextTerms | None = None,
    ) -> SaveResult:
        """Store a post, its matches, its alerts and the channel cursor in one transaction.

        Idempotent on (channel, message id): a post seen again changes nothing and enqueues
        nothing, so replays after a crash or a reconnect never double-alert.

        The cursor means "every post up to here is stored". A live post moves it only when it
        is the very next id; anything else (a gap, an earlier live post that failed) leaves it
        for the reconciler, which fetches everything above the cursor in order.

        ``terms`` go into the full-text index in the same transaction (None: not indexed).
        """
        now = to_iso(self._clock.now())

        since = self._dedup_since()

        async def work(conn: aiosqlite.Connection) -> SaveResult:
            return await _save_one(conn, post, hits, alerts, source, now, since, keys, terms)

        return await self._db.transaction_in_thread(work)  # the live path: one thread trip

    async def save_many(
        self, items: Sequence[tuple[Post, Sequence[RuleHitRecord], Sequence[AlertDraft]]],
        *, source: str, keys: Sequence[StoryKeys] | None = None,
        terms: Sequence[TextTerms] | None = None,
    ) -> list[SaveResult]:
        """``save`` for a batch, set-wise in one transaction (backfill and catch-up).

        Statements per batch, not per post: which posts exist already, one insert of the new
        ones, their ids, their matches, their alerts, one cursor move per channel. ``keys``
        and ``terms``, if given, are the items' dedup keys and index terms, in the same order.
        """
        if source == PostSource.LIVE:
            raise ValueError("live posts are stored one by one (their cursor rule differs)")
        now = to_iso(self._clock.now())

        since = self._dedup_since()
        by_post = ({(p.channel_id, p.message_id): k for (p, _, _), k in zip(items, keys,
                                                                              strict=True)}
                   if keys is not None else {})
        terms_of = ({(p.channel_id, p.message_id): t for (p, _, _), t in zip(items, terms,
                                                                             strict=True)}
                    if terms is not None else {})

        async def work(conn: aiosqlite.Connection) -> list[SaveResult]:
            return await _save_batch(conn, items, source, now, since, by_post, terms_of)

        return await self._db.transaction(work)

    async def text(self, channel_id: int, message_id: int) -> str | None:
        """The stored text of a post (None if it is not stored)."""
        row = await self._db.fetchone(
            "SELECT text FROM posts WHERE channel_id = ? AND message_id = ?",
            (channel_id, message_id))
        return str(row["text"]) if row else None

    async def save_edit(
        self, post: Post, hits: Sequence[RuleHitRecord], alerts: Sequence[AlertDraft],
        *, fingerprint: bytes | None = None, terms: TextTerms | None = None,
    ) -> EditResult | None:
        """Record an edit and, in the same transaction, the matches and alerts it earned.

        ``hits`` and ``alerts`` are for every chat the new text matches; chats already
        alerted on the post, or whose rules matched it before, are dropped here.
        """
        now = to_iso(self._clock.now())
        since = self._dedup_since()

        async def work(conn: aiosqlite.Connection) -> EditResult | None:
            edit = await _record_edit(conn, post, now, self._clock, terms)
            if edit is None or not edit.changed:
                return edit
            fresh = [a for a in alerts if a.chat_id not in edit.alerted_chats]
            if fresh and fingerprint is not None:
                await conn.execute(
                    "UPDATE posts SET fingerprint = ? WHERE id = ? AND fingerprint IS NULL",
                    (fingerprint, edit.post_id))
            await _insert_matches_and_alerts(
                conn, post, edit.post_id,
                [h for h in hits if h.chat_id not in edit.alerted_chats], fresh, now, since)
            return edit

        return await self._db.transaction(work)

    async def save_image_text(
        self, post: Post, post_id: int, file_id: int, terms: TextTerms | None,
        hits: Sequence[RuleHitRecord], alerts: Sequence[AlertDraft],
    ) -> int | None:
        """Record the text read in a post's picture, its matches and alerts, at once.

        ``terms`` go into the index of image text (None: nothing legible). The matches are
        kept with ``in_image``; chats already alerted on the post, or whose rules matched it
        before, get no second alert. Idempotent: a picture done already changes nothing
        (None); otherwise returns how many alerts were queued.
        """
        now = to_iso(self._clock.now())
        since = self._dedup_since()

        async def work(conn: aiosqlite.Connection) -> int | None:
            cur = await conn.execute(
                "UPDATE post_media SET ocr = 'done' WHERE post_id = ? AND file_id = ?"
                " AND ocr = 'pending'", (post_id, file_id))
            if not cur.rowcount:
                return None
            if terms is not None and terms.terms:
                await conn.execute("INSERT INTO image_fts (rowid, terms) VALUES (?, ?)",
                                   (post_id, terms.terms))
            alerted = await _alerted_chats(conn, post, post_id)
            await conn.executemany(
                "INSERT INTO matches (rule_id, post_id, spans, created_at, in_image)"
                " VALUES (?, ?, '[]', ?, 1) ON CONFLICT DO NOTHING",
                [(h.rule_id, post_id, now) for h in hits])
            return await enqueue_alerts(conn, post, post_id,
                                        [a for a in alerts if a.chat_id not in alerted],
                                        now, since)

        return await self._db.transaction(work)

    async def record_edit(self, post: Post,
                          terms: TextTerms | None = None) -> EditResult | None:
        """Keep the old text as a version and store the new one; None if the post is unknown."""
        now = to_iso(self._clock.now())

        async def work(conn: aiosqlite.Connection) -> EditResult | None:
            return await _record_edit(conn, post, now, self._clock, terms)

        return await self._db.transaction(work)

    async def mark_deleted(self, channel_id: int, message_ids: Sequence[int]) -> list[DeletedPost]:
        """Flag posts deleted (their text and versions stay); return the newly flagged ones."""
        now = to_iso(self._clock.now())
        if not message_ids:
            return []

        async def work(conn: aiosqlite.Connection) -> list[DeletedPost]:
            out: list[DeletedPost] = []
            for message_id in message_ids:
                cur = await conn.execute(
                    "UPDATE posts SET deleted_at = ? WHERE channel_id = ? AND message_id = ?"
                    " AND deleted_at IS NULL RETURNING id, text, permalink, grouped_id",
                    (now, channel_id, message_id),
                )
                row = await cur.fetchone()
                await cur.close()
                if row is None:
                    continue
                key = (f"album:{channel_id}:{row['grouped_id']}" if row["grouped_id"]
                       else f"post:{channel_id}:{message_id}")
                cur = await conn.execute(
                    "SELECT DISTINCT r.chat_id, r.number FROM matches m"
                    " JOIN rules r ON r.id = m.rule_id"
                    " JOIN outbox o ON o.chat_id = r.chat_id AND o.dedup_key = ?"
                    "   AND o.kind = 'alert' AND o.status IN ('sent', 'folded')"
                    " WHERE m.post_id = ? AND r.notify_deleted = 1 AND r.deleted_at IS NULL"
                    " ORDER BY r.chat_id, r.number",
                    (key, row["id"]),
                )
                notify = tuple((int(r["chat_id"]), int(r["number"]))
                               for r in await cur.fetchall())
                out.append(DeletedPost(int(row["id"]), channel_id, message_id, row["text"],
                                       row["permalink"], notify))
            return out

        return await self._db.transaction(work)

    async def is_deleted(self, channel_id: int, message_id: int) -> bool:
        """Whether the post is stored and flagged deleted."""
        row = await self._db.fetchone(
            "SELECT deleted_at IS NOT NULL FROM posts WHERE channel_id = ? AND message_id = ?",
            (channel_id, message_id))
        return bool(row[0]) if row is not None else False

    async def count_between(self, start: dt.datetime, end: dt.datetime) -> int:
        """Posts published in [start, end) that reached the archive from the user account
        (live or caught up: what Telegram pushes), by the posts' date index."""
        row = await self._db.fetchone(
            "SELECT COUNT(*) FROM posts WHERE date >= ? AND date < ?"
            " AND source IN ('live', 'reconcile')", (to_iso(start), to_iso(end)))
        return int(row[0]) if row else 0

    async def count(self) -> int:
        """How many posts are stored (deleted ones included)."""
        row = await self._db.fetchone("SELECT COUNT(*) AS n FROM posts")
        return int(row["n"]) if row else 0

    async def recent(self, limit: int) -> list[tuple[Post, str]]:
        """The newest stored posts (deleted ones included) with their channel's title."""
        rows = await self._db.fetchall(
            "SELECT p.*, c.username, c.title FROM posts p JOIN channels c ON c.id = p.channel_id"
            " ORDER BY p.date DESC, p.id DESC LIMIT ?",
            (limit,),
        )
        return [(to_post(r), r["title"]) for r in rows]

    async def recent_message_ids(self, channel_id: int, since: dt.datetime) -> list[int]:
        """Ids of a channel's stored, not deleted posts published since ``since``."""
        rows = await self._db.fetchall(
            "SELECT message_id FROM posts WHERE channel_id = ? AND date >= ?"
            " AND deleted_at IS NULL ORDER BY message_id",
            (channel_id, to_iso(since)),
        )
        return [int(r["message_id"]) for r in rows]

    async def save_imported(
        self,
        batches: AsyncIterator[tuple[
            Sequence[tuple[int, str | None, str]],
            Sequence[tuple[Post, TextTerms, Sequence[RuleHitRecord], int | None,
                           dt.datetime | None,
                           Sequence[tuple[str, dt.datetime | None, dt.datetime, TextTerms]]]],
        ]],
        on_batch: Callable[[int, int], None] | None = None,
    ) -> tuple[int, int]:
        """Store posts read from an export file, batch by batch, all in ONE transaction.

        Each batch: the channels its posts belong to (id, username, title; created unwatched
        if unknown) and its posts (post, index terms of its text, matches, reactions,
        deleted_at, earlier versions with their terms). Posts already stored (same channel
        and message id) are left as they are. Nothing is enqueued and no cursor moves: an
        import never alerts, and it does not tell the reconciler what live reading has seen.
        If ``batches`` raises, everything rolls back. Returns (new, already there).
        """
        now = to_iso(self._clock.now())
        totals = [0, 0]

        async def batch(conn: aiosqlite.Connection,
                        channels: Sequence[tuple[int, str | None, str]],
                        rows: Sequence[tuple[Post, TextTerms, Sequence[RuleHitRecord],
                                             int | None, dt.datetime | None,
                                             Sequence[tuple[str, dt.datetime | None,
                                                            dt.datetime, TextTerms]]]],
                        ) -> tuple[int, int]:
            await conn.executemany(
                "INSERT INTO channels (id, username, title, status, added_at)"
                " VALUES (?, ?, ?, 'unwatched', ?) ON CONFLICT (id) DO UPDATE"
                " SET username = COALESCE(channels.username, excluded.username)",
                [(cid, username, title, now) for cid, username, title in channels])
            by_channel: dict[int, list[int]] = {}
            for row in rows:
                by_channel.setdefault(row[0].channel_id, []).append(row[0].message_id)
            before: set[tuple[int, int]] = set()
            for channel_id, message_ids in by_channel.items():
                before.update((channel_id, m) for m in await _post_ids(conn, channel_id,
                                                                        message_ids))
            fresh: dict[tuple[int, int], tuple[Any, ...]] = {}
            for row in rows:
                key = (row[0].channel_id, row[0].message_id)
                if key not in before and key not in fresh:
                    fresh[key] = row
            await conn.executemany(
                _INSERT_POST, [_post_row(r[0], now, PostSource.IMPORT, None, r[1])
                               for r in fresh.values()])
            ids: dict[tuple[int, int], int] = {}
            for channel_id, message_ids in by_channel.items():
                ids.update({(channel_id, m): i for m, i in (
                    await _post_ids(conn, channel_id, message_ids)).items()})
            docs, versions, extras, matches = [], [], [], []
            for key, (_, terms, hits, reactions, deleted_at, old) in fresh.items():
                post_id = ids[key]
                for n, (text, edit_date, replaced_at, old_terms) in enumerate(old):
                    docs.append((post_id + (n << FTS_VERSION_SHIFT), old_terms.terms))
                    versions.append((post_id, text, to_iso(edit_date) if edit_date else None,
                                     to_iso(replaced_at)))
                docs.append((post_id + (len(old) << FTS_VERSION_SHIFT), terms.terms))
                if old or reactions is not None or deleted_at is not None:
                    extras.append((len(old), reactions,
                                   to_iso(deleted_at) if deleted_at else None, post_id))
                matches += [(h.rule_id, post_id, json.dumps([list(s) for s in h.spans]), now)
                            for h in hits]
            await conn.executemany("INSERT INTO posts_fts (rowid, terms) VALUES (?, ?)", docs)
            await conn.executemany(
                "INSERT INTO post_versions (post_id, text, edit_date, replaced_at)"
                " VALUES (?, ?, ?, ?)", versions)
            await conn.executemany(
                "UPDATE posts SET text_version = ?, reactions = ?, deleted_at = ? WHERE id = ?",
                extras)
            await conn.executemany(
                "INSERT INTO matches (rule_id, post_id, spans, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING", matches)
            return len(fresh), len(rows) - len(fresh)

        async def work(conn: aiosqlite.Connection) -> tuple[int, int]:
            # FTS5 flushes its pending terms every ``hashsize`` bytes (1 MB by default) into a
            # new segment it must merge later; 64 MB makes a bulk load twice as fast. The
            # setting is persistent (posts_fts_config): put back before the commit.
            await conn.execute(f"INSERT INTO posts_fts (posts_fts, rank) VALUES"
                               f" ('hashsize', {IMPORT_FTS_HASHSIZE})")
            async for channels, rows in batches:
                new, old = await batch(conn, channels, rows)
                totals[0] += new
                totals[1] += old
                if on_batch is not None:
                    on_batch(new, old)
            await conn.execute(f"INSERT INTO posts_fts (posts_fts, rank) VALUES"
                               f" ('hashsize', {FTS_DEFAULT_HASHSIZE})")
            return totals[0], totals[1]

        return await self._db.transaction(work)


async def _record_edit(conn: aiosqlite.Connection, post: Post, now: str,
                       clock: Clock, terms: TextTerms | None) -> EditResult | None:
    """Keep the old text as a version and store the new one; None if the post is unknown."""
    cur = await conn.execute(
        "SELECT id, text, edit_date FROM posts WHERE channel_id = ? AND message_id = ?",
        (post.channel_id, post.message_id),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    post_id = int(row["id"])
    # chats already alerted, or whose rules matched before (backfilled posts have
    # matches but no alerts): an edit does not make them news
    alerted = await _alerted_chats(conn, post, post_id)
    stale = (post.edit_date is not None and row["edit_date"] is not None
             and from_iso(row["edit_date"]) >= post.edit_date)
    if row["text"] == post.text or stale:  # an older read must not undo a newer edit
        return EditResult(post_id, False, alerted)
    await conn.execute(
        "INSERT INTO post_versions (post_id, text, edit_date, replaced_at)"
        " VALUES (?, ?, ?, ?)",
        (post_id, row["text"], row["edit_date"], now),
    )
    cur = await conn.execute(
        "UPDATE posts SET text = ?, edit_date = ?, views = COALESCE(?, views),"
        " text_version = text_version + 1 WHERE id = ? RETURNING text_version",
        (post.text, to_iso(post.edit_date or clock.now()), post.views, post_id),
    )
    version = await cur.fetchone()
    await cur.close()
    if terms is not None and version is not None:
        await index_text(conn, post_id, int(version[0]), terms)
    await queue_media(conn, post_id, post, now)  # a new photo with the new text
    return EditResult(post_id, True, alerted)


async def _alerted_chats(conn: aiosqlite.Connection, post: Post, post_id: int,
                         ) -> frozenset[int]:
    """Chats alerted on the post already, or whose rules matched it (an alert stays one)."""
    cur = await conn.execute(
        "SELECT chat_id FROM outbox WHERE kind = 'alert' AND dedup_key = ?"
        " UNION SELECT r.chat_id FROM matches m JOIN rules r ON r.id = m.rule_id"
        " WHERE m.post_id = ?",
        (alert_key(post), post_id),
    )
    return frozenset(int(r[0]) for r in await cur.fetchall())


# FTS5's pending-terms size: its default, and what a bulk import uses (save_imported)
FTS_DEFAULT_HASHSIZE = 1 << 20
IMPORT_FTS_HASHSIZE = 64 << 20
# rowid of a text in posts_fts: the post id, plus the edit number above this bit
FTS_VERSION_SHIFT = 40
FTS_POST_MASK = (1 << FTS_VERSION_SHIFT) - 1


async def index_text(conn: aiosqlite.Connection, post_id: int, version: int,
                     terms: TextTerms) -> None:
    """Add one text of a post to the full-text index (migrations/0007_archive.sql).

    An edit (version > 0) also replaces the regions the post names; a new post's regions
    went in with its row.
    """
    await conn.execute("INSERT INTO posts_fts (rowid, terms) VALUES (?, ?)",
                       (post_id + (version << FTS_VERSION_SHIFT), terms.terms))
    if version:
        await conn.execute("UPDATE posts SET regions = ? WHERE id = ?",
                           (regions_value(terms), post_id))


def regions_value(terms: TextTerms | None) -> str | None:
    """posts.regions: space-separated ISO codes, NULL for none (or not computed)."""
    return " ".join(terms.regions) or None if terms is not None else None


async def _insert_matches_and_alerts(
    conn: aiosqlite.Connection, post: Post, post_id: int, hits: Sequence[RuleHitRecord],
    alerts: Sequence[AlertDraft], now: str, dedup_since: str,
) -> int:
    await conn.executemany(
        "INSERT INTO matches (rule_id, post_id, spans, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        [(h.rule_id, post_id, json.dumps([list(s) for s in h.spans]), now) for h in hits],
    )
    return await enqueue_alerts(conn, post, post_id, alerts, now, dedup_since)



def _post_row(post: Post, now: str, source: str, keys: StoryKeys | None,
              terms: TextTerms | None) -> tuple[object, ...]:
    """The INSERT's values; a post saved without keys takes no part in cross-channel dedup."""
    return (
        post.channel_id, post.message_id, to_iso(post.date),
        to_iso(post.edit_date) if post.edit_date else None, post.text, post.views,
        post.forwards, post.fwd_from, post.reply_to, post.grouped_id, post.media,
        post.permalink, now, source, keys.story if keys else None,
        keys.fingerprint if keys else None, regions_value(terms), post.reactions,
    )


_INSERT_POST = (
    "INSERT INTO posts (channel_id, message_id, date, edit_date, text, views, forwards,"
    " fwd_from, reply_to, grouped_id, media, permalink, received_at, source, story,"
    " fingerprint, regions, reactions)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


async def _save_one(
    conn: aiosqlite.Connection, post: Post, hits: Sequence[RuleHitRecord],
    alerts: Sequence[AlertDraft], source: str, now: str, dedup_since: str,
    keys: StoryKeys | None, terms: TextTerms | None,
) -> SaveResult:
    """Insert one post (idempotent) with its matches, alerts and cursor move."""
    cur = await conn.execute(
        _INSERT_POST + " ON CONFLICT (channel_id, message_id) DO NOTHING RETURNING id",
        _post_row(post, now, source, keys, terms),
    )
    row = await cur.fetchone()
    await cur.close()
    if row is None:
        existing = await conn.execute(
            "SELECT id FROM posts WHERE channel_id = ? AND message_id = ?",
            (post.channel_id, post.message_id),
        )
        old = await existing.fetchone()
        assert old is not None
        if source != PostSource.LIVE:  # fetched in order: everything up to here is stored
            await conn.execute(
                ADVANCE_CURSOR, (post.message_id, post.channel_id),
            )
        return SaveResult(int(old["id"]), False, 0)
    post_id = int(row["id"])
    if terms is not None:
        await index_text(conn, post_id, 0, terms)
    await queue_media(conn, post_id, post, now)
    enqueued = await _insert_matches_and_alerts(conn, post, post_id, hits, alerts, now,
                                                dedup_since)
    if source == PostSource.LIVE:
        await conn.execute(
            "UPDATE channels SET cursor = ? WHERE id = ? AND cursor = ?",
            (post.message_id, post.channel_id, post.message_id - 1),
        )
    else:
        await conn.execute(
            ADVANCE_CURSOR, (post.message_id, post.channel_id),
        )
    return SaveResult(post_id, True, enqueued)


async def _post_ids(conn: aiosqlite.Connection, channel_id: int,
                    message_ids: Sequence[int]) -> dict[int, int]:
    cur = await conn.execute(
        "SELECT message_id, id FROM posts WHERE channel_id = ? AND message_id BETWEEN ? AND ?",
        (channel_id, min(message_ids), max(message_ids)),
    )
    wanted = set(message_ids)
    return {int(r[0]): int(r[1]) for r in await cur.fetchall() if int(r[0]) in wanted}


async def _save_batch(
    conn: aiosqlite.Connection,
    items: Sequence[tuple[Post, Sequence[RuleHitRecord], Sequence[AlertDraft]]],
    source: str, now: str, dedup_since: str, keys: dict[tuple[int, int], StoryKeys],
    terms: dict[tuple[int, int], TextTerms],
) -> list[SaveResult]:
    by_channel: dict[int, list[int]] = {}
    for post, _, _ in items:
        by_channel.setdefault(post.channel_id, []).append(post.message_id)
    before: dict[tuple[int, int], int] = {}
    for channel_id, message_ids in by_channel.items():
        known = await _post_ids(conn, channel_id, message_ids)
        before.update({(channel_id, m): i for m, i in known.items()})
    fresh: dict[tuple[int, int], Post] = {}
    for post, _, _ in items:
        key = (post.channel_id, post.message_id)
        if key not in before and key not in fresh:
            fresh[key] = post
    await conn.executemany(
        _INSERT_POST,
        [_post_row(p, now, source, keys.get(key), terms.get(key)) for key, p in fresh.items()],
    )
    ids: dict[tuple[int, int], int] = dict(before)
    for channel_id, message_ids in by_channel.items():
        ids.update({(channel_id, m): i for m, i in (await _post_ids(conn, channel_id,
                                                                     message_ids)).items()})
    await conn.executemany("INSERT INTO posts_fts (rowid, terms) VALUES (?, ?)",
                           [(ids[key], terms[key].terms) for key in fresh if key in terms])
    results: list[SaveResult] = []
    match_rows = []
    for post, hits, alerts in items:
        key = (post.channel_id, post.message_id)
        created = fresh.pop(key, None) is not None
        post_id = ids[key]
        enqueued = 0
        if created:
            await queue_media(conn, post_id, post, now)
            match_rows += [(h.rule_id, post_id, json.dumps([list(s) for s in h.spans]), now)
                           for h in hits]
            enqueued = await enqueue_alerts(conn, post, post_id, alerts, now, dedup_since)
        results.append(SaveResult(post_id, created, enqueued))
    await conn.executemany(
        "INSERT INTO matches (rule_id, post_id, spans, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        match_rows,
    )
    # Everything in the batch is stored now, in order: the cursor may move past all of it.
    await conn.executemany(
        ADVANCE_CURSOR,
        [(max(message_ids), channel_id) for channel_id, message_ids in by_channel.items()],
    )
    return results

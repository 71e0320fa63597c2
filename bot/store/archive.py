"""The archive's reads: full-text candidates, counts, posts as shown, and the index build."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from typing import NamedTuple

import aiosqlite

from bot.clock import from_iso, to_iso
from bot.models import TextTerms
from bot.store.base import Repository
from bot.store.db import Database
from bot.store.posts import FTS_POST_MASK, FTS_VERSION_SHIFT
from bot.store.records import ArchivedPost, SavedSearch, SearchWindow
from bot.store.rows import opt_dt, to_post

Cursor = tuple[str, int]  # (date ISO, post id) of the last post shown: newest first below it
# A window (channels, dates) holding at most this many posts is read from the posts' own
# indexes and each post checked against the FTS5 result; a bigger one is reached from FTS5.
WINDOW_FIRST_AT = 5_000


def _where(window: SearchWindow, after: Cursor | None, *, oldest_first: bool = False,
           ) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if window.since is not None:
        clauses.append("p.date >= ?")
        params.append(to_iso(window.since))
    if window.until is not None:
        clauses.append("p.date < ?")
        params.append(to_iso(window.until))
    if window.channels:
        marks = ",".join("?" * len(window.channels))
        clauses.append(f"p.channel_id IN (SELECT id FROM channels WHERE lower(username)"
                       f" IN ({marks}))")
        params += list(window.channels)
    if after is not None:
        op = ">" if oldest_first else "<"
        clauses.append(f"(p.date, p.id) {op} (?, ?)")
        params += [after[0], after[1]]
    return (" AND ".join(clauses) or "1"), params


def matching_posts(select: str, match: str | None, where: str, params: list[object], *,
                   join_channels: bool = False, window_first: bool = False,
                   covered: bool = False, images: bool = False) -> tuple[str, list[object]]:
    """The statement and its parameters: posts of the window that ``match`` finds.

    ``covered``: the statement reads nothing of a post but its id, date, channel and text
    version, so FTS5's hits are looked up in the index holding just those
    (migrations/0009_posts_fts_join.sql) instead of the table. ``images``: pictures' text is
    indexed (image_fts), and a post is found by its current text or by its pictures' text.
    """
    channels = " LEFT JOIN channels c ON c.id = p.channel_id" if join_channels else ""
    if match is None:
        return f"SELECT {select} FROM posts p{channels} WHERE {where}", params
    current = f"(p.id | (p.text_version << {FTS_VERSION_SHIFT}))"
    if window_first:  # the current text version's document, looked up in the result
        in_text = f"{current} IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?)"
        if not images:
            return (f"SELECT {select} FROM posts p{channels} WHERE {where} AND {in_text}",
                    [*params, match])
        return (f"SELECT {select} FROM posts p{channels} WHERE {where} AND ({in_text}"
                f" OR p.id IN (SELECT rowid FROM image_fts WHERE image_fts MATCH ?))",
                [*params, match, match])
    if images:  # the posts either index finds, each once
        return (f"SELECT {select} FROM posts p{channels} WHERE p.id IN ("
                f"SELECT f.rowid & {FTS_POST_MASK} FROM posts_fts f"
                f" JOIN posts q INDEXED BY posts_fts_join ON q.id = (f.rowid & {FTS_POST_MASK})"
                f" AND (f.rowid >> {FTS_VERSION_SHIFT}) = q.text_version"
                f" WHERE posts_fts MATCH ?"
                f" UNION SELECT rowid FROM image_fts WHERE image_fts MATCH ?) AND {where}",
                [match, match, *params])
    posts = "posts p INDEXED BY posts_fts_join" if covered else "posts p"
    return (f"SELECT {select} FROM posts_fts f"
            f" JOIN {posts} ON p.id = (f.rowid & {FTS_POST_MASK})"
            f" AND (f.rowid >> {FTS_VERSION_SHIFT}) = p.text_version{channels}"
            f" WHERE posts_fts MATCH ? AND {where}", [match, *params])


async def has_image_text(db: Database) -> bool:
    """Whether any picture's text is in the index (image_fts)."""
    return await db.fetchone("SELECT rowid FROM image_fts LIMIT 1") is not None


class ArchiveRepository(Repository):
    """Searches over stored posts (the FTS5 index of migrations/0007_archive.sql)."""

    _has_images = False  # image_fts holds a document (read until it does)

    async def candidates(self, match: str | None, window: SearchWindow,
                         after: Cursor | None = None, limit: int = 200,
                         oldest_first: bool = False) -> list[Cursor]:
        """Posts the FTS5 expression finds in the window, newest first, after ``after``."""
        where, params = _where(window, after, oldest_first=oldest_first)
        order = "ASC" if oldest_first else "DESC"
        sql, args = await self._query("p.date, p.id", match, where, params, covered=True,
                                **await self._plan(match, window))
        rows = await self._db.fetchall(
            f"{sql} ORDER BY p.date {order}, p.id {order} LIMIT ?", [*args, limit])
        return [(str(r[0]), int(r[1])) for r in rows]

    async def newest_and_count(self, match: str | None, window: SearchWindow, limit: int,
                               ) -> tuple[list[Cursor], int]:
        """The newest ``limit`` candidates and how many there are in all, in one pass.

        The first page of a search needs both: read together (``COUNT(*) OVER ()``), the FTS5
        result is joined to its rows once instead of twice (a prefix with 15,000 candidates in
        a 1M archive: 29 ms instead of 22 + 21 ms).
        """
        where, params = _where(window, None)
        sql, args = await self._query("p.date, p.id, COUNT(*) OVER ()", match, where, params,
                                covered=True,
                                **await self._plan(match, window))
        rows = await self._db.fetchall(
            f"{sql} ORDER BY p.date DESC, p.id DESC LIMIT ?", [*args, limit])
        return [(str(r[0]), int(r[1])) for r in rows], int(rows[0][2]) if rows else 0

    async def count(self, match: str | None, window: SearchWindow) -> int:
        """How many posts the FTS5 expression finds in the window."""
        where, params = _where(window, None)
        sql, args = await self._query("COUNT(*)", match, where, params, covered=True,
                                **await self._plan(match, window))
        row = await self._db.fetchone(sql, args)
        return int(row[0]) if row else 0

    async def count_by(self, match: str | None, window: SearchWindow, bucket: str,
                       ) -> list[tuple[str, str, int]]:
        """(time bucket, channel title, posts) for a chart; ``bucket``: 'hour' or 'day'."""
        where, params = _where(window, None)
        width = 13 if bucket == "hour" else 10
        sql, args = await self._query(
            f"substr(p.date, 1, {width}) AS b, COALESCE(c.title, p.channel_id) AS t, COUNT(*)",
            match, where, params, join_channels=True,
            **await self._plan(match, window))
        rows = await self._db.fetchall(f"{sql} GROUP BY b, t ORDER BY b, t", args)
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]

    async def _plan(self, match: str | None, window: SearchWindow) -> dict[str, bool]:
        """How ``_query`` reaches the posts: from the window or from FTS5."""
        return {"window_first": await self._window_first(match, window)}

    async def _images(self) -> bool:
        """Whether any picture's text is indexed (then searches look in image_fts too)."""
        if not self._has_images:  # once true, it stays true
            self._has_images = await has_image_text(self._db)
        return self._has_images

    async def _window_first(self, match: str | None, window: SearchWindow) -> bool:
        """Whether the window is small enough to be read first (see WINDOW_FIRST_AT).

        From FTS5, every post holding the words is joined to its row before the channel and
        the dates are checked: 23,476 posts for «суд» in a 1M archive, 25 of them in one
        channel's 30 days (~70 ms). From the window, the posts_channel_date or posts_date
        index gives the window's posts (4,140 there) and FTS5's result is read once as a
        set of ids (~16 ms). Counting the window stops at WINDOW_FIRST_AT + 1 (~1 ms).
        """
        if match is None or not (window.channels or window.since or window.until):
            return False
        where, params = _where(window, None)
        row = await self._db.fetchone(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM posts p WHERE {where} LIMIT ?)",
            [*params, WINDOW_FIRST_AT + 1])
        return row is not None and int(row[0]) <= WINDOW_FIRST_AT

    async def _query(self, select: str, match: str | None, where: str, params: list[object],
                     *, join_channels: bool = False, window_first: bool = False,
                     covered: bool = False) -> tuple[str, list[object]]:
        """``matching_posts`` for this archive (looking in image_fts once it holds text)."""
        images = match is not None and await self._images()
        return matching_posts(select, match, where, params, join_channels=join_channels,
                              window_first=window_first, covered=covered, images=images)

    async def posts(self, ids: Sequence[int]) -> list[ArchivedPost]:
        """These posts as the archive shows them, in the order asked."""
        rows = await self._rows_by_id_joined(ids)
        by_id = {int(r["id"]): _archived(r) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    async def _rows_by_id_joined(self, ids: Sequence[int]) -> list[sqlite3.Row]:
        wanted = sorted(set(ids))
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        return await self._db.fetchall(
            f"SELECT p.*, c.username, c.title, {IMAGE_TEXT} AS image_text FROM posts p"
            f" LEFT JOIN channels c ON c.id = p.channel_id WHERE p.id IN ({marks})", wanted)

    # ------------------------------------------------------------------ the index build
    async def index_progress(self) -> tuple[int, int]:
        """(next, upto): posts with ids in (next, upto] are not indexed yet."""
        row = await self._db.fetchone("SELECT next, upto FROM archive_index WHERE id = 1")
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def unindexed(self, after: int, upto: int, limit: int) -> list[tuple[int, int, str]]:
        """(id, text version, text) of the next posts the build indexes."""
        rows = await self._db.fetchall(
            "SELECT id, text_version, text FROM posts WHERE id > ? AND id <= ? ORDER BY id"
            " LIMIT ?", (after, upto, limit))
        return [(int(r[0]), int(r[1]), str(r[2])) for r in rows]

    async def index_batch(self, docs: Sequence[tuple[int, int, TextTerms]],
                          next_id: int) -> None:
        """Index these texts and move the build past ``next_id``, in one transaction."""

        async def work(conn: aiosqlite.Connection) -> None:
            await conn.executemany(
                "INSERT INTO posts_fts (rowid, terms) VALUES (?, ?)",
                [(pid + (version << FTS_VERSION_SHIFT), t.terms) for pid, version, t in docs])
            await conn.executemany(
                "UPDATE posts SET regions = ? WHERE id = ?",
                [(" ".join(t.regions), pid) for pid, _, t in docs if t.regions])
            await conn.execute("UPDATE archive_index SET next = ? WHERE id = 1", (next_id,))

        await self._db.transaction(work)

    # ------------------------------------------------------------------ saved searches
    async def save_search(self, chat_id: int, query: str, since: dt.datetime | None,
                          until: dt.datetime | None) -> int:
        """Remember a search for its paging button; return its id."""

        async def work(conn: aiosqlite.Connection) -> int:
            cur = await conn.execute(
                "INSERT INTO searches (chat_id, query, since, until, created_at)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (chat_id, query, to_iso(since) if since else None,
                 to_iso(until) if until else None, to_iso(self._clock.now())))
            row = await cur.fetchone()
            await cur.close()
            assert row is not None
            return int(row[0])

        return await self._db.transaction(work)

    async def saved_search(self, search_id: int) -> SavedSearch | None:
        """A remembered search (None if unknown)."""
        row = await self._db.fetchone("SELECT * FROM searches WHERE id = ?", (search_id,))
        if row is None:
            return None
        return SavedSearch(int(row["id"]), int(row["chat_id"]), str(row["query"]),
                           opt_dt(row["since"]), opt_dt(row["until"]))

    # ------------------------------------------------------------------ stats (/stats)
    async def stats_series(self, match: str | None, window: SearchWindow, width: int,
                           ) -> list[StatsRow]:
        """Posts the FTS5 expression finds, grouped by UTC time prefix and channel.

        ``width`` is how much of the stored UTC date to group by: 13 (the hour) or 16 (the
        minute, for zones whose local hours do not start on a UTC hour).
        """
        if width not in (13, 16):
            raise ValueError("width must be 13 (hour) or 16 (minute)")
        where, params = _where(window, None)
        sql, args = await self._query(
            f"substr(p.date, 1, {width}) AS b, p.channel_id AS ch, c.title, COUNT(*),"
            " SUM(p.text_version > 0), SUM(p.deleted_at IS NOT NULL)",
            match, where, params, join_channels=True,
            **await self._plan(match, window))
        rows = await self._db.fetchall(f"{sql} GROUP BY b, ch ORDER BY b, ch", args)
        return [StatsRow(from_iso(f"{r[0]}{':00' if width == 16 else ':00:00'}+00:00"),
                         int(r[1]), str(r[2] if r[2] is not None else r[1]), int(r[3]),
                         int(r[4]), int(r[5])) for r in rows]

    async def stats_regions(self, match: str | None, window: SearchWindow,
                            ) -> list[tuple[str, int]]:
        """(posts.regions as stored, posts) over the posts the FTS5 expression finds."""
        where, params = _where(window, None)
        sql, args = await self._query("p.regions AS r, COUNT(*)", match,
                                f"{where} AND p.regions IS NOT NULL AND p.regions != ''",
                                params, **await self._plan(match, window))
        rows = await self._db.fetchall(f"{sql} GROUP BY r ORDER BY r", args)
        return [(str(r[0]), int(r[1])) for r in rows]


# The text OCR read in a post's pictures, one picture after another (NULL: none read)
IMAGE_TEXT = ("(SELECT group_concat(t.text, char(10)) FROM post_media pm JOIN media_text t"
              " ON t.sha256 = pm.sha256 WHERE pm.post_id = p.id AND pm.ocr = 'done'"
              " AND t.text != '')")


def _archived(r: sqlite3.Row) -> ArchivedPost:
    return ArchivedPost(
        id=int(r["id"]), post=to_post(r), channel_title=str(r["title"] or r["channel_id"]),
        received_at=from_iso(r["received_at"]), deleted_at=opt_dt(r["deleted_at"]),
        edits=int(r["text_version"]), regions=tuple((r["regions"] or "").split()),
        reactions=r["reactions"], source=str(r["source"]),
        image_text=(r["image_text"] or "") if "image_text" in r.keys() else "")


class StatsRow(NamedTuple):
    """One group of ``stats_series``: posts of a channel in a UTC hour (or minute)."""

    at: dt.datetime  # the start of the UTC hour or minute
    channel_id: int
    title: str
    posts: int
    edited: int
    deleted: int

"""Engagement over time: views, forwards and reactions of posts, snapshot by snapshot.

The deletion check re-reads recent posts (bot/services/reconcile.py); what each re-read shows
is recorded here in ``post_stats`` (migrations/0007_archive.sql) and copied onto the post row,
so search, /top and export show the latest numbers.

A snapshot is written only when a number changed since the post's last one, so a quiet post
costs nothing. A post's first snapshot is what it showed when it was stored (``posts.views``
etc. at ``received_at``), written at its first re-read: growth counts from the moment the post
was first seen, without one more write per post on the live path.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import aiosqlite

from bot.clock import from_iso, to_iso
from bot.models import Post
from bot.store.archive import _where, has_image_text, matching_posts
from bot.store.base import Repository
from bot.store.records import SearchWindow

Counter = Literal["views", "forwards"]
Numbers = tuple[int | None, int | None, int | None]  # (views, forwards, reactions)


@dataclass(frozen=True)
class Snapshot:
    """What a post showed at one moment."""

    at: dt.datetime
    views: int | None
    forwards: int | None
    reactions: int | None


@dataclass(frozen=True)
class Growth:
    """How much each number grew between two snapshots (None: not shown in one of them)."""

    views: int | None
    forwards: int | None
    reactions: int | None
    since: dt.datetime  # the earlier snapshot
    until: dt.datetime  # the later one (the same when there is only one)


_LATEST = (
    "SELECT p.id, p.message_id, p.received_at, p.views, p.forwards, p.reactions,"
    " s.at AS s_at, s.views AS s_views, s.forwards AS s_forwards, s.reactions AS s_reactions"
    " FROM posts p LEFT JOIN post_stats s ON s.post_id = p.id"
    "  AND s.at = (SELECT MAX(at) FROM post_stats WHERE post_id = p.id)"
    " WHERE p.channel_id = ? AND p.message_id IN ({marks})"
)
_SNAPSHOT = (
    "INSERT INTO post_stats (post_id, at, views, forwards, reactions) VALUES (?, ?, ?, ?, ?)"
    # two re-reads within one second (the time's precision): the later reading stands
    " ON CONFLICT (post_id, at) DO UPDATE SET views = excluded.views,"
    " forwards = excluded.forwards, reactions = excluded.reactions"
)


def _merged(reading: Numbers, last: Numbers) -> Numbers:
    """A reading with what it does not show (None) taken from the last known numbers."""
    return (reading[0] if reading[0] is not None else last[0],
            reading[1] if reading[1] is not None else last[1],
            reading[2] if reading[2] is not None else last[2])


def _plan(row: sqlite3.Row, reading: Numbers, now: str,
          ) -> tuple[list[tuple[object, ...]], Numbers | None]:
    """The snapshots to write for one post, and its numbers if they changed (else None)."""
    post_id = int(row["id"])
    stored: Numbers = (row["views"], row["forwards"], row["reactions"])
    snapshots: list[tuple[object, ...]] = []
    if row["s_at"] is not None:
        last: Numbers = (row["s_views"], row["s_forwards"], row["s_reactions"])
    else:
        last = stored
        if stored != (None, None, None):  # the first snapshot: as the post was stored
            snapshots.append((post_id, row["received_at"], *stored))
    current = _merged(reading, last)
    if current != last or (row["s_at"] is None and not snapshots):  # else: nothing new
        snapshots.append((post_id, now, *current))
    return snapshots, (current if current != stored else None)


class EngagementRepository(Repository):
    """post_stats: snapshots of views, forwards and reactions; the posts with the most."""

    async def record(self, posts: Sequence[Post]) -> int:
        """Record what a re-read of these posts showed; return how many snapshots were written.

        At most one snapshot of the reading per post per call, none for a post whose numbers
        did not change since its last snapshot (a post's first re-read also writes the
        numbers it was stored with, at ``received_at``); the post row takes the latest
        numbers. Posts not stored are ignored. One transaction for the whole call.
        """
        readings = {(p.channel_id, p.message_id): (p.views, p.forwards, p.reactions)
                    for p in posts if (p.views, p.forwards, p.reactions) != (None, None, None)}
        if not readings:
            return 0
        now = to_iso(self._clock.now())
        by_channel: dict[int, list[int]] = {}
        for channel_id, message_id in sorted(readings):
            by_channel.setdefault(channel_id, []).append(message_id)

        async def work(conn: aiosqlite.Connection) -> int:
            snapshots: list[tuple[object, ...]] = []
            changed: list[tuple[object, ...]] = []
            for channel_id, message_ids in by_channel.items():
                marks = ",".join("?" * len(message_ids))
                cur = await conn.execute(_LATEST.format(marks=marks), (channel_id, *message_ids))
                for row in await cur.fetchall():
                    rows, numbers = _plan(row, readings[(channel_id, int(row["message_id"]))],
                                          now)
                    snapshots += rows
                    if numbers is not None:
                        changed.append((*numbers, int(row["id"])))
            await conn.executemany(_SNAPSHOT, snapshots)
            await conn.executemany(
                "UPDATE posts SET views = ?, forwards = ?, reactions = ? WHERE id = ?", changed)
            return len(snapshots)

        return await self._db.transaction(work)

    async def history(self, post_id: int) -> list[Snapshot]:
        """Every snapshot of a post, oldest first."""
        rows = await self._db.fetchall(
            "SELECT at, views, forwards, reactions FROM post_stats WHERE post_id = ?"
            " ORDER BY at", (post_id,))
        return [Snapshot(from_iso(r["at"]), r["views"], r["forwards"], r["reactions"])
                for r in rows]

    async def growth(self, post_ids: Sequence[int], since: dt.datetime,
                     until: dt.datetime) -> dict[int, Growth]:
        """Per post: its latest snapshot in [since, until] minus its earliest one there.

        Posts without a snapshot in the period are left out.
        """
        wanted = sorted(set(post_ids))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        rows = await self._db.fetchall(
            "SELECT post_id, at, views, forwards, reactions FROM post_stats"
            f" WHERE post_id IN ({marks}) AND at >= ? AND at <= ? ORDER BY post_id, at",
            [*wanted, to_iso(since), to_iso(until)])
        first: dict[int, sqlite3.Row] = {}
        last: dict[int, sqlite3.Row] = {}
        for r in rows:
            first.setdefault(int(r["post_id"]), r)
            last[int(r["post_id"])] = r
        return {pid: Growth(_delta(last[pid]["views"], a["views"]),
                            _delta(last[pid]["forwards"], a["forwards"]),
                            _delta(last[pid]["reactions"], a["reactions"]),
                            from_iso(a["at"]), from_iso(last[pid]["at"]))
                for pid, a in first.items()}

    async def top(self, by: Counter, match: str | None, window: SearchWindow,
                  after: tuple[int, int] | None = None, limit: int = 50,
                  ) -> list[tuple[int, int]]:
        """(number, post id) of the posts in the window with the most ``by``, most first.

        ``match``: an FTS5 expression (bot/archive/fts.py) the posts' current text must
        meet; ``after``: the last (number, post id) seen, to go on below it. Posts showing
        none (NULL or 0) are left out.
        """
        column = {"views": "p.views", "forwards": "p.forwards"}[by]  # never user input
        where, params = _where(window, None)
        where += f" AND {column} > 0"
        if after is not None:
            where += f" AND ({column}, p.id) < (?, ?)"
            params += [after[0], after[1]]
        images = match is not None and await has_image_text(self._db)
        sql, args = matching_posts(f"{column}, p.id", match, where, params, images=images)
        rows = await self._db.fetchall(f"{sql} ORDER BY {column} DESC, p.id DESC LIMIT ?",
                                       [*args, limit])
        return [(int(r[0]), int(r[1])) for r in rows]


def _delta(later: int | None, earlier: int | None) -> int | None:
    return later - earlier if later is not None and earlier is not None else None

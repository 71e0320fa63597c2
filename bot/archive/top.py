"""The posts with the most views and the most forwards in a period, and how much they grew.

Views and forwards are the post rows' latest numbers; growth is what the engagement snapshots
(bot/store/engagement.py) show between the first and the last re-read inside the period. A
query restricts the posts as /search does: FTS5 candidates, most viewed first, each confirmed
by the rule's own matcher.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.archive.search import CompiledSearch, Span
from bot.store import Store
from bot.store.engagement import Counter, Growth
from bot.store.records import ArchivedPost, SearchWindow

BATCH = 50  # candidates read at a time when the matcher must confirm them
COUNTERS: tuple[Counter, ...] = ("views", "forwards")


@dataclass(frozen=True)
class TopEntry:
    """A post in a top list: the post as stored, the spans its query matched, its growth."""

    post: ArchivedPost
    spans: tuple[Span, ...]
    growth: Growth | None  # None: never re-read inside the period


@dataclass(frozen=True)
class TopLists:
    """The most viewed and the most forwarded posts of a period, most first."""

    views: tuple[TopEntry, ...]
    forwards: tuple[TopEntry, ...]


class TopPosts:
    """Ranks stored posts by their latest views and forwards."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def top(self, since: dt.datetime, until: dt.datetime,
                  search: CompiledSearch | None = None, size: int = 5) -> TopLists:
        """The ``size`` posts published in [since, until) with the most views, and forwards."""
        lists: dict[Counter, tuple[TopEntry, ...]] = {}
        for by in COUNTERS:
            ranked = await self._ranked(by, since, until, search, size)
            growth = await self._store.engagement.growth([p.id for p, _ in ranked], since,
                                                         until)
            lists[by] = tuple(TopEntry(p, spans, growth.get(p.id)) for p, spans in ranked)
        return TopLists(lists["views"], lists["forwards"])

    async def _ranked(self, by: Counter, since: dt.datetime, until: dt.datetime,
                      search: CompiledSearch | None, size: int,
                      ) -> list[tuple[ArchivedPost, tuple[Span, ...]]]:
        window = (search.within(since, until).window if search is not None
                  else SearchWindow(since, until))
        match = search.fts.match if search is not None else None
        batch = size if search is None or search.fts.exact else BATCH
        out: list[tuple[ArchivedPost, tuple[Span, ...]]] = []
        after: tuple[int, int] | None = None
        while len(out) < size:
            ranked = await self._store.engagement.top(by, match, window, after, batch)
            for post in await self._store.archive.posts([i for _, i in ranked]):
                spans = _confirmed(search, post)
                if spans is not None:
                    out.append((post, spans))
                if len(out) == size:
                    break
            if len(ranked) < batch:
                break
            after = ranked[-1]
        return out


def _confirmed(search: CompiledSearch | None, post: ArchivedPost) -> tuple[Span, ...] | None:
    """The spans the query matches in the post (empty without a query); None: no match."""
    if search is None:
        return ()
    hits = search.index.match(post.post.text, post.post.channel_username)
    return hits[0].spans if hits else None

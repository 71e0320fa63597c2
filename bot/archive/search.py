"""Search the archive with the rule language: FTS5 finds candidates, the matcher decides.

A search is compiled once: the rule's own RuleIndex (the very matcher ``/alert`` uses, with
names and places) and its FTS5 query (bot/archive/fts.py). Candidates come newest first
from SQLite; each is confirmed by the matcher, which also gives the spans to bold. When the
FTS5 query is exact (plain words, OR, AND, exact NOTs, region:, channel:), counts come from
SQL; otherwise up to ``CONFIRM_ALL`` candidates are confirmed for an exact count and beyond
that the count is estimated from the newest ``SAMPLE`` candidates (and said to be "about").
Confirming costs about a millisecond a post: a page of a phrase or a prefix search confirms
a few dozen candidates, never all of them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace

from bot.archive.fts import FtsCompiler, FtsQuery
from bot.clock import to_iso
from bot.match.index import CompiledRule, RuleIndex
from bot.match.lemmas import Lemmatizer
from bot.match.query import Node, parse_rule
from bot.regions.gazetteer import resolve
from bot.regions.places import PlaceMatcher
from bot.store import Store
from bot.store.archive import Cursor
from bot.store.records import ArchivedPost, SearchWindow

Span = tuple[int, int]
CONFIRM_ALL = 100  # inexact candidates confirmed one by one for an exact count
SAMPLE = 100  # beyond that, the share confirmed among the newest SAMPLE candidates
BATCHES = (12, 50, 200)  # candidates confirmed per round for a page: few first, then more


@dataclass(frozen=True)
class SearchHit:
    """A post the query matches, with the character spans that matched."""

    post: ArchivedPost
    spans: tuple[Span, ...]
    in_image: bool = False  # found in its pictures' text (spans point into post.image_text)

    @property
    def text(self) -> str:
        """The text the spans point into."""
        return self.post.image_text if self.in_image else self.post.post.text


@dataclass(frozen=True)
class Count:
    """How many posts match; ``exact`` False: estimated from a sample of candidates."""

    total: int
    exact: bool = True


@dataclass(frozen=True)
class SearchPage:
    """One page of results, newest first; ``next`` continues below its last post."""

    hits: tuple[SearchHit, ...]
    count: Count
    next: Cursor | None


@dataclass(frozen=True)
class CompiledSearch:
    """A parsed, compiled query over a window of time and channels."""

    text: str
    query: Node
    index: RuleIndex
    fts: FtsQuery
    window: SearchWindow

    def within(self, since: dt.datetime | None, until: dt.datetime | None) -> CompiledSearch:
        """The same query over another period."""
        return replace(self, window=replace(self.window, since=since, until=until))


class ArchiveSearch:
    """Compiles queries and runs them over the store."""

    def __init__(self, store: Store, lemmatizer: Lemmatizer,
                 places: PlaceMatcher | None = None) -> None:
        self._store = store
        self._lemmatizer = lemmatizer
        self._places = places

    def compile(self, text: str, since: dt.datetime | None = None,
                until: dt.datetime | None = None) -> CompiledSearch:
        """Parse and compile; RuleSyntaxError, or ValueError for a region: naming no place."""
        query = parse_rule(text)
        index = RuleIndex.build(self._lemmatizer, [CompiledRule(0, 0, query)], self._places)
        place_id = None
        if self._places is not None:
            gazetteer = self._places.gazetteer

            def place_id(q: str) -> str:
                return resolve(gazetteer, q).id

        fts = FtsCompiler(self._lemmatizer, index, place_id).compile(query)
        return CompiledSearch(text.strip(), query, index, fts,
                              SearchWindow(since, until, fts.channels))

    # ------------------------------------------------------------------ reading
    def _confirm(self, search: CompiledSearch, posts: Sequence[ArchivedPost]) -> list[SearchHit]:
        out = []
        for p in posts:
            hits = search.index.match(p.post.text, p.post.channel_username)
            if hits:
                out.append(SearchHit(p, hits[0].spans))
            elif p.image_text and (hits := search.index.match(p.image_text,
                                                              p.post.channel_username)):
                out.append(SearchHit(p, hits[0].spans, in_image=True))
        return out

    async def _confirmed(self, search: CompiledSearch, cursors: Sequence[Cursor],
                         ) -> list[SearchHit]:
        posts = await self._store.archive.posts([i for _, i in cursors])
        if len(posts) > 50:  # matching is CPU work: off the event loop
            return await asyncio.to_thread(self._confirm, search, posts)
        return self._confirm(search, posts)

    async def page(self, search: CompiledSearch, after: Cursor | None = None,
                   size: int = 5) -> SearchPage:
        """The next ``size`` matching posts below ``after`` (newest first) and the count."""
        hits: list[SearchHit] = []
        more = False
        cursor = after
        examined = 0
        candidates: int | None = None  # how many in all, read with the first page's batch
        for round_ in range(10_000):
            want = size + 1 if search.fts.exact else BATCHES[min(round_, len(BATCHES) - 1)]
            if cursor is None and search.fts.match is not None:
                batch, candidates = await self._store.archive.newest_and_count(
                    search.fts.match, search.window, want)
            else:
                batch = await self._store.archive.candidates(search.fts.match, search.window,
                                                             cursor, want)
            if not batch:
                break
            hits += await self._confirmed(search, batch)
            examined += len(batch)
            cursor = batch[-1]
            if len(hits) > size:
                more = True
                break
            if len(batch) < want:
                break
        # the candidates this page confirmed are a sample of the newest: no second one needed
        sample = (examined, len(hits)) if after is None and examined >= 12 else None
        hits = hits[:size]
        count = await self.count(search, sample, candidates)
        last = hits[-1].post if hits else None
        next_cursor = (_cursor_of(last) if more and last is not None else None)
        return SearchPage(tuple(hits), count, next_cursor)

    async def count(self, search: CompiledSearch, sample: tuple[int, int] | None = None,
                    candidates: int | None = None) -> Count:
        """How many posts in the window match (exact, or estimated past CONFIRM_ALL).

        ``sample``: (candidates examined, confirmed) among the newest, if already known;
        ``candidates``: how many the FTS5 expression finds in the window, if already known.
        """
        if candidates is None:
            candidates = await self._store.archive.count(search.fts.match, search.window)
        if search.fts.exact or candidates == 0:
            return Count(candidates)
        if candidates <= CONFIRM_ALL:
            total = 0
            async for _ in self.stream(search):
                total += 1
            return Count(total)
        if sample is None:
            newest = await self._store.archive.candidates(search.fts.match, search.window,
                                                          None, SAMPLE)
            sample = (len(newest), len(await self._confirmed(search, newest)))
        examined, confirmed = sample
        return Count(round(candidates * confirmed / max(examined, 1)), exact=False)

    async def stream(self, search: CompiledSearch, *, oldest_first: bool = False,
                     batch: int = 500) -> AsyncIterator[SearchHit]:
        """Every matching post in the window, in date order, a batch at a time."""
        cursor: Cursor | None = None
        while True:
            cursors = await self._store.archive.candidates(
                search.fts.match, search.window, cursor, batch, oldest_first=oldest_first)
            if not cursors:
                return
            for hit in await self._confirmed(search, cursors):
                yield hit
            if len(cursors) < batch:
                return
            cursor = cursors[-1]


def _cursor_of(post: ArchivedPost) -> Cursor:
    return (to_iso(post.post.date), post.id)

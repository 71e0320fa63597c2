"""Builds the full-text index for posts stored before it existed, in the background.

Migration 0007 records the highest post id of the time in ``archive_index.upto``; this task
indexes ids in (next, upto] in batches, one transaction each, and moves ``next``, so a
restart resumes where it stopped. Posts stored since are indexed as they are stored.
Progress goes to the log; searches say while the build is unfinished.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from bot.archive.terms import TermMaker
from bot.models import TextTerms
from bot.store import Store, StoreBusy

log = logging.getLogger(__name__)
BATCH = 500


@dataclass(frozen=True)
class IndexProgress:
    """How far the build is: posts indexed of those it must index."""

    done: int
    total: int

    @property
    def finished(self) -> bool:
        return self.done >= self.total


class ArchiveIndexer:
    """Indexes the posts stored before migration 0007, batch by batch."""

    def __init__(self, store: Store, terms: TermMaker, batch: int = BATCH) -> None:
        self._store = store
        self._terms = terms
        self._batch = batch
        self.busy_pause = 5.0

    async def progress(self) -> IndexProgress:
        """Posts indexed so far (by id) of the posts stored before the index existed."""
        next_id, upto = await self._store.archive.index_progress()
        return IndexProgress(min(next_id, upto), upto)

    def _terms_of(self, rows: list[tuple[int, int, str]]) -> list[tuple[int, int, TextTerms]]:
        docs = []
        for pid, version, text in rows:
            try:
                terms = self._terms.of(text)
            except Exception:  # one unreadable text must not stop the build
                log.exception("search index: post %d could not be analysed; not indexed", pid)
                terms = TextTerms("")
            docs.append((pid, version, terms))
        return docs

    async def _save(self, docs: list[tuple[int, int, TextTerms]], next_id: int) -> None:
        """Write a batch; while another process holds the database, wait and try again."""
        while True:
            try:
                await self._store.archive.index_batch(docs, next_id)
                return
            except StoreBusy as exc:
                log.warning("search index: database busy (%s); retrying in %.0f s", exc,
                            self.busy_pause)
                await asyncio.sleep(self.busy_pause)

    async def run(self) -> int:
        """Index everything not yet indexed; return how many posts this run indexed."""
        next_id, upto = await self._store.archive.index_progress()
        if next_id >= upto:
            return 0
        log.info("building the search index for posts stored before it existed (ids %d-%d)",
                 next_id + 1, upto)
        started = last_log = time.monotonic()
        done = 0
        while True:
            rows = await self._store.archive.unindexed(next_id, upto, self._batch)
            if not rows:
                break
            # lemmatising is CPU work: in a thread, so the event loop keeps serving
            docs = await asyncio.to_thread(self._terms_of, rows)
            next_id = rows[-1][0]
            await self._save(docs, next_id)
            done += len(rows)
            now = time.monotonic()
            if now - last_log >= 5 or next_id >= upto:
                last_log = now
                log.info("search index: %d posts indexed (up to id %d of %d), %.0f posts/s",
                         done, next_id, upto, done / max(now - started, 1e-6))
        await self._save([], upto)
        log.info("search index built: %d posts in %.1f s", done, time.monotonic() - started)
        return done

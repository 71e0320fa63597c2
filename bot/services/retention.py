"""RETENTION_DAYS: the text, versions, picture text and media files of posts published longer
ago than that are dropped (bot/store/retention.py says what stays). Run every hour by the
service, in batches that each commit before the next, so it never holds the database long;
files are deleted from disk only after their rows say so."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass

from bot.clock import Clock
from bot.media.files import MediaFiles
from bot.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dropped:
    texts: int
    files: int
    bytes: int


class RetentionJob:
    def __init__(self, store: Store, files: MediaFiles, days: int, clock: Clock) -> None:
        self._store, self._files, self._clock = store, files, clock
        self.days = days

    async def run(self) -> Dropped:
        """Drop everything older than the retention period; what was dropped."""
        cutoff = self._clock.now() - dt.timedelta(days=self.days)
        texts = files = size = 0
        while n := await self._store.retention.drop_text_before(cutoff):
            texts += n
            await asyncio.sleep(0)  # let live posts in between batches
        while expired := await self._store.retention.expire_files_before(cutoff):
            files += len(expired)
            size += await asyncio.to_thread(self._delete, expired)
            await asyncio.sleep(0)
        if texts or files:
            log.info("retention (%d days): text dropped from %d posts, %d files deleted"
                     " (%.1f MB)", self.days, texts, files, size / 1e6)
        return Dropped(texts, files, size)

    def _delete(self, expired: list[tuple[str, str]]) -> int:
        freed = 0
        for sha256, ext in expired:
            path = self._files.path(sha256, ext)
            with contextlib.suppress(FileNotFoundError):
                freed += path.stat().st_size
                path.unlink()
        return freed

"""Warnings before users notice: the admins are told once when something goes wrong, and
once more when it has cleared.

Checked every minute by the service (``Warnings.check``):

- **silence**: no update pushed by Telegram from any channel for much longer than usual for
  this hour. "Usual" is the posts the watched channels published in the same hour of the
  day over the last 7 days: at λ posts an hour, a silence of t hours has probability
  e^(−λt); the warning comes when that falls under 1 in 1,000 (t > 6.9/λ), never before
  15 minutes, and only with at least 3 of those 7 days having posts in that hour (a new
  install, or a quiet night, raises nothing);
- **catch-ups failing**: 3 catch-ups in a row ended in an error;
- **outbox stuck**: the oldest message waiting to be sent has waited 10 minutes and the
  queue is not shorter than 10 minutes before;
- **disk**: free space on the data volume under ``DISK_FREE_MIN_GB``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import shutil
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.clock import Clock, to_iso
from bot.render import esc
from bot.services.notify import AdminNotifier
from bot.store import Store

log = logging.getLogger(__name__)
UNLIKELY = 1 / 1000  # a silence this improbable is worth a warning
MIN_SILENCE = dt.timedelta(minutes=15)
HISTORY_DAYS, MIN_DAYS = 7, 3
FAILED_RECONCILES = 3
OUTBOX_STUCK = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Condition:
    key: str
    warn: str  # HTML, told when it starts
    clear: str  # told when it ends


class Warnings:
    """Each condition is raised once and cleared once (the admins are told both times)."""

    def __init__(self, store: Store, admins: AdminNotifier, clock: Clock, data_dir: Path,
                 *, disk_free_min: int, last_update: Callable[[], dt.datetime | None],
                 started_at: dt.datetime) -> None:
        self._store, self._admins, self._clock = store, admins, clock
        self._data_dir, self.disk_free_min = data_dir, disk_free_min
        self._last_update, self._started_at = last_update, started_at
        self.active: dict[str, Condition] = {}
        self.failed_reconciles = 0
        self._pending: deque[tuple[dt.datetime, int]] = deque()  # (when, outbox length)

    # ------------------------------------------------------------------ events
    def reconcile_failed(self) -> None:
        self.failed_reconciles += 1

    def reconcile_succeeded(self) -> None:
        self.failed_reconciles = 0

    # ------------------------------------------------------------------ the check
    async def check(self) -> list[str]:
        """Evaluate every condition; tell the admins of changes. The keys now active."""
        now = self._clock.now()
        found = [c for c in (await self._silence(now), self._reconciles(),
                             await self._outbox(now), await self._disk()) if c is not None]
        found_keys = {c.key for c in found}
        for c in found:
            if c.key not in self.active:
                log.warning("warning raised: %s", c.key)
                self.active[c.key] = c
                await self._admins.tell(c.warn, f"warn:{c.key}:{to_iso(now)}")
        for key in sorted(set(self.active) - found_keys):
            c = self.active.pop(key)
            log.info("warning cleared: %s", key)
            await self._admins.tell(c.clear, f"clear:{key}:{to_iso(now)}")
        return sorted(self.active)

    async def usual_rate(self, now: dt.datetime) -> float | None:
        """Posts an hour the watched channels publish at this hour of the day (None: too
        little history to say)."""
        counts = []
        for days in range(1, HISTORY_DAYS + 1):
            start = now - dt.timedelta(days=days, minutes=30)
            counts.append(await self._store.posts.count_between(start,
                                                                start + dt.timedelta(hours=1)))
        with_posts = [n for n in counts if n > 0]
        if len(with_posts) < MIN_DAYS:
            return None
        return sum(counts) / len(counts)

    async def _silence(self, now: dt.datetime) -> Condition | None:
        rate = await self.usual_rate(now)
        if rate is None or rate <= 0:
            return None
        allowed = max(MIN_SILENCE, dt.timedelta(hours=-math.log(UNLIKELY) / rate))
        since = max(self._last_update() or self._started_at, self._started_at)
        quiet = now - since
        if quiet <= allowed:
            return None
        minutes = int(quiet.total_seconds() // 60)
        return Condition(
            "silence",
            f"⚠️ No update from any channel for {minutes} min; about {rate:.0f} posts an hour"
            " are usual at this hour. The user account may be stuck: /health shows more.",
            "✅ Updates from the channels are arriving again.")

    def _reconciles(self) -> Condition | None:
        if self.failed_reconciles < FAILED_RECONCILES:
            return None
        return Condition(
            "reconcile",
            f"⚠️ The last {self.failed_reconciles} catch-ups failed (see the log); missed posts"
            " are not being fetched.",
            "✅ Catch-ups work again.")

    async def _outbox(self, now: dt.datetime) -> Condition | None:
        pending = await self._store.outbox.pending_count()
        self._pending.append((now, pending))
        while self._pending and now - self._pending[0][0] > OUTBOX_STUCK * 2:
            self._pending.popleft()
        oldest = await self._store.outbox.oldest_pending()
        if oldest is None or now - oldest < OUTBOX_STUCK:
            return None
        earlier = [n for t, n in self._pending if now - t >= OUTBOX_STUCK]
        if earlier and pending < earlier[-1]:
            return None  # it is draining
        minutes = int((now - oldest).total_seconds() // 60)
        return Condition(
            "outbox",
            f"⚠️ {pending} messages are waiting to be sent, the oldest for {minutes} min, and"
            " the queue is not getting shorter. /health shows more.",
            "✅ The message queue is moving again.")

    async def _disk(self) -> Condition | None:
        if self.disk_free_min <= 0:
            return None
        free = (await asyncio.to_thread(shutil.disk_usage, self._data_dir)).free
        if free >= self.disk_free_min:
            return None
        return Condition(
            "disk",
            f"⚠️ Only {free / 1e9:.2f} GB free on the data volume ({esc(str(self._data_dir))});"
            f" under {self.disk_free_min / 1e9:g} GB. Make room before the database cannot"
            " grow.",
            "✅ The data volume has room again.")

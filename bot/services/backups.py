"""The service's online backups: every BACKUP_INTERVAL, into $DATA_DIR/backups, the newest
BACKUP_KEEP kept (bot/store/backup.py does the copying and checking).

Checked often (every ``CHECK_EVERY`` at most) and taken when the newest backup on disk is
older than the interval, so restarts neither skip nor repeat one. A failed backup is logged
and the admins are told once until one succeeds again (then they are told that too).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

from bot.clock import Clock
from bot.render import esc
from bot.services.notify import AdminNotifier
from bot.store.backup import Backup, BackupError, backups, take_backup

log = logging.getLogger(__name__)
CHECK_EVERY = dt.timedelta(minutes=10)


class BackupJob:
    """Takes the backup when one is due."""

    def __init__(self, db_path: Path, folder: Path, interval: dt.timedelta, keep: int,
                 clock: Clock, admins: AdminNotifier, busy_timeout: float = 5.0) -> None:
        self.db_path, self.folder = db_path, folder
        self.interval, self.keep = interval, keep
        self._clock, self._admins = clock, admins
        self._busy_timeout = busy_timeout
        self.failing_since: dt.datetime | None = None
        self.last: Backup | None = None

    @property
    def check_every(self) -> dt.timedelta:
        return min(self.interval, CHECK_EVERY)

    async def run(self) -> Backup | None:
        """Back up if the newest backup is older than the interval; the backup taken."""
        now = self._clock.now()
        done = await asyncio.to_thread(backups, self.folder) if self.folder.is_dir() else []
        if done and now - done[-1].taken_at < self.interval:
            return None
        try:
            taken = await asyncio.to_thread(take_backup, self.db_path, self.folder, now,
                                            keep=self.keep, busy_timeout=self._busy_timeout)
        except BackupError as exc:
            log.error("backup failed: %s", exc)
            if self.failing_since is None:
                self.failing_since = now
                await self._admins.tell(
                    f"⚠️ The database backup failed: {esc(str(exc))}. The service goes on;"
                    " the next try is in a few minutes.", f"backup-failed:{now.isoformat()}")
            return None
        log.info("backup %s: %.1f MB in %.1f s, integrity ok (%d kept)", taken.path.name,
                 taken.size / 1e6, taken.seconds, self.keep)
        if self.failing_since is not None:
            await self._admins.tell(f"✅ Database backups work again ({esc(taken.path.name)}).",
                                    f"backup-ok:{now.isoformat()}")
            self.failing_since = None
        self.last = taken
        return taken

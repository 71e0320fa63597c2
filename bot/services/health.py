"""What an operator needs to see that chanwatch is reading, matching and delivering.

``/health`` (admins) builds the report from the running service; ``chanwatch health
--verbose`` from the database and ``$DATA_DIR/status.json``, which the service rewrites with
each heartbeat (what only it knows: whether both clients are connected, when the last update
came, when the last catch-up succeeded, the newest id Telegram reported for each channel).

A channel is *behind* when Telegram reported a newer post than the one stored (its cursor);
its lag is how long it has been behind, measured from the first catch-up that saw it so.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bot import __version__
from bot.clock import from_iso, to_iso
from bot.models import Channel
from bot.store import Store
from bot.store.media import MediaCounts

STATUS_FILE = "status.json"


@dataclass
class LiveState:
    """What the running service knows that the database does not."""

    at: str  # when this was written (ISO)
    started_at: str
    user_connected: bool
    bot_connected: bool
    last_update_at: str | None = None  # the last post, edit or deletion pushed by Telegram
    last_reconcile_at: str | None = None  # the last catch-up that finished without error
    tops: dict[str, int] = field(default_factory=dict)  # channel id -> newest id reported
    behind_since: dict[str, str] = field(default_factory=dict)  # channel id -> ISO

    def write(self, data_dir: Path) -> None:
        path = data_dir / STATUS_FILE
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def read(cls, data_dir: Path) -> LiveState | None:
        try:
            data = json.loads((data_dir / STATUS_FILE).read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return None


def lag_seconds(channel: Channel, tops: dict[str, int], behind_since: dict[str, str],
                now: dt.datetime) -> float:
    """How long the channel has been behind (0: caught up); updates ``behind_since``."""
    key = str(channel.id)
    if tops.get(key, 0) > channel.cursor:
        since = from_iso(behind_since.setdefault(key, to_iso(now)))
        return max(0.0, (now - since).total_seconds())
    behind_since.pop(key, None)
    return 0.0


@dataclass(frozen=True)
class ChannelRow:
    name: str
    status: str
    seen: int | None  # newest id Telegram reported (None: not asked yet)
    stored: int
    lag: float


@dataclass(frozen=True)
class HealthReport:
    now: dt.datetime
    live: LiveState | None
    channels: list[ChannelRow]
    outbox_pending: int
    outbox_oldest: float | None  # seconds
    dead_letters: int
    media: MediaCounts | None
    db_bytes: int
    wal_bytes: int
    free_bytes: int
    version: str = __version__

    @property
    def behind(self) -> list[ChannelRow]:
        return [c for c in self.channels if c.seen is not None and c.seen > c.stored]


async def gather(store: Store, db_path: Path, data_dir: Path, live: LiveState | None,
                 now: dt.datetime) -> HealthReport:
    """The report from the database, the files and what the service knows."""
    tops = live.tops if live else {}
    behind = dict(live.behind_since) if live else {}
    rows = []
    for ch in sorted(await store.channels.active(), key=lambda c: (c.username or "", c.id)):
        rows.append(ChannelRow(f"@{ch.username}" if ch.username else str(ch.id), ch.status,
                               tops.get(str(ch.id)), ch.cursor,
                               lag_seconds(ch, tops, behind, now)))
    oldest = await store.outbox.oldest_pending()
    counts = await store.media.counts()
    db_bytes, wal_bytes, free = await asyncio.to_thread(_sizes, db_path, data_dir)
    return HealthReport(
        now=now, live=live, channels=rows, outbox_pending=await store.outbox.pending_count(),
        outbox_oldest=(now - oldest).total_seconds() if oldest else None,
        dead_letters=await store.outbox.dead_count(),
        media=counts if counts.by_state else None,
        db_bytes=db_bytes, wal_bytes=wal_bytes, free_bytes=free)


def _sizes(db_path: Path, data_dir: Path) -> tuple[int, int, int]:
    wal = db_path.with_name(db_path.name + "-wal")
    return (db_path.stat().st_size if db_path.exists() else 0,
            wal.stat().st_size if wal.exists() else 0, shutil.disk_usage(data_dir).free)


def _ago(iso: str | None, now: dt.datetime) -> str:
    if iso is None:
        return "never"
    return f"{_span((now - from_iso(iso)).total_seconds())} ago"


def _span(seconds: float) -> str:
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h"
    return f"{s // 86400} d"


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n < 10**10 else f"{n / 1e9:,.1f} GB"


def render(report: HealthReport, *, limit: int = 30) -> list[str]:
    """The report as plain lines (the bot escapes them and bolds the first)."""
    now, live = report.now, report.live
    lines = [f"chanwatch {report.version} health"]
    if live is None:
        lines.append("service: no status (not running, or not started yet)")
    else:
        state = ("connected" if live.user_connected else "DISCONNECTED",
                 "connected" if live.bot_connected else "DISCONNECTED")
        lines += [f"user account: {state[0]}; bot: {state[1]} (status {_ago(live.at, now)},"
                  f" up {_span((now - from_iso(live.started_at)).total_seconds())})",
                  f"last update from Telegram: {_ago(live.last_update_at, now)}",
                  f"last successful catch-up: {_ago(live.last_reconcile_at, now)}"]
    behind = report.behind
    lines.append(f"channels: {len(report.channels)} watched, {len(behind)} behind")
    for row in sorted(report.channels, key=lambda r: (-r.lag, r.name))[:limit]:
        seen = "?" if row.seen is None else str(row.seen)
        lag = f", behind {row.seen - row.stored} for {_span(row.lag)}" if (
            row.seen is not None and row.seen > row.stored) else ""
        lines.append(f"  {row.name}: newest {seen}, stored {row.stored}{lag}")
    if len(report.channels) > limit:
        lines.append(f"  … and {len(report.channels) - limit} more")
    oldest = (f", oldest {_span(report.outbox_oldest)}" if report.outbox_oldest is not None
              else "")
    lines.append(f"outbox: {report.outbox_pending} pending{oldest};"
                 f" {report.dead_letters} dead letters")
    if report.media is not None:
        m = report.media
        queued = m.by_state.get("pending", 0)
        failed = sum(n for s, n in m.by_state.items() if s in ("failed", "gone"))
        lines.append(f"media: {m.files} files, {_mb(m.bytes)}; {queued} to download,"
                     f" {failed} not kept")
    lines.append(f"database {_mb(report.db_bytes)}, WAL {_mb(report.wal_bytes)};"
                 f" free disk {_mb(report.free_bytes)}")
    return lines

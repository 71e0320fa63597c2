"""/stats and ``chanwatch stats``: matching posts per hour or day, by channel, with totals.

The time axis is local: hours or days in the chat's time zone, so a day starts at the chat's
midnight (and has 23 or 25 hours when the clocks change). SQL can only group by the stored
UTC date, so when the FTS5 query is exact (bot/archive/fts.py) the store groups posts by UTC
hour — or by UTC minute when a local hour in the period does not start on a UTC hour
(Asia/Kolkata, +05:30) — and each group is put into its local bucket here; every such
group lies inside one bucket, so the counts are exact. Otherwise every matching post is
streamed through the matcher (ArchiveSearch.stream) and bucketed one by one.

This module computes facts only; ``summary`` words them, the chart is bot/chart.py's.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from bot.archive.search import ArchiveSearch, CompiledSearch
from bot.archive.window import parse_duration
from bot.regions.places import PlaceMatcher
from bot.store import Store
from bot.store.records import SearchWindow

Per = Literal["hour", "day"]

PERIODS = {"24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7),
           "30d": dt.timedelta(days=30), "90d": dt.timedelta(days=90)}
DEFAULT_PERIOD = "7d"
HOURLY_MAX_SPAN = dt.timedelta(hours=48)  # a custom window up to this long: hourly buckets
MAX_BUCKETS = 400  # longer custom windows are refused (the chart would be unreadable)
TOP_CHANNELS = 5  # channels drawn on their own; the rest are "other"
TOP_REGIONS = 5
OTHER = "other"
_HOUR = dt.timedelta(hours=1)
_CHANNEL_RE = re.compile(r"^@\w+$")


class StatsError(ValueError):
    """Arguments /stats cannot use; the message is for the user."""


@dataclass(frozen=True)
class Selector:
    """Which posts to count: every post, a rule of the chat, or a query of the rule language."""

    query: str | None  # None: every post (or, with ``rule``, the rule's expression)
    rule: int | None = None
    label: str = "all posts"


def split_period(args: str) -> tuple[str, str]:
    """Take ``24h|7d|30d|90d`` off the end of /stats' arguments: (rest, period)."""
    words = args.split()
    if words and words[-1].lower() in PERIODS:
        return " ".join(words[:-1]), words[-1].lower()
    if words and parse_duration(words[-1]) is not None:
        raise StatsError(f"the period can be {', '.join(PERIODS)} (not {words[-1]})")
    return args.strip(), DEFAULT_PERIOD


def parse_selector(words: str) -> Selector:
    """``rule <n>``, ``region <x>``, ``@channel``, a query, or nothing (every post).

    A first word ``rule`` or ``region`` always means the selector (search the word itself
    as ``=rule`` or ``"rule"``).
    """
    text = " ".join(words.split())
    if not text:
        return Selector(None)
    first, _, rest = text.partition(" ")
    if first.lower() == "rule":
        number = rest.removeprefix("#")
        if not number.isdigit() or int(number) == 0:
            raise StatsError("rule needs the rule's number as /rules shows it, e.g. rule 2")
        return Selector(None, int(number), f"rule #{int(number)}")
    if first.lower() == "region":
        place = rest.replace('"', "").strip()
        if not place:
            raise StatsError("region needs a place, e.g. region Белгород")
        return Selector(f'region:"{place}"', label=f"region {place}")
    if _CHANNEL_RE.match(text):
        return Selector(f"channel:{text}", label=text)
    return Selector(text, label=text)


def region_namer(places: PlaceMatcher | None) -> Callable[[str], str]:
    """Names for the ISO codes of ``posts.regions`` (the code itself without a gazetteer)."""

    def name(code: str) -> str:
        place = places.gazetteer.places.get(code) if places is not None else None
        return place.display("en") if place is not None else code

    return name


# ------------------------------------------------------------------ the time axis
@dataclass(frozen=True)
class Buckets:
    """The chart's time axis: local hours or days covering [since, until)."""

    since: dt.datetime
    until: dt.datetime
    per: Per
    starts: tuple[dt.datetime, ...]  # each bucket's start, in UTC (bisect-safe over DST)
    tz: ZoneInfo

    def index(self, moment: dt.datetime) -> int:
        """The bucket holding ``moment`` (which lies in [since, until))."""
        return bisect.bisect_right(self.starts, moment.astimezone(dt.UTC)) - 1

    def local(self) -> list[dt.datetime]:
        """The buckets' starts in the time zone, for labels."""
        return [s.astimezone(self.tz) for s in self.starts]

    @property
    def sql_width(self) -> int:
        """How much of the stored UTC date SQL may group by: 13 (hour) when every bucket
        starts on a whole UTC hour, else 16 (minute)."""
        return 13 if all(s.minute == 0 and s.second == 0 for s in self.starts) else 16


def window_buckets(since: dt.datetime, until: dt.datetime, tz: ZoneInfo,
                   per: Per | None = None) -> Buckets:
    """Local hours (spans up to 48 h) or days from the one holding ``since`` to ``until``."""
    if until <= since:
        raise StatsError("the start of the period lies after its end")
    if per is None:
        per = "hour" if until - since <= HOURLY_MAX_SPAN else "day"
    since_utc, until_utc = since.astimezone(dt.UTC), until.astimezone(dt.UTC)
    if until_utc.microsecond:
        # the store compares whole seconds (to_iso): "until now" must keep this second's posts
        until_utc = until_utc.replace(microsecond=0) + dt.timedelta(seconds=1)
    if per == "hour":
        first = since.astimezone(tz).replace(minute=0, second=0, microsecond=0)
        first_utc = first.astimezone(dt.UTC)
        count = math.ceil((until_utc - first_utc) / _HOUR)
        starts = [first_utc + i * _HOUR for i in range(count)]
    else:
        first_day = since.astimezone(tz).date()
        last_day = (until - dt.timedelta(microseconds=1)).astimezone(tz).date()
        count = (last_day - first_day).days + 1
        starts = [dt.datetime.combine(first_day + dt.timedelta(days=i), dt.time(), tzinfo=tz
                                      ).astimezone(dt.UTC) for i in range(count)]
    if count > MAX_BUCKETS:
        raise StatsError(f"the period is too long for one chart ({count} {per}s;"
                         f" at most {MAX_BUCKETS})")
    return Buckets(since_utc, until_utc, per, tuple(starts), tz)


def period_buckets(period: str, now: dt.datetime, tz: ZoneInfo) -> Buckets:
    """``24h``: the last 24 local hours, the current one included; ``7d``/``30d``/``90d``:
    today and the days before it, each from local midnight; all up to ``now``."""
    span = PERIODS[period]
    if span <= HOURLY_MAX_SPAN:
        hour = now.astimezone(tz).replace(minute=0, second=0, microsecond=0)
        since = hour.astimezone(dt.UTC) - (span - _HOUR)
        return window_buckets(since, now, tz, "hour")
    first_day = now.astimezone(tz).date() - (span - dt.timedelta(days=1))
    since = dt.datetime.combine(first_day, dt.time(), tzinfo=tz)
    return window_buckets(since, now, tz, "day")


# ------------------------------------------------------------------ the counts
@dataclass(frozen=True)
class Stats:
    """Matching posts per bucket and channel, and the caption's totals."""

    buckets: Buckets
    total: int
    series: tuple[tuple[str, tuple[int, ...]], ...]  # top channels, then "other": per bucket
    channels: tuple[tuple[str, int], ...]  # every channel, most posts first
    regions: tuple[tuple[str, int], ...]  # ISO codes of first-level regions, most posts first
    edited: int
    deleted: int


class _Tally:
    """Counts as they come in, by channel id (two channels may share a title)."""

    def __init__(self, buckets: Buckets) -> None:
        self.buckets = buckets
        self.counts: dict[int, list[int]] = {}
        self.titles: dict[int, str] = {}
        self.regions: Counter[str] = Counter()
        self.edited = 0
        self.deleted = 0

    def add(self, moment: dt.datetime, channel_id: int, title: str, posts: int = 1) -> None:
        row = self.counts.setdefault(channel_id, [0] * len(self.buckets.starts))
        row[self.buckets.index(moment)] += posts
        self.titles[channel_id] = title

    def result(self) -> Stats:
        totals = sorted(((sum(c), self.titles[ch], ch) for ch, c in self.counts.items()),
                        key=lambda t: (-t[0], t[1], t[2]))
        series = [(title, tuple(self.counts[ch])) for _, title, ch in totals[:TOP_CHANNELS]]
        rest = [self.counts[ch] for _, _, ch in totals[TOP_CHANNELS:]]
        if rest:
            series.append((OTHER, tuple(sum(col) for col in zip(*rest, strict=True))))
        regions = sorted(self.regions.items(), key=lambda kv: (-kv[1], kv[0]))
        return Stats(self.buckets, sum(t[0] for t in totals), tuple(series),
                     tuple((title, n) for n, title, _ in totals), tuple(regions),
                     self.edited, self.deleted)


class ArchiveStats:
    """Counts the posts a search matches over a period, by local bucket and channel."""

    def __init__(self, store: Store, search: ArchiveSearch) -> None:
        self._store = store
        self._search = search

    async def compute(self, search: CompiledSearch | None, buckets: Buckets) -> Stats:
        """The stats of ``search`` (None: every post) over ``buckets``' period."""
        tally = _Tally(buckets)
        if search is None or search.fts.exact:
            match = search.fts.match if search is not None else None
            window = SearchWindow(buckets.since, buckets.until,
                                  search.fts.channels if search is not None else ())
            for row in await self._store.archive.stats_series(match, window,
                                                              buckets.sql_width):
                tally.add(row.at, row.channel_id, row.title, row.posts)
                tally.edited += row.edited
                tally.deleted += row.deleted
            for regions, n in await self._store.archive.stats_regions(match, window):
                for code in regions.split():
                    tally.regions[code] += n
            return tally.result()
        async for hit in self._search.stream(search.within(buckets.since, buckets.until),
                                             oldest_first=True):
            p = hit.post
            tally.add(p.post.date, p.post.channel_id, p.channel_title)
            tally.edited += p.edits > 0
            tally.deleted += p.deleted_at is not None
            tally.regions.update(set(p.regions))
        return tally.result()


# ------------------------------------------------------------------ words
def _share(part: int, total: int) -> str:
    return f"{100 * part / total:.0f}%" if total else "0%"


def period_words(buckets: Buckets, period: str | None) -> str:
    """"last 7 days", or the dates of a custom window."""
    if period is not None:
        return f"last {period[:-1]} {'hours' if period.endswith('h') else 'days'}"
    first, last = buckets.local()[0], (buckets.until - dt.timedelta(seconds=1)).astimezone(
        buckets.tz)
    shape = "%Y-%m-%d %H:%M" if buckets.per == "hour" else "%Y-%m-%d"
    return f"{first:{shape}} – {last:{shape}}"


def summary(stats: Stats, label: str, period: str | None,
            region_name: Callable[[str], str]) -> list[str]:
    """The caption as plain lines: what was counted, the totals, top channels and regions."""
    total = stats.total
    lines = [f"📊 {label} · {period_words(stats.buckets, period)} ({stats.buckets.tz.key})",
             f"{total} post{'s' if total != 1 else ''} · ✏️ edited {stats.edited}"
             f" ({_share(stats.edited, total)}) · 🗑 deleted {stats.deleted}"
             f" ({_share(stats.deleted, total)})"]
    top = stats.channels[:TOP_CHANNELS]
    more = len(stats.channels) - len(top)
    lines.append("Top channels: " + ", ".join(f"{title} {n}" for title, n in top)
                 + (f" (+{more} more)" if more > 0 else ""))
    if stats.regions:
        lines.append("Top regions: " + ", ".join(
            f"{region_name(code)} {n}" for code, n in stats.regions[:TOP_REGIONS]))
    return lines

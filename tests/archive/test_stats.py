"""/stats' service over a real store: counts per local bucket against a brute-force count."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot.archive.stats import (
    OTHER,
    ArchiveStats,
    Buckets,
    Selector,
    Stats,
    StatsError,
    parse_selector,
    period_buckets,
    region_namer,
    split_period,
    summary,
    window_buckets,
)
from bot.chart import render_stacked_chart
from bot.match import CompiledRule, RuleIndex, RuleSyntaxError, parse_rule
from bot.models import Post
from bot.regions.places import PlaceMatcher
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.services.rules import RulesService
from bot.store import Store
from bot.store.records import SearchWindow
from tests.archive.conftest import Filled
from tests.support.fakes import FakeClock

KYIV = ZoneInfo("Europe/Kyiv")
KOLKATA = ZoneInfo("Asia/Kolkata")  # +05:30: local hours start on UTC half hours
ST_JOHNS = ZoneInfo("America/St_Johns")  # -03:30
UTC = ZoneInfo("UTC")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


# ------------------------------------------------------------------ arguments
@pytest.mark.parametrize(("args", "rest", "period"), [
    ("", "", "7d"), ("24h", "", "24h"), ("Белгород 30D", "Белгород", "30d"),
    ("rule 2 90d", "rule 2", "90d"), ('"сбит беспилотник"', '"сбит беспилотник"', "7d"),
])
def test_split_period(args: str, rest: str, period: str) -> None:
    assert split_period(args) == (rest, period)


@pytest.mark.parametrize("args", ["Белгород 5d", "14d", "2h"])
def test_other_periods_are_refused(args: str) -> None:
    with pytest.raises(StatsError, match="24h, 7d, 30d, 90d"):
        split_period(args)


@pytest.mark.parametrize(("words", "selector"), [
    ("", Selector(None)),
    ("rule 3", Selector(None, 3, "rule #3")),
    ("Rule #12", Selector(None, 12, "rule #12")),
    ("region Белгородская  область", Selector('region:"Белгородская область"',
                                             label="region Белгородская область")),
    ('region "Шебекино"', Selector('region:"Шебекино"', label="region Шебекино")),
    ("@rian_ru", Selector("channel:@rian_ru", label="@rian_ru")),
    ("Белгород -учения", Selector("Белгород -учения", label="Белгород -учения")),
])
def test_parse_selector(words: str, selector: Selector) -> None:
    assert parse_selector(words) == selector


@pytest.mark.parametrize("words", ["rule", "rule x", "rule 0", "rule 2 3", "region", 'region ""'])
def test_malformed_selectors(words: str) -> None:
    with pytest.raises(StatsError):
        parse_selector(words)


# ------------------------------------------------------------------ the time axis
def test_seven_days_are_today_and_six_local_days_before_it() -> None:
    now = utc(2026, 11, 25, 21, 30)  # 23:30 in Kyiv: still the 25th
    b = period_buckets("7d", now, KYIV)
    assert b.per == "day" and len(b.starts) == 7
    assert [s.strftime("%d %H:%M") for s in b.local()] == [
        f"{d} 00:00" for d in range(19, 26)]
    assert b.since == utc(2026, 11, 18, 22) and b.until == now
    assert b.sql_width == 13


def test_24h_is_the_current_local_hour_and_23_before_it() -> None:
    now = utc(2026, 11, 25, 12, 40)
    b = period_buckets("24h", now, KOLKATA)  # 18:10 IST
    assert b.per == "hour" and len(b.starts) == 24
    assert b.local()[-1].strftime("%H:%M") == "18:00" and b.local()[0].strftime("%H:%M") == "19:00"
    assert b.starts[0].minute == 30 and b.sql_width == 16


def test_the_day_clocks_go_back_has_25_hours() -> None:
    b = window_buckets(utc(2026, 10, 23, 12), utc(2026, 10, 27, 12), KYIV)
    lengths = [(b2 - b1) / dt.timedelta(hours=1) for b1, b2 in
               zip(b.starts, b.starts[1:], strict=False)]
    assert [s.date().isoformat() for s in b.local()] == [
        "2026-10-23", "2026-10-24", "2026-10-25", "2026-10-26", "2026-10-27"]
    assert lengths == [24, 24, 25, 24]


def test_windows_refused_when_empty_or_too_long() -> None:
    with pytest.raises(StatsError, match="after its end"):
        window_buckets(utc(2026, 1, 2), utc(2026, 1, 1), UTC)
    with pytest.raises(StatsError, match="too long"):
        window_buckets(utc(2020, 1, 1), utc(2026, 1, 1), UTC)


# ------------------------------------------------------------------ counts vs brute force
def _keyed(stats: Stats) -> Counter[tuple[str, str]]:
    shape = "%Y-%m-%d %H" if stats.buckets.per == "hour" else "%Y-%m-%d"
    local = stats.buckets.local()
    out: Counter[tuple[str, str]] = Counter()
    for title, counts in stats.series:
        for i, n in enumerate(counts):
            if n:
                out[(local[i].strftime(shape), title)] += n
    return out


async def _brute(filled: Filled, places: PlaceMatcher, query: str | None, b: Buckets,
                 ) -> tuple[Counter[tuple[str, str]], int, int, Counter[str]]:
    """Every stored post through the matcher, bucketed by its own local time."""
    cursors = await filled.store.archive.candidates(None, SearchWindow(), None, 100_000)
    posts = await filled.store.archive.posts([i for _, i in cursors])
    index = (RuleIndex.build(filled.rules.lemmatizer, [CompiledRule(0, 0, parse_rule(query))],
                             places) if query else None)
    shape = "%Y-%m-%d %H" if b.per == "hour" else "%Y-%m-%d"
    per: Counter[tuple[str, str]] = Counter()
    edited = deleted = 0
    regions: Counter[str] = Counter()
    for p in posts:
        if not b.since <= p.post.date < b.until:
            continue
        if index is not None and not index.match(p.post.text, p.post.channel_username):
            continue
        per[(p.post.date.astimezone(b.tz).strftime(shape), p.channel_title)] += 1
        edited += p.edits > 0
        deleted += p.deleted_at is not None
        regions.update(set(p.regions))
    return per, edited, deleted, regions


async def _edit_and_delete(filled: Filled) -> None:
    for post in filled.posts[::17]:
        assert await filled.ingest.apply_edit(
            replace(post, text=post.text + " Обновлено: над Белгородом сбит беспилотник."))
    for post in filled.posts[5::23]:
        await filled.ingest.apply_deletions(post.channel_id, [post.message_id])


QUERIES = [None, "Украина", "Путин OR Трамп", "Белгород", 'region:"Белгородская область"',
           "channel:@rian_ru",
           '"сбит беспилотник"', "Моск*", "ВСУ -Курск", "NEAR/10(Путин Украина)"]
WINDOWS = [
    (utc(2024, 11, 26), utc(2024, 11, 29, 12), KYIV),  # days, Kyiv midnight at 22:00 UTC
    (utc(2024, 11, 26), utc(2024, 11, 29, 12), ST_JOHNS),  # days, -03:30
    (utc(2024, 11, 27, 10, 17), utc(2024, 11, 28, 9, 41), KOLKATA),  # hours on :30 UTC
    (utc(2024, 11, 27, 3), utc(2024, 11, 28, 13), KYIV),  # hours
]


async def test_counts_agree_with_the_matcher_post_by_post(filled: Filled,
                                                          places: PlaceMatcher) -> None:
    await _edit_and_delete(filled)
    service = ArchiveStats(filled.store, filled.search)
    paths = set()
    for query in QUERIES:
        for since, until, tz in WINDOWS:
            b = window_buckets(since, until, tz)
            compiled = filled.search.compile(query, b.since, b.until) if query else None
            paths.add(compiled is None or compiled.fts.exact)
            stats = await service.compute(compiled, b)
            per, edited, deleted, regions = await _brute(filled, places, query, b)
            where = f"{query!r} in {tz.key} {b.per}s"
            assert _keyed(stats) == per, where
            assert stats.total == sum(per.values()) and stats.total > 0, where
            assert (stats.edited, stats.deleted) == (edited, deleted), where
            assert dict(stats.regions) == dict(regions), where
            titles: Counter[str] = Counter()
            for (_, title), n in per.items():
                titles[title] += n
            assert dict(stats.channels) == dict(titles), where
            assert [n for _, n in stats.channels] == sorted(titles.values(), reverse=True)
    assert paths == {True, False}  # both the SQL grouping and the streamed count were used


async def test_edits_and_deletions_are_counted(filled: Filled) -> None:
    await _edit_and_delete(filled)
    b = window_buckets(utc(2024, 11, 26), utc(2024, 11, 30), UTC)
    stats = await ArchiveStats(filled.store, filled.search).compute(None, b)
    assert stats.total == len(filled.posts)
    assert stats.edited == len(filled.posts[::17])
    assert stats.deleted == len(filled.posts[5::23])


async def _one_channel(store: Store, clock: FakeClock, filled_rules: RulesService,
                       dates: list[dt.datetime]) -> IngestService:
    ingest = IngestService(store, filled_rules, UTC, clock, AdminNotifier(store, frozenset()))
    await store.channels.add(77, "local_news", "Local news", None, 1)
    for i, date in enumerate(dates, start=1):
        await ingest.ingest(Post(77, i, date, f"Новости Белгорода, выпуск {i}",
                                 f"https://t.me/local_news/{i}", channel_username="local_news"))
    return ingest


@pytest.mark.parametrize("query", [None, "Белгород", '"новости Белгорода"'])
async def test_days_start_at_local_midnight_not_utc(store: Store, clock: FakeClock,
                                                    lemmatizer: object, places: PlaceMatcher,
                                                    query: str | None) -> None:
    from bot.archive.search import ArchiveSearch

    rules = RulesService(store, lemmatizer, places=places)  # type: ignore[arg-type]
    await _one_channel(store, clock, rules, [
        utc(2026, 10, 24, 21, 30),  # 00:30 EEST on the 25th (UTC: still the 24th)
        utc(2026, 10, 25, 21, 30),  # 23:30 EET on the 25th: the day clocks went back
        utc(2026, 10, 25, 22, 30),  # 00:30 EET on the 26th
    ])
    search = ArchiveSearch(store, rules.lemmatizer, places)
    b = period_buckets("7d", utc(2026, 10, 26, 12), KYIV)
    compiled = search.compile(query, b.since, b.until) if query else None
    stats = await ArchiveStats(store, search).compute(compiled, b)
    days = {s.date().isoformat(): n for s, n in zip(b.local(), stats.series[0][1], strict=True)}
    assert days["2026-10-24"] == 0 and days["2026-10-25"] == 2 and days["2026-10-26"] == 1
    assert stats.series[0][0] == "Local news"


async def test_half_hour_zones_split_a_utc_hour(store: Store, clock: FakeClock,
                                                lemmatizer: object, places: PlaceMatcher,
                                                ) -> None:
    from bot.archive.search import ArchiveSearch

    rules = RulesService(store, lemmatizer, places=places)  # type: ignore[arg-type]
    # 23:45 and 00:15 IST: one UTC hour, two local days
    await _one_channel(store, clock, rules, [utc(2026, 11, 20, 18, 15), utc(2026, 11, 20, 18, 45)])
    search = ArchiveSearch(store, rules.lemmatizer, places)
    b = window_buckets(utc(2026, 11, 17), utc(2026, 11, 22), KOLKATA)
    stats = await ArchiveStats(store, search).compute(search.compile("Белгород"), b)
    days = {s.date().isoformat(): n for s, n in zip(b.local(), stats.series[0][1], strict=True)}
    assert (days["2026-11-20"], days["2026-11-21"]) == (1, 1)


async def test_top_channels_and_the_rest_as_other(store: Store, clock: FakeClock,
                                                  lemmatizer: object, places: PlaceMatcher,
                                                  ) -> None:
    from bot.archive.search import ArchiveSearch

    rules = RulesService(store, lemmatizer, places=places)  # type: ignore[arg-type]
    ingest = IngestService(store, rules, UTC, clock, AdminNotifier(store, frozenset()))
    for c in range(1, 9):  # channel c posts c times
        await store.channels.add(c, f"ch{c}", f"Channel {c}", None, 1)
        for m in range(1, c + 1):
            await ingest.ingest(Post(c, m, utc(2026, 11, 24, c, m), "Курск и Белгород",
                                     f"https://t.me/ch{c}/{m}", channel_username=f"ch{c}"))
    search = ArchiveSearch(store, rules.lemmatizer, places)
    b = period_buckets("7d", clock.now(), UTC)
    stats = await ArchiveStats(store, search).compute(search.compile("Курск"), b)
    assert [t for t, _ in stats.series] == [f"Channel {c}" for c in (8, 7, 6, 5, 4)] + [OTHER]
    assert sum(stats.series[-1][1]) == 1 + 2 + 3 and stats.total == 36
    lines = summary(stats, "Курск", "7d", region_namer(places))
    assert lines[0] == "📊 Курск · last 7 days (UTC)"
    assert lines[1] == "36 posts · ✏️ edited 0 (0%) · 🗑 deleted 0 (0%)"
    assert lines[2] == ("Top channels: Channel 8 8, Channel 7 7, Channel 6 6, Channel 5 5,"
                        " Channel 4 4 (+3 more)")
    assert lines[3].startswith("Top regions: ") and "Belgorod" in lines[3] and "Kursk" in lines[3]
    assert "36" in lines[3]


async def test_bad_queries_are_refused(filled: Filled) -> None:
    with pytest.raises(RuleSyntaxError):
        filled.search.compile("(Белгород")
    with pytest.raises(ValueError, match="Нигдештадт"):
        filled.search.compile('region:"Нигдештадт"')


async def test_an_empty_period_counts_nothing(filled: Filled) -> None:
    b = period_buckets("24h", utc(2026, 1, 1), KYIV)
    stats = await ArchiveStats(filled.store, filled.search).compute(None, b)
    assert stats.total == 0 and stats.series == () and stats.channels == ()


# ------------------------------------------------------------------ the chart
@pytest.mark.parametrize("period", ["24h", "7d", "90d"])
def test_the_chart_is_an_800_by_360_png(period: str) -> None:
    b = period_buckets(period, utc(2026, 11, 25, 12, 30), KYIV)
    n = len(b.starts)
    series = [("РИА Новости 🚀 $5 and a very long title", [i % 4 for i in range(n)]),
              ("bbbreaking", [1] * n), (OTHER, [2] * n)]
    png = render_stacked_chart(b.starts, series, title="📊 Белгород · last 7 days",
                               per=b.per, tz=KYIV)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (800, 360)
    image.load()  # decodes the whole image


def test_the_chart_wants_a_count_per_bucket() -> None:
    b = period_buckets("7d", utc(2026, 11, 25), KYIV)
    with pytest.raises(ValueError, match="one count per bucket"):
        render_stacked_chart(b.starts, [("a", [1, 2])], title="x", per=b.per, tz=KYIV)

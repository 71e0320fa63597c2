from __future__ import annotations

import datetime as dt
import itertools
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

import pytest

from bot.chart import _tick_labels, _tick_positions, bucket_counts, render_activity_chart

KYIV = ZoneInfo("Europe/Kyiv")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(PNG_SIGNATURE)
    length, kind = struct.unpack(">I4s", png[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_hourly_buckets_are_local_hours_with_empty_ones() -> None:
    start, end = utc(2026, 11, 25, 10, 20), utc(2026, 11, 25, 15, 0)  # 12:20-17:00 EET
    times = [
        utc(2026, 11, 25, 10, 19),  # before start: ignored
        utc(2026, 11, 25, 10, 20),
        utc(2026, 11, 25, 10, 59),
        utc(2026, 11, 25, 13, 0),
        utc(2026, 11, 25, 14, 59, 59),
        utc(2026, 11, 25, 15, 0),  # at end: ignored
    ]
    buckets, per = bucket_counts(times, start, end, KYIV)
    assert per == "hour"
    assert [(b.strftime("%H:%M %Z"), n) for b, n in buckets] == [
        ("12:00 EET", 2), ("13:00 EET", 0), ("14:00 EET", 0), ("15:00 EET", 1), ("16:00 EET", 1)]
    assert all(b.tzinfo is KYIV for b, _ in buckets)


def test_hourly_buckets_follow_local_hours_in_half_hour_zones() -> None:
    india = ZoneInfo("Asia/Kolkata")  # UTC+05:30
    buckets, _ = bucket_counts([utc(2026, 3, 1, 0, 45)], utc(2026, 3, 1, 0, 0),
                               utc(2026, 3, 1, 2, 0), india)
    assert [(b.strftime("%H:%M"), n) for b, n in buckets] == [
        ("05:00", 0), ("06:00", 1), ("07:00", 0)]
    assert buckets[0][0] == utc(2026, 2, 28, 23, 30)


def test_hourly_buckets_over_the_night_clocks_go_back() -> None:
    start = utc(2026, 10, 24, 21)  # 00:00 EEST on 25 October; at 04:00 EEST clocks go to 03:00
    end = start + dt.timedelta(hours=25)  # 00:00 EET on 26 October
    times = [utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 1, 45)]
    buckets, per = bucket_counts(times, start, end, KYIV)
    assert per == "hour"
    assert len(buckets) == 25
    assert [b.hour for b, _ in buckets] == [0, 1, 2, 3, *range(3, 24)]
    assert [b.strftime("%Z") for b, _ in buckets[3:5]] == ["EEST", "EET"]
    # Both 03:00-04:00 hours exist and keep their own matches.
    assert [n for _, n in buckets[3:5]] == [1, 2]
    # Same-zone datetime subtraction is wall-clock time in Python: compare in UTC.
    instants = [b.astimezone(dt.UTC) for b, _ in buckets]
    assert all(b - a == dt.timedelta(hours=1) for a, b in itertools.pairwise(instants))


def test_daily_buckets_are_local_days_over_a_dst_change() -> None:
    start, end = utc(2026, 10, 23, 10), utc(2026, 10, 27, 10)  # 96 h: daily
    times = [
        utc(2026, 10, 23, 9),  # before start
        utc(2026, 10, 23, 20, 59),  # 23:59 EEST on the 23rd
        utc(2026, 10, 24, 21, 30),  # 00:30 EEST on the 25th
        utc(2026, 10, 25, 21, 30),  # 23:30 EET on the 25th (a 25-hour day)
        utc(2026, 10, 25, 22, 30),  # 00:30 EET on the 26th
        utc(2026, 10, 27, 9, 59),  # 11:59 EET on the 27th
    ]
    buckets, per = bucket_counts(times, start, end, KYIV)
    assert per == "day"
    assert [(b.strftime("%d %H:%M %Z"), n) for b, n in buckets] == [
        ("23 00:00 EEST", 1), ("24 00:00 EEST", 0), ("25 00:00 EEST", 2),
        ("26 00:00 EET", 1), ("27 00:00 EET", 1)]
    day_25, day_26 = (b.astimezone(dt.UTC) for b, _ in buckets[2:4])
    assert day_26 - day_25 == dt.timedelta(hours=25)
    assert sum(n for _, n in buckets) == len(times) - 1


def test_hourly_up_to_48_hours_daily_beyond() -> None:
    start = utc(2026, 11, 1, 22)  # local midnight
    buckets, per = bucket_counts([], start, start + dt.timedelta(hours=48), KYIV)
    assert (per, len(buckets)) == ("hour", 48)
    assert all(n == 0 for _, n in buckets)
    buckets, per = bucket_counts([], start, start + dt.timedelta(hours=48, minutes=1), KYIV)
    assert (per, len(buckets)) == ("day", 3)
    assert [b.day for b, _ in buckets] == [2, 3, 4]


def test_bad_ranges_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        bucket_counts([], dt.datetime(2026, 1, 1), utc(2026, 1, 2), KYIV)  # noqa: DTZ001
    with pytest.raises(ValueError, match="after"):
        bucket_counts([], utc(2026, 1, 2), utc(2026, 1, 2), KYIV)


def test_tick_labels_are_local_and_skip_the_repeated_hour() -> None:
    start = utc(2026, 10, 24, 21)
    buckets, _ = bucket_counts([], start, start + dt.timedelta(hours=25), KYIV)
    local = [b for b, _ in buckets]
    positions = _tick_positions(local, "hour")
    assert positions == [0, 3, 7, 10, 13, 16, 19, 22]
    assert _tick_labels(local, positions, "hour")[:3] == ["00:00\n25.10", "03:00", "06:00"]


def test_render_returns_a_small_png() -> None:
    buckets, per = bucket_counts([utc(2026, 11, 25, h, 5) for h in (1, 1, 3, 7, 7, 7, 20)],
                                 utc(2026, 11, 24, 22), utc(2026, 11, 25, 22), KYIV)
    png = render_activity_chart(buckets, title="Белгород, Курськ: активність за добу",
                                per=per, tz=KYIV)
    assert png is not None
    width, height = png_size(png)
    assert 700 <= width <= 900 and 250 <= height <= 350
    assert 2_000 < len(png) < 100_000


def test_render_daily_chart_over_months() -> None:
    start = utc(2026, 8, 1)
    times = [start + dt.timedelta(hours=7 * i) for i in range(300)]
    buckets, per = bucket_counts(times, start, start + dt.timedelta(days=90), KYIV)
    assert per == "day" and len(buckets) == 91  # starts at 03:00 EEST, ends at 02:00 EET
    png = render_activity_chart(buckets, title="Канал «Новини»", per=per, tz=KYIV)
    assert png is not None and png_size(png) == (800, 300)


def test_render_drops_glyphs_the_font_lacks_and_shows_dollars_literally() -> None:
    buckets = [(utc(2026, 11, 25, 10), 2), (utc(2026, 11, 25, 11), 1)]
    png = render_activity_chart(buckets, title="🔔 Ціни $5 і $10 𝐀", per="hour", tz=KYIV)
    assert png is not None and png.startswith(PNG_SIGNATURE)


def test_render_returns_none_when_there_is_too_little_data() -> None:
    t = utc(2026, 11, 25, 10)
    hour = dt.timedelta(hours=1)
    assert render_activity_chart([], title="x", per="hour", tz=KYIV) is None
    assert render_activity_chart([(t, 0)] * 5, title="x", per="hour", tz=KYIV) is None
    assert render_activity_chart([(t, 9), (t + hour, 0)], title="x", per="hour",
                                 tz=KYIV) is None  # one non-empty bucket
    assert render_activity_chart([(t, 1), (t + hour, 1)], title="x", per="hour",
                                 tz=KYIV) is None  # two matches
    assert render_activity_chart([(t, 1), (t + hour, 2)], title="x", per="hour",
                                 tz=KYIV) is not None


def test_render_is_deterministic_across_threads() -> None:
    start = utc(2026, 11, 20)
    buckets, per = bucket_counts([start + dt.timedelta(hours=5 * i) for i in range(30)],
                                 start, start + dt.timedelta(days=7), KYIV)

    def render(_: int) -> bytes | None:
        return render_activity_chart(buckets, title="Тиждень", per=per, tz=KYIV)

    expected = render(0)
    assert expected is not None
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(render, range(8))) == [expected] * 8


def test_rendering_does_not_load_pyplot() -> None:
    code = (
        "import sys, datetime as dt\n"
        "from zoneinfo import ZoneInfo\n"
        "from bot.chart import render_activity_chart\n"
        "t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)\n"
        "png = render_activity_chart([(t, 1), (t + dt.timedelta(hours=1), 2)], title='x',\n"
        "                            per='hour', tz=ZoneInfo('UTC'))\n"
        "assert png is not None\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr

"""Activity charts: matches per hour or per day as a small PNG bar chart.

Matplotlib is used through its object API only (``Figure`` + ``FigureCanvasAgg``): no pyplot,
no backend switch, no rcParams changes, so rendering is free of global state and can run in
worker threads. Times are bucketed and labelled in the chat's time zone.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Sequence
from typing import Literal
from zoneinfo import ZoneInfo

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont, get_font
from matplotlib.ticker import MaxNLocator

Per = Literal["hour", "day"]

HOURLY_MAX_SPAN = dt.timedelta(hours=48)
"""Ranges up to this long get hourly buckets; longer ones get daily buckets."""

_HOUR = dt.timedelta(hours=1)
_SIZE_INCHES = (8.0, 3.0)
_DPI = 100
_BAR_COLOUR = "#3a7bbf"
_MAX_TICKS = 12


def _require_aware(**values: dt.datetime) -> None:
    for name, value in values.items():
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be a time-zone-aware datetime")


def bucket_counts(times: Sequence[dt.datetime], start: dt.datetime, end: dt.datetime,
                  tz: ZoneInfo) -> tuple[list[tuple[dt.datetime, int]], Per]:
    """Count ``times`` in hourly buckets if ``end - start`` ≤ 48 h, else in daily buckets.

    Buckets are aligned to local hour or day boundaries in ``tz`` and cover [start, end)
    without gaps: the first bucket contains ``start``, the last one contains the instant
    just before ``end``, and empty buckets are included with a count of 0. Each bucket is
    keyed by its start as an aware datetime in ``tz`` (a local midnight for days; on the
    night clocks go back, two hourly buckets share the same wall-clock hour and a day has
    25 hours). Times outside [start, end) are ignored. All datetimes must be aware.
    """
    _require_aware(start=start, end=end)
    if end <= start:
        raise ValueError("end must be after start")
    if end - start <= HOURLY_MAX_SPAN:
        first = start.astimezone(tz).replace(minute=0, second=0, microsecond=0)
        first_utc = first.astimezone(dt.UTC)
        count = math.ceil((end - first_utc) / _HOUR)
        hours = [0] * count
        for moment in times:
            _require_aware(time=moment)
            if start <= moment < end:
                hours[(moment - first_utc) // _HOUR] += 1
        return [((first_utc + i * _HOUR).astimezone(tz), n) for i, n in enumerate(hours)], "hour"

    first_day = start.astimezone(tz).date()
    last_day = (end - dt.timedelta(microseconds=1)).astimezone(tz).date()
    days = [0] * ((last_day - first_day).days + 1)
    for moment in times:
        _require_aware(time=moment)
        if start <= moment < end:
            days[(moment.astimezone(tz).date() - first_day).days] += 1
    return [
        (dt.datetime.combine(first_day + dt.timedelta(days=i), dt.time(), tzinfo=tz), n)
        for i, n in enumerate(days)
    ], "day"


def _drawable(text: str) -> str:
    """``text`` without characters the default font cannot draw (emoji in chat titles)."""
    font = get_font(findfont(FontProperties()))
    charmap = font.get_charmap()
    kept = "".join(ch for ch in text if ch.isspace() or ord(ch) in charmap)
    return " ".join(kept.split())


def _tick_positions(local: list[dt.datetime], per: Per) -> list[int]:
    """Indices of the buckets to label: at most about ``_MAX_TICKS``, on round hours/days."""
    n = len(local)
    steps = (1, 2, 3, 4, 6, 12, 24) if per == "hour" else (1, 2, 3, 7, 14, 28)
    step = next((s for s in steps if n / s <= _MAX_TICKS), None)
    if step is None:
        step = math.ceil(n / _MAX_TICKS)
    if per == "day" or step > 24:
        return list(range(0, n, step))
    positions: list[int] = []
    for i, moment in enumerate(local):
        # The repeated hour when clocks go back would crowd its twin: label only the first.
        if moment.hour % step == 0 and (not positions or i - positions[-1] >= step):
            positions.append(i)
    return positions


def _tick_labels(local: list[dt.datetime], positions: list[int], per: Per) -> list[str]:
    if per == "day":
        return [local[i].strftime("%d.%m") for i in positions]
    labels: list[str] = []
    previous_date: dt.date | None = None
    for i in positions:
        label = local[i].strftime("%H:%M")
        if local[i].date() != previous_date:
            label += local[i].strftime("\n%d.%m")
            previous_date = local[i].date()
        labels.append(label)
    return labels


def render_activity_chart(buckets: Sequence[tuple[dt.datetime, int]], *, title: str, per: Per,
                          tz: ZoneInfo) -> bytes | None:
    """A PNG bar chart (800×300 px) of matches per hour or per day, labelled in ``tz``.

    ``buckets`` are (bucket start, count) pairs as :func:`bucket_counts` returns them.
    Returns None when a chart would say nothing: fewer than 2 non-empty buckets or fewer
    than 3 matches in total. Characters of ``title`` the font lacks (emoji) are left out,
    and ``$`` is shown literally (no mathtext).
    """
    counts = [count for _, count in buckets]
    if sum(1 for count in counts if count > 0) < 2 or sum(counts) < 3:
        return None
    local = [moment.astimezone(tz) for moment, _ in buckets]

    figure = Figure(figsize=_SIZE_INCHES, dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)  # attaches itself as figure.canvas: Agg, whatever the backend
    axes = figure.add_subplot()
    axes.bar(range(len(counts)), counts, width=0.8, color=_BAR_COLOUR)
    _style(axes, local, per, tz, title=title, ylabel=f"matches per {per}")
    return _png(figure)


def _style(axes: Axes, local: list[dt.datetime], per: Per, tz: ZoneInfo, *, title: str,
           ylabel: str) -> None:
    """The look every chart shares: local time ticks, integer counts, a light grid."""
    positions = _tick_positions(local, per)
    axes.set_xticks(positions, _tick_labels(local, positions, per), fontsize=8)
    axes.set_xlim(-0.6, len(local) - 0.4)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(axis="y", labelsize=8)
    axes.set_ylabel(ylabel, fontsize=9)
    axes.set_xlabel(tz.key, fontsize=8, color="#555555")
    axes.set_title(_drawable(title), fontsize=11, parse_math=False)
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


_STATS_SIZE_INCHES = (8.0, 3.6)
# the digest's blue first, then colours told apart in print and by most colour-blind readers
_SERIES_COLOURS = ("#3a7bbf", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00")
_OTHER_COLOUR = "#b0b0b0"
_LEGEND_CHARS = 28


def render_stacked_chart(starts: Sequence[dt.datetime],
                         series: Sequence[tuple[str, Sequence[int]]], *, title: str, per: Per,
                         tz: ZoneInfo, other: str = "other") -> bytes:
    """A PNG stacked bar chart (800×360 px) of posts per hour or day, one colour per series.

    ``starts`` are the buckets' starts (any zone; labelled in ``tz``); ``series`` are
    (legend label, count per bucket) pairs drawn bottom-up in that order, the one labelled
    ``other`` in grey. Styled as :func:`render_activity_chart`, with a legend on the right.
    """
    if any(len(counts) != len(starts) for _, counts in series):
        raise ValueError("every series needs one count per bucket")
    local = [moment.astimezone(tz) for moment in starts]
    figure = Figure(figsize=_STATS_SIZE_INCHES, dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    bottom = [0] * len(starts)
    colours = iter(_SERIES_COLOURS)
    for label, counts in series:
        colour = _OTHER_COLOUR if label == other else next(colours, _OTHER_COLOUR)
        shown = _drawable(label) or "?"
        if len(shown) > _LEGEND_CHARS:
            shown = shown[:_LEGEND_CHARS - 1] + "…"
        axes.bar(range(len(starts)), counts, width=0.8, bottom=bottom, color=colour,
                 label=shown.replace("$", r"\$"))
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    _style(axes, local, per, tz, title=title, ylabel=f"posts per {per}")
    if series:
        handles, labels = axes.get_legend_handles_labels()
        # top of the stack first, as the bars read
        figure.legend(handles[::-1], labels[::-1], loc="outside right upper", fontsize=8,
                      frameon=False)
    return _png(figure)

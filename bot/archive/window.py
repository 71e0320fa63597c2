"""Time windows people type: ``since 7d``, ``since 2026-11-01``, ``until 2026-11-05 18:00``.

A duration counts back from now; a date is midnight in the chat's time zone (``until`` a date
includes that whole day); a date and time is that minute in the chat's time zone.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

_DURATION_RE = re.compile(r"^(\d{1,4})\s*(m|min|h|d|w|mo|y)$", re.IGNORECASE)
_UNITS = {"m": dt.timedelta(minutes=1), "min": dt.timedelta(minutes=1),
          "h": dt.timedelta(hours=1), "d": dt.timedelta(days=1), "w": dt.timedelta(weeks=1),
          "mo": dt.timedelta(days=30), "y": dt.timedelta(days=365)}
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2}):(\d{2}))?$")
# "since X" / "until X" at the end of a command's arguments (X: one word, or date + time)
_TAIL_RE = re.compile(
    r"(?:^|\s)(since|until|from|to)\s+(\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2})?|\S+)\s*$",
    re.IGNORECASE)


class WindowError(ValueError):
    """A time the command cannot read."""


def parse_duration(text: str) -> dt.timedelta | None:
    """``7d`` → 7 days; None if the text is no duration."""
    m = _DURATION_RE.match(text.strip())
    if not m:
        return None
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def parse_when(text: str, now: dt.datetime, tz: ZoneInfo, *, end: bool = False) -> dt.datetime:
    """A point in time (UTC) from a duration ago or a local date; ``end``: for ``until``."""
    duration = parse_duration(text)
    if duration is not None:
        return now - duration
    m = _DATE_RE.match(text.strip())
    if not m:
        raise WindowError(f"cannot read the time {text!r}: use 7d, 24h, 2026-11-01 or"
                          " 2026-11-01 18:00")
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    try:
        if m.group(4) is not None:
            local = dt.datetime(year, month, day, int(m.group(4)), int(m.group(5)), tzinfo=tz)
        else:
            local = dt.datetime(year, month, day, tzinfo=tz)
            if end:
                local += dt.timedelta(days=1)
    except ValueError as exc:
        raise WindowError(f"no such date: {text!r}") from exc
    return local.astimezone(dt.UTC)


def split_window(args: str, now: dt.datetime, tz: ZoneInfo,
                 ) -> tuple[str, dt.datetime | None, dt.datetime | None]:
    """Take ``since …`` and ``until …`` off the end of the arguments: (rest, since, until)."""
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    rest = args.strip()
    for _ in range(2):
        m = _TAIL_RE.search(rest)
        if not m:
            break
        word, value = m.group(1).lower(), m.group(2)
        if word in ("since", "from"):
            if since is not None:
                break
            since = parse_when(value, now, tz)
        else:
            if until is not None:
                break
            until = parse_when(value, now, tz, end=True)
        rest = rest[:m.start()].strip()
    if since is not None and until is not None and since >= until:
        raise WindowError("the start of the period lies after its end")
    return rest, since, until

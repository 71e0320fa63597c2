"""Times of day in a chat's time zone: quiet hours and digest schedules (pure functions)."""

from __future__ import annotations

import datetime as dt
import re
import shlex
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.models import Chat

_HHMM = re.compile(r"^([01]?\d|2[0-3])[:.h]([0-5]\d)$")


class ScheduleError(ValueError):
    """A time, range or schedule that cannot be understood; the message says why."""


def chat_zone(chat: Chat | None, default: ZoneInfo) -> ZoneInfo:
    """The chat's time zone (``/tz``), or the instance's ``TIMEZONE`` when it has none."""
    return zone(chat.tz if chat is not None else None, default)


def zone(tz: str | None, default: ZoneInfo) -> ZoneInfo:
    """A chat's ``/tz`` name (chats.tz, as the outbox reads it) as a zone; None: ``default``."""
    return ZoneInfo(tz) if tz else default


def parse_hhmm(text: str) -> int:
    """"07:30" → minutes after midnight."""
    m = _HHMM.match(text.strip())
    if not m:
        raise ScheduleError(f"“{text}” is not a time of day like 07:30")
    return int(m.group(1)) * 60 + int(m.group(2))


def format_hhmm(minutes: int) -> str:
    """Minutes after midnight → "07:30"."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_range(text: str) -> tuple[int, int]:
    """"23:00-07:00" → (1380, 420); the range may cross midnight."""
    parts = re.split(r"\s*[-–—]\s*", text.strip())
    if len(parts) != 2:
        raise ScheduleError("give the quiet hours as a range like 23:00-07:00")
    start, end = parse_hhmm(parts[0]), parse_hhmm(parts[1])
    if start == end:
        raise ScheduleError("the quiet hours must not start and end at the same time")
    return start, end


def quiet_until(now: dt.datetime, tz: ZoneInfo, start: int | None,
                end: int | None) -> dt.datetime | None:
    """If ``now`` falls in the quiet hours [start, end) (local time), when they end (UTC)."""
    if start is None or end is None:
        return None
    local = now.astimezone(tz)
    minute = local.hour * 60 + local.minute
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return None
    day = local.date() if minute < end else local.date() + dt.timedelta(days=1)
    naive = dt.datetime.combine(day, dt.time(end // 60, end % 60))
    return naive.replace(tzinfo=tz).astimezone(dt.UTC)


def digest_cron(args: str) -> str:
    """``08:00`` or ``cron "0 8,20 * * *"`` → a validated five-field crontab expression."""
    text = args.strip()
    if text.lower().startswith("cron"):
        try:
            words = shlex.split(text[4:])
        except ValueError as exc:
            raise ScheduleError(f"cannot read the cron expression: {exc}") from exc
        expr = " ".join(words)
        if len(expr.split()) != 5:
            raise ScheduleError('a cron schedule has five fields, e.g. cron "0 8,20 * * *"')
        try:
            CronTrigger.from_crontab(expr, timezone=dt.UTC)
        except ValueError as exc:
            raise ScheduleError(f"invalid cron expression: {exc}") from exc
        return expr
    times = [parse_hhmm(t) for t in re.split(r"[,\s]+", text) if t]
    if not times:
        raise ScheduleError("give a time like 08:00")
    minutes = sorted({t % 60 for t in times})
    if len(minutes) == 1:
        hours = ",".join(str(h) for h in sorted({t // 60 for t in times}))
        return f"{minutes[0]} {hours} * * *"
    if len(times) > 1:
        raise ScheduleError('times with different minutes need cron, e.g. cron "30 8 * * *"')
    return f"{times[0] % 60} {times[0] // 60} * * *"


def cron_trigger(expr: str, tz: ZoneInfo) -> CronTrigger:
    """The APScheduler trigger of a stored crontab expression in the chat's time zone."""
    return CronTrigger.from_crontab(expr, timezone=tz)


def describe_cron(expr: str) -> str:
    """A stored schedule as people say it: "daily at 08:00, 20:00" or the crontab itself."""
    fields = expr.split()
    if (len(fields) == 5 and fields[2:] == ["*", "*", "*"] and fields[0].isdigit()
            and all(h.isdigit() for h in fields[1].split(","))):
        minute = int(fields[0])
        return "daily at " + ", ".join(format_hhmm(int(h) * 60 + minute)
                                       for h in fields[1].split(","))
    return f"cron “{expr}”"


def last_fire_between(expr: str, tz: ZoneInfo, after: dt.datetime,
                      until: dt.datetime) -> dt.datetime | None:
    """The latest time the schedule fired in (after, until], if any (a missed digest)."""
    trigger = cron_trigger(expr, tz)
    fire = trigger.get_next_fire_time(None, after + dt.timedelta(seconds=1))
    last = None
    while fire is not None and fire <= until:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + dt.timedelta(seconds=1))
    return last.astimezone(dt.UTC) if last else None

"""One clock for the whole application: aware UTC time, injectable in tests."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Protocol


class Clock(Protocol):
    """Source of the current time."""

    def now(self) -> dt.datetime:
        """Return the current time as an aware UTC datetime."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait this long on this clock (a simulated clock just moves forward)."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> dt.datetime:
        """Return the current aware UTC time."""
        return dt.datetime.now(dt.UTC)

    async def sleep(self, seconds: float) -> None:
        """Wait in real time."""
        await asyncio.sleep(max(0.0, seconds))


def to_iso(value: dt.datetime) -> str:
    """Serialise an aware datetime as UTC ISO-8601 (the database's time format)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")


def from_iso(value: str) -> dt.datetime:
    """Parse a stored UTC ISO-8601 string back into an aware datetime."""
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)

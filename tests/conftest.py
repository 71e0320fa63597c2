"""Shared fixtures: a real SQLite file per test, one lemmatizer per session, a settable clock."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.match import Lemmatizer
from bot.store import Database, Store, apply_migrations
from tests.harness import env  # noqa: F401  (the end-to-end fixture)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.current = start or dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
        self.slept: list[float] = []

    def now(self) -> dt.datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += dt.timedelta(**delta)

    async def sleep(self, seconds: float) -> None:
        self.current += dt.timedelta(seconds=max(0.0, seconds))
        self.slept.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture(scope="session")
def lemmatizer() -> Lemmatizer:
    return Lemmatizer.shared()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest_asyncio.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "test.sqlite3")
    yield database
    await database.close()


@pytest_asyncio.fixture
async def store(db: Database, clock: FakeClock) -> Store:
    await apply_migrations(db, clock)
    return Store(db, clock)

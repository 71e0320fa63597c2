"""Shared fixtures: a real SQLite file per test, one lemmatizer per session, a settable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.match import Lemmatizer
from bot.store import Database, Store, apply_migrations
from tests.support.fakes import FakeClock
from tests.support.harness import env  # noqa: F401  (the end-to-end fixture)
from tests.support.watchdog import Watchdog


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """A test still running after 90 s prints its threads and pending tasks (then times out)."""
    reporter = item.config.pluginmanager.get_plugin("terminalreporter")
    write = reporter.write_line if reporter is not None else print
    with Watchdog(item.nodeid, write):
        yield


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

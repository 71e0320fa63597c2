"""Shared fixtures: a real SQLite file per test, one lemmatizer per session, a settable clock."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.match import Lemmatizer
from bot.store import Database, Store, apply_migrations
from tests.support.fakes import FakeClock
from tests.support.harness import env  # noqa: F401  (the end-to-end fixture)
from tests.support.log_audit import MemoryAudit, audit_files
from tests.support.watchdog import Watchdog

_AUDIT = MemoryAudit()
_AUDIT_DIR = Path(tempfile.mkdtemp(prefix="chanwatch-log-audit-"))


def pytest_configure(config: pytest.Config) -> None:
    """Every log line of the run is audited for secrets (tests/support/log_audit.py): this
    process's directly, and every Python process a test starts through sitecustomize."""
    _AUDIT.install()
    for name in ("telethon", "httpx", "httpcore", "apscheduler"):  # as the service sets them
        logging.getLogger(name).setLevel(logging.WARNING)
    root = Path(__file__).resolve().parent.parent
    os.environ["CHANWATCH_LOG_AUDIT"] = str(_AUDIT_DIR)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(root / "tests" / "support" / "logaudit"), str(root),
                    os.environ.get("PYTHONPATH", "")) if p)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any log line held a secret; say how much was audited."""
    processes, lines, found = audit_files(_AUDIT_DIR)
    found = _AUDIT.found + found
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    write = reporter.write_line if reporter is not None else print
    write(f"log audit: {_AUDIT.lines + lines} log lines from this process and {processes}"
          f" child processes; {len(found)} holding a secret")
    for line in found[:20]:
        write(f"  SECRET IN LOG: {line[:300]}")
    if found:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    shutil.rmtree(_AUDIT_DIR, ignore_errors=True)


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

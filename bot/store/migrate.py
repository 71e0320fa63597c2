"""Numbered, append-only SQL migrations applied in one transaction each."""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from bot.clock import Clock, to_iso
from bot.store.db import Database

log = logging.getLogger(__name__)
_NAME_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """A migration file is malformed or failed to apply; start-up must stop."""


@dataclass(frozen=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    path: Path

    def statements(self) -> list[str]:
        """Split the file into complete SQL statements (triggers included)."""
        out: list[str] = []
        buf = ""
        for line in self.path.read_text(encoding="utf-8").splitlines(keepends=True):
            buf += line
            if sqlite3.complete_statement(buf):
                if buf.strip():
                    out.append(buf.strip())
                buf = ""
        if buf.strip() and not all(
            ln.strip().startswith("--") or not ln.strip() for ln in buf.splitlines()
        ):
            raise MigrationError(f"{self.path.name}: unterminated statement at the end of the file")
        return out


def migrations_dir() -> Path:
    """Find the migrations: inside the installed wheel, else the source checkout's top level."""
    packaged = Path(__file__).resolve().parent.parent / "migrations"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent.parent / "migrations"
    if checkout.is_dir():
        return checkout
    raise MigrationError("no migrations directory found (broken installation)")


def discover(directory: Path) -> list[Migration]:
    """List the migrations in ``directory`` in version order, rejecting duplicates."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME_RE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files must be named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is used twice")
        found[version] = Migration(version, match.group(2), path)
    return [found[v] for v in sorted(found)]


async def apply_migrations(db: Database, clock: Clock, directory: Path | None = None) -> list[int]:
    """Apply every migration not yet recorded; return the versions applied now."""
    await db.transaction(_create_bookkeeping)
    done = {row["version"] for row in await db.fetchall("SELECT version FROM schema_migrations")}
    applied: list[int] = []
    for migration in discover(directory or migrations_dir()):
        if migration.version in done:
            continue
        statements = migration.statements()

        async def work(
            conn: aiosqlite.Connection, m: Migration = migration, sql: list[str] = statements
        ) -> None:
            for statement in sql:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (m.version, m.name, to_iso(clock.now())),
            )

        try:
            await db.transaction(work)
        except sqlite3.Error as exc:
            raise MigrationError(f"{migration.path.name} failed: {exc}") from exc
        log.info("applied migration %04d_%s", migration.version, migration.name)
        applied.append(migration.version)
    return applied


async def _create_bookkeeping(conn: aiosqlite.Connection) -> None:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )

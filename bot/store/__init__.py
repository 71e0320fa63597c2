"""Persistence: one SQLite database behind a narrow interface."""

from bot.store.db import Database, StoreBusy
from bot.store.migrate import MigrationError, apply_migrations
from bot.store.repo import RuleHitRecord, SaveResult, Store

__all__ = [
    "Database",
    "MigrationError",
    "RuleHitRecord",
    "SaveResult",
    "Store",
    "StoreBusy",
    "apply_migrations",
]

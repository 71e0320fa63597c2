"""Persistence: one SQLite database behind a narrow interface."""

from bot.store.db import Database, StoreBusy
from bot.store.migrate import MigrationError, apply_migrations
from bot.store.repo import (
    DeletedPost,
    EditResult,
    HeldAlert,
    RuleHitRecord,
    SaveResult,
    Store,
    alert_key,
)

__all__ = [
    "Database",
    "DeletedPost",
    "EditResult",
    "HeldAlert",
    "MigrationError",
    "RuleHitRecord",
    "SaveResult",
    "Store",
    "StoreBusy",
    "alert_key",
    "apply_migrations",
]

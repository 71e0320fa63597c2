"""Persistence: one SQLite database behind one repository per aggregate."""

from bot.store.db import Database, StoreBusy, StoreFull
from bot.store.facade import Store
from bot.store.migrate import MigrationError, apply_migrations
from bot.store.records import (
    AlertDraft,
    DeletedPost,
    EditResult,
    HeldAlert,
    RuleHitRecord,
    SaveResult,
    alert_key,
)

__all__ = [
    "AlertDraft",
    "Database",
    "DeletedPost",
    "EditResult",
    "HeldAlert",
    "MigrationError",
    "RuleHitRecord",
    "SaveResult",
    "Store",
    "StoreBusy",
    "StoreFull",
    "alert_key",
    "apply_migrations",
]

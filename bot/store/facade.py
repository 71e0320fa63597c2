"""The store: one repository per aggregate over one database connection."""

from __future__ import annotations

import datetime as dt

from bot.clock import Clock
from bot.store.archive import ArchiveRepository
from bot.store.channels import ChannelRepository
from bot.store.chats import ChatRepository
from bot.store.db import Database
from bot.store.engagement import EngagementRepository
from bot.store.export import ExportRepository
from bot.store.media import MediaRepository
from bot.store.outbox import OutboxRepository
from bot.store.posts import PostRepository
from bot.store.records import DEFAULT_DEDUP_WINDOW
from bot.store.retention import RetentionRepository
from bot.store.rules import RuleRepository
from bot.store.translations import TranslationRepository
from bot.store.users import UserRepository
from bot.store.webhooks import WebhookRepository


class Store:
    """Holds the repositories (``store.posts.save(...)``); the connection stays inside.

    The repositories are the interface a second backend implements: they take and return
    the dataclasses of ``bot/models.py`` and ``bot/store/records.py``, never rows or SQL.
    """

    def __init__(self, db: Database, clock: Clock,
                 dedup_window: dt.timedelta = DEFAULT_DEDUP_WINDOW) -> None:
        self.channels = ChannelRepository(db, clock)
        self.posts = PostRepository(db, clock, dedup_window)
        self.rules = RuleRepository(db, clock)
        self.chats = ChatRepository(db, clock)
        self.users = UserRepository(db, clock)
        self.outbox = OutboxRepository(db, clock)
        self.webhooks = WebhookRepository(db, clock)
        self.translations = TranslationRepository(db, clock)
        self.archive = ArchiveRepository(db, clock)
        self.engagement = EngagementRepository(db, clock)
        self.export = ExportRepository(db, clock)
        self.media = MediaRepository(db, clock, dedup_window)
        self.retention = RetentionRepository(db, clock)

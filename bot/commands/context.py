"""What every handler gets: the command's context, the services, and the reply types."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.archive.indexer import ArchiveIndexer
from bot.archive.search import ArchiveSearch
from bot.clock import Clock, SystemClock
from bot.media.lookup import SimilarImages
from bot.models import ChatKind, Role
from bot.services.access import AccessService
from bot.services.chat_settings import ChatSettingsService
from bot.services.digest import DigestService
from bot.services.rules import RulesService
from bot.services.watch import WatchService
from bot.services.webhooks import WebhookService
from bot.store import Store


@dataclass(frozen=True)
class CommandContext:
    """Who sent a command, where, and with which arguments (identity from the event only)."""

    sender_id: int
    chat_id: int
    chat_kind: ChatKind
    chat_title: str | None
    args: str
    role: Role
    reply_to: int | None = None  # the message the command replies to (e.g. /similar)


class PreviewWatcher(Protocol):
    """Follows a public channel through its web preview (bot/preview/)."""

    async def watch(self, username: str, added_by: int,
                    since: dt.date | None = None) -> tuple[str, bool]:
        """Start following (and backfill); return (title, newly watched) or raise WatchError."""
        ...


@dataclass(frozen=True)
class Services:
    """What command handlers may use.

    ``store`` is here only to build ``chats`` and ``webhooks``: handlers never call it.
    """

    store: Store
    access: AccessService
    watch: WatchService
    rules: RulesService
    default_tz: ZoneInfo
    backfill_posts: int = 200
    digests: DigestService | None = None
    clock: Clock = field(default_factory=SystemClock)
    webhook_allow_private: bool = False
    translator_name: str | None = None  # the configured provider, if any
    preview: PreviewWatcher | None = None
    archive: ArchiveSearch | None = None  # /search, /stats, /export, /top
    indexer: ArchiveIndexer | None = None  # whether the search index is still being built
    similar: SimilarImages | None = None  # /similar (bot/media/lookup.py)
    media_kept: bool = True  # MEDIA=on: photos are downloaded, so /media on can show them
    health: Callable[[], Awaitable[list[str]]] | None = None  # /health (bot/services/health.py)
    chats: ChatSettingsService = field(init=False, repr=False, compare=False)
    webhooks: WebhookService = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Built from the fields above, so the composition root's call stays as it was.
        object.__setattr__(self, "chats", ChatSettingsService(
            self.store, self.default_tz, self.rules, self.digests))
        object.__setattr__(self, "webhooks", WebhookService(
            self.store, self.clock, allow_private=self.webhook_allow_private))


@dataclass(frozen=True)
class Reply:
    """A reply with inline buttons under it: (label, callback data) pairs, one per row.

    ``file`` is sent with it: as a photo (``photo``) or as a document named ``file_name``;
    the HTML is its caption when short enough, else a message before it. From a button
    handler, ``new_message`` sends the reply as a new message (paging) instead of editing the
    message whose button was pressed; that message loses its buttons.
    """

    html: str
    buttons: tuple[tuple[str, str], ...] = ()
    file: bytes | None = None
    file_name: str | None = None
    photo: bool = False
    new_message: bool = False


Handler = Callable[[CommandContext, Services], Awaitable["str | Reply"]]
# an inline button's handler: (short answer, new text for the message, a Reply, or None)
ButtonHandler = Callable[[CommandContext, Services, str],
                         Awaitable[tuple[str, "str | Reply | None"]]]


@dataclass(frozen=True)
class Command:
    """One entry of the registration table."""

    name: str
    handler: Handler
    access: Role
    private_only: bool
    usage: str
    description: str
    changes: bool = False  # changes the chat's settings: in groups, group admins only

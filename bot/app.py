"""The composition root: builds every part in order, owns every task, tears down in reverse."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from contextlib import AsyncExitStack

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.clock import Clock, SystemClock, to_iso
from bot.commands import Services
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.guard import CommandRouter
from bot.match import Lemmatizer
from bot.models import Post
from bot.services.access import AccessService
from bot.services.ingest import IngestService
from bot.services.rules import RulesService
from bot.services.watch import WatchedChannels, WatchService
from bot.store import Database, Store, apply_migrations
from bot.tasks import TaskOwner
from bot.telegram.botside import BotGateway
from bot.telegram.clients import NotLoggedIn, disconnect, make_client, session_has_key
from bot.telegram.user import UserGateway

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 30
USER_FLOOD_SLEEP = 60  # the user account may sleep through short waits inside history calls


class App:
    """One running chanwatch instance."""

    def __init__(
        self, settings: Settings, *, clock: Clock | None = None,
        lemmatizer: Lemmatizer | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self._lemmatizer = lemmatizer
        self._stack = AsyncExitStack()
        self.tasks = TaskOwner()
        self.store: Store
        self.user: UserGateway
        self.bot: BotGateway
        self.dispatcher: Dispatcher
        self.ingest: IngestService

    async def start(self) -> None:
        """Build and start everything; on failure, undo what was built and re-raise."""
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise

    async def _start(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        if not session_has_key(s.user_session_path):
            raise NotLoggedIn(f"no user session at {s.user_session_path}")

        db = await Database.open(s.database_path)
        self._stack.push_async_callback(db.close)
        await apply_migrations(db, self.clock)
        self.store = store = Store(db, self.clock)

        lemmatizer = self._lemmatizer
        if lemmatizer is None:  # loading ~40 MiB of dictionaries: keep the loop responsive
            lemmatizer = await asyncio.to_thread(Lemmatizer)
        rules = RulesService(store, lemmatizer)
        await rules.rebuild()
        watched = WatchedChannels(store)
        await watched.refresh()

        user_client = make_client(s, s.user_session_path, flood_sleep_threshold=USER_FLOOD_SLEEP)
        # Flood waits must never be slept inside the bot client: that would stall every chat.
        bot_client = make_client(s, s.bot_session_path, flood_sleep_threshold=0)
        self._stack.push_async_callback(disconnect, bot_client)
        self._stack.push_async_callback(disconnect, user_client)

        self.user = UserGateway(user_client, watched, self._on_post)
        watch = WatchService(store, self.user, on_change=watched.refresh)
        services = Services(store, AccessService(store, s.admin_ids), watch, rules, s.timezone)
        self.bot = BotGateway(bot_client, CommandRouter(services, self.clock))
        self.dispatcher = Dispatcher(store, self.bot, self.clock, s.admin_ids)
        self.ingest = IngestService(store, rules, s.timezone, on_enqueued=self.dispatcher.wake)

        await self.user.start()
        await self.bot.start(s.bot_token.value)

        self._stack.push_async_callback(self.tasks.close)
        self.tasks.spawn("dispatcher", self.dispatcher.run())
        scheduler = AsyncIOScheduler(timezone=dt.UTC)
        scheduler.add_job(
            self.run_heartbeat, "interval", seconds=HEARTBEAT_SECONDS, id="heartbeat",
            replace_existing=True, coalesce=True, max_instances=1,
            next_run_time=self.clock.now(),
        )
        scheduler.start()
        self._stack.callback(scheduler.shutdown, wait=False)
        log.info("chanwatch started: %d channels, %d rules", len(watched), len(rules.rules_by_id))

    async def _on_post(self, post: Post) -> None:
        await self.ingest.ingest(post)

    async def run_heartbeat(self) -> None:
        """Touch the heartbeat file while both clients are connected (read by the health check)."""
        if self.user.client.is_connected() and self.bot.client.is_connected():
            path = self.settings.heartbeat_path
            await asyncio.to_thread(path.write_text, to_iso(self.clock.now()) + "\n")

    async def stop(self) -> None:
        """Stop tasks, disconnect clients, let the current write finish, close the database."""
        await self._stack.aclose()


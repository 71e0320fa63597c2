"""The composition root: builds every part in order, owns every task, tears down in reverse."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.archive.indexer import ArchiveIndexer
from bot.archive.search import ArchiveSearch
from bot.budget import Limits, SendBudgets
from bot.clock import Clock, SystemClock, to_iso
from bot.commands import Services
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.guard import CommandRouter
from bot.http.client import make_http_client
from bot.http.translate import Provider, Translations, make_provider, render_translation
from bot.http.webhooks import HttpWebhookSender
from bot.match import Lemmatizer
from bot.media.downloader import MediaDownloader, MediaLimits
from bot.media.files import MediaFiles
from bot.media.lookup import AlertPictures, SimilarImages
from bot.media.ocr import OcrReader, OcrWorker
from bot.metrics import REFRESH as METRICS_REFRESH
from bot.metrics import Metrics, Readings
from bot.models import Channel, Post
from bot.preview.poller import PreviewPoller
from bot.preview.watch import PreviewWatch
from bot.regions.places import PlaceMatcher
from bot.services.access import AccessService
from bot.services.backups import BackupJob
from bot.services.digest import DigestService
from bot.services.health import LiveState, gather, lag_seconds, render
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.services.ports import Outgoing
from bot.services.reconcile import Backfiller, ChannelHealth, DeletionChecker, Reconciler
from bot.services.retention import RetentionJob
from bot.services.rules import RulesService
from bot.services.warnings import Warnings
from bot.services.watch import WatchedChannels, WatchService
from bot.store import Database, Store, apply_migrations
from bot.store.backup import ServiceLock
from bot.tasks import TaskOwner
from bot.telegram.botside import BotGateway
from bot.telegram.clients import (
    ChanwatchClient,
    NotLoggedIn,
    disconnect,
    make_client,
    session_has_key,
)
from bot.telegram.media import TelegramMedia
from bot.telegram.user import UserGateway

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 30


class TranslationBlock:
    """The dispatcher's translator: the HTML block under an alert, never raising."""

    def __init__(self, translations: Translations) -> None:
        self._translations = translations

    async def block(self, post_id: int, text: str, lang: str) -> str:
        """The translation (cached per post and language) or a short note."""
        translated, note = await self._translations.for_alert(post_id, text, lang)
        return render_translation(translated, note, lang)


@dataclass(frozen=True)
class Deps:
    """What the first start-up steps built and the later ones are handed."""

    store: Store
    rules: RulesService  # with the lemmatizer and place matcher it compiles against
    watched: WatchedChannels
    admins: AdminNotifier
    user_client: ChanwatchClient  # not connected yet
    bot_client: ChanwatchClient  # not connected yet
    http: httpx.AsyncClient  # preview pages, webhooks and translations
    translation_provider: Provider | None


class App:
    """One running chanwatch instance."""

    def __init__(
        self, settings: Settings, *, clock: Clock | None = None,
        lemmatizer: Lemmatizer | None = None, places: PlaceMatcher | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self._lemmatizer = lemmatizer
        self._places = places
        self._stack = AsyncExitStack()
        self.tasks = TaskOwner()
        self.metrics: Metrics | None = None  # METRICS_PORT set: bot/metrics.py
        self.metrics_port = 0
        self._behind_since: dict[str, str] = {}  # channels behind Telegram, since (ISO)
        self.started_at = self.clock.now()
        self.last_update_at: dt.datetime | None = None  # the last push from Telegram
        self.last_reconcile_at: dt.datetime | None = None  # the last catch-up that worked
        # built by start(), in this order
        self.database: Database
        self.store: Store
        self._rules: RulesService
        self.http: httpx.AsyncClient
        self.user: UserGateway
        self.media: MediaDownloader
        self.ocr: OcrWorker | None
        self.ingest: IngestService
        self.preview: PreviewPoller
        self.reconciler: Reconciler
        self.backfiller: Backfiller
        self.deletion_checker: DeletionChecker
        self.digests: DigestService
        self.bot: BotGateway
        self.dispatcher: Dispatcher
        self.scheduler: AsyncIOScheduler

    async def start(self) -> None:
        """Build and start everything; on failure, undo what was built and re-raise."""
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise

    async def _start(self) -> None:
        # Every step pushes the undoing of what it opened, so stop() tears down in reverse:
        # scheduler → tasks → HTTP client → user client → bot client → database.
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        if not session_has_key(s.user_session_path):
            raise NotLoggedIn(f"no user session at {s.user_session_path}")
        s.database_path.parent.mkdir(parents=True, exist_ok=True)
        lock = ServiceLock(s.database_path)  # `chanwatch restore` refuses while it is held
        lock.hold()
        self._stack.callback(lock.release)
        if s.ocr is not None:  # before anything starts: say what to install
            await asyncio.to_thread(OcrReader(s.ocr).check)
        self.store = store = await self._open_store()
        self._rules = rules = await self._load_rules(store)
        watched = WatchedChannels(store)
        await watched.refresh()
        user_client, bot_client = self._make_telegram_clients()
        self.http = http = self._make_http_client()
        self.backups = BackupJob(s.database_path, s.backup_dir, s.backup_interval, s.backup_keep,
                                 self.clock, AdminNotifier(store, s.admin_ids),
                                 s.db_busy_timeout.total_seconds())
        self.retention = RetentionJob(store, MediaFiles(s.media_dir), s.retention_days,
                                      self.clock)
        self.warnings = Warnings(store, AdminNotifier(store, s.admin_ids), self.clock,
                                 s.data_dir, disk_free_min=int(s.disk_free_min_gb * 1e9),
                                 last_update=lambda: self.last_update_at,
                                 started_at=self.started_at)
        self.admins = AdminNotifier(store, s.admin_ids)
        deps = Deps(store, rules, watched, AdminNotifier(store, s.admin_ids), user_client,
                    bot_client, http, self._make_translation_provider(http))
        self._build_sources(deps)
        self._build_commands(deps)
        await self._build_dispatcher(deps)
        await self._connect(deps)
        await self._start_jobs()
        log.info("chanwatch started: %d channels, %d rules", len(watched), len(rules.rules_by_id))

    # ---------------------------------------------------------------- store and matching
    async def _open_store(self) -> Store:
        """The database, migrated, behind the store (closed last)."""
        s = self.settings
        db = await Database.open(
            s.database_path, busy_timeout_ms=int(s.db_busy_timeout.total_seconds() * 1000)
        )
        self._stack.push_async_callback(db.close)
        await apply_migrations(db, self.clock)
        self.database = db  # for diagnostics and tests; the service reaches it only via the store
        db.on_full = self._storage_full
        return Store(db, self.clock, dedup_window=s.dedup_window)

    def _storage_full(self, full: bool) -> None:
        """The disk filled up (no write commits), or has room again (a write committed)."""
        if not hasattr(self, "bot"):
            return  # still starting: start-up fails on its own and says why
        if full:
            self.tasks.spawn_once("disk-full", self._tell_admins_disk_full)
        else:
            self.tasks.spawn_once("disk-room", self._disk_has_room)

    async def _tell_admins_disk_full(self) -> None:
        """Told straight through the bot: the outbox, being in the database, cannot be
        written either."""
        html = ("⚠️ The disk is full: the database cannot grow, so new posts are not being"
                " stored and nothing can be queued. What is stored is safe. Everything missed"
                " is caught up as soon as there is room again.")
        for admin in sorted(self.settings.admin_ids):
            try:
                await self.bot.deliver(Outgoing(admin, html, secrets.randbits(63)))
            except Exception as exc:  # a chat the bot cannot reach: the log says it all
                log.warning("could not tell admin %d that the disk is full: %s", admin, exc)

    async def _disk_has_room(self) -> None:
        try:
            await self.admins.tell("✅ The database can be written again; catching up what"
                                   " was missed while the disk was full.",
                                   f"disk-room:{to_iso(self.clock.now())}")
        except Exception:  # full again at once: it says so itself
            log.exception("telling the admins the disk has room failed")
        await self.run_reconcile("disk room")

    async def _load_rules(self, store: Store) -> RulesService:
        """Every alerting rule, compiled against the dictionaries and the gazetteer."""
        lemmatizer = self._lemmatizer
        if lemmatizer is None:  # loading ~40 MiB of dictionaries: keep the loop responsive
            lemmatizer = await asyncio.to_thread(Lemmatizer)
        places = self._places
        if places is None:  # ~38k places: compiled (or read from the cache) in a thread
            places = await asyncio.to_thread(PlaceMatcher.cached, lemmatizer,
                                             self.settings.data_dir / "cache")
        rules = RulesService(store, lemmatizer, places=places)
        await rules.rebuild()
        return rules

    # ---------------------------------------------------------------- clients
    def _make_telegram_clients(self) -> tuple[ChanwatchClient, ChanwatchClient]:
        """The user and bot clients, not yet connected (disconnected at shutdown)."""
        s = self.settings
        # Flood waits are never slept inside Telethon: the user gateway waits them out itself
        # and resumes where it stopped; the bot's dispatcher pauses only the flooded chat.
        user_client = make_client(s, s.user_session_path, flood_sleep_threshold=0,
                                  sequential_updates=True)
        bot_client = make_client(s, s.bot_session_path, flood_sleep_threshold=0,
                                 raise_last_call_error=True, request_retries=2)
        self._stack.push_async_callback(disconnect, bot_client)
        self._stack.push_async_callback(disconnect, user_client)
        return user_client, bot_client

    def _make_http_client(self) -> httpx.AsyncClient:
        """One HTTP client for preview pages, webhooks and translations; closed at shutdown."""
        http = make_http_client(self.settings.http_timeout.total_seconds())
        self._stack.push_async_callback(http.aclose)
        return http

    def _make_translation_provider(self, http: httpx.AsyncClient) -> Provider | None:
        """The configured translation service, if any."""
        s = self.settings
        return make_provider(
            http, translate_url=s.translate_url,
            translate_api_key=s.translate_api_key.value if s.translate_api_key else None,
            deepl_api_key=s.deepl_api_key.value if s.deepl_api_key else None,
            deepl_url=s.deepl_url)

    # ---------------------------------------------------------------- services
    def _build_sources(self, deps: Deps) -> None:
        """What brings posts in: live updates, the web preview, catch-up and backfill."""
        s, store, admins = self.settings, deps.store, deps.admins
        self.user = UserGateway(deps.user_client, deps.watched, self._on_post, self._on_edit,
                                self._on_delete)
        files = MediaFiles(s.media_dir)
        self.media = MediaDownloader(
            store, TelegramMedia(deps.user_client), files, self.clock, admins,
            MediaLimits(max_mb=s.media_max_mb, quota_bytes=int(s.media_max_gb * (1 << 30))))
        self.ingest = IngestService(store, deps.rules, s.timezone, self.clock, admins,
                                    on_media=self.media.wake)
        self.ocr = None
        if s.ocr is not None:
            self.ocr = OcrWorker(store, files, OcrReader(s.ocr), self.ingest.apply_image_text)
            self.media.on_stored = self.ocr.wake
        self.indexer = ArchiveIndexer(store, self.ingest.terms)
        self.preview = PreviewPoller(
            deps.http, s.preview_base_url, store, self.ingest, admins, self.clock,
            max_in_flight=s.preview_concurrency,
            base_backoff=s.preview_interval.total_seconds(),
            backfill_posts=s.backfill_posts, tz=s.timezone, spawn=self.tasks.spawn)
        health = ChannelHealth(store, admins, self.clock, on_change=deps.watched.refresh)
        self.reconciler = Reconciler(store, self.user, self.ingest, health,
                                     on_change=deps.watched.refresh)
        self.backfiller = Backfiller(store, self.user, self.ingest, health)
        self.deletion_checker = DeletionChecker(store, self.user, self.ingest, self.clock,
                                                s.deletion_check_window, health)

    def _build_commands(self, deps: Deps) -> None:
        """The services behind the commands, and the bot gateway that routes them."""
        s, store, rules, provider = self.settings, deps.store, deps.rules, deps.translation_provider
        watch = WatchService(store, self.user, on_change=deps.watched.refresh,
                             on_watched=self._on_watched)
        preview_watch = PreviewWatch(store, self.preview, self._poll_preview_soon)
        self.digests = DigestService(store, self.clock, s.timezone, rules.places)
        services = Services(store, AccessService(store, s.admin_ids), watch, rules, s.timezone,
                            s.backfill_posts, self.digests, self.clock,
                            webhook_allow_private=s.webhook_allow_private,
                            translator_name=provider.name if provider else None,
                            preview=preview_watch,
                            archive=ArchiveSearch(store, rules.lemmatizer, rules.places),
                            indexer=self.indexer, similar=SimilarImages(store),
                            media_kept=s.media, health=self.health_lines)
        self.bot = BotGateway(deps.bot_client, CommandRouter(services, self.clock))

    async def _build_dispatcher(self, deps: Deps) -> None:
        """The outbox sender: Telegram within its limits, webhooks, translations."""
        s, store = self.settings, deps.store
        translator = TranslationBlock(Translations(store, deps.translation_provider,
                                                   timeout=s.translate_timeout.total_seconds()))
        await store.webhooks.set_operator(s.webhook_url.value if s.webhook_url else None,
                                         s.webhook_format)
        limits = Limits(per_chat=s.send_rate_chat, per_group=s.send_rate_group,
                        overall=s.send_rate_total)
        self.dispatcher = Dispatcher(
            store, self.bot, self.clock, s.admin_ids, on_chat_dead=self._chat_dead,
            budgets=SendBudgets(limits),
            webhooks=HttpWebhookSender(deps.http, allow_private=s.webhook_allow_private),
            translator=translator, default_tz=s.timezone,
            pictures=AlertPictures(store, self.media.files) if s.media else None,
            image_wait=s.dedup_image_wait)

    async def _connect(self, deps: Deps) -> None:
        """Connect both accounts; from now on posts and commands arrive."""
        await self.user.start()
        await self.bot.start(self.settings.bot_token.value)
        deps.user_client.on_reconnect = self._on_reconnect

    # ---------------------------------------------------------------- jobs
    def _start_metrics(self) -> None:
        """METRICS_PORT: Prometheus metrics over HTTP, read from the parts' own counts."""
        s = self.settings
        if not s.metrics_port:
            return
        self.metrics = metrics = Metrics(Readings(
            stored=lambda: self.ingest.stored, alerts_queued=lambda: self.ingest.alerts_queued,
            sent=lambda: self.dispatcher.sent,
            floodwaits=lambda: {"bot": self.dispatcher.floodwaits,
                                "user": self.user.flood_waits + self.media.flood_waits}))
        self.dispatcher.on_alert_sent = lambda date: metrics.sent_alert(date, self.clock.now())
        self.metrics_port = metrics.serve(s.metrics_host, s.metrics_port)
        self._stack.callback(metrics.stop)
        log.info("metrics on http://%s:%d/metrics", s.metrics_host, self.metrics_port)

    async def refresh_metrics(self) -> None:
        """The database's gauges: the outbox, and how long each channel has been behind."""
        if self.metrics is None:
            return
        now, readings = self.clock.now(), self.metrics.readings
        readings.outbox_pending = await self.store.outbox.pending_count()
        oldest = await self.store.outbox.oldest_pending()
        readings.outbox_oldest_seconds = (now - oldest).total_seconds() if oldest else 0.0
        readings.tasks = len(asyncio.all_tasks())
        tops = {str(k): v for k, v in self.reconciler.tops.items()}
        readings.lag = {
            f"@{c.username}" if c.username else str(c.id): lag_seconds(
                c, tops, self._behind_since, now)
            for c in await self.store.channels.active()}

    async def run_retention(self) -> None:
        """RETENTION_DAYS: drop what is older (never raises)."""
        try:
            await self.retention.run()
        except Exception:
            log.exception("retention failed; tried again in an hour")

    async def run_warnings(self) -> None:
        """Tell the admins when something goes wrong, and when it clears (never raises)."""
        try:
            await self.warnings.check()
        except Exception:
            log.exception("warning check failed")

    def live_state(self) -> LiveState:
        """What only the running service knows, for /health and status.json."""
        def iso(t: dt.datetime | None) -> str | None:
            return to_iso(t) if t is not None else None

        return LiveState(
            at=to_iso(self.clock.now()), started_at=to_iso(self.started_at),
            user_connected=self.user.client.is_connected(),
            bot_connected=self.bot.client.is_connected(),
            last_update_at=iso(self.last_update_at), last_reconcile_at=iso(self.last_reconcile_at),
            tops={str(k): v for k, v in sorted(self.reconciler.tops.items())},
            behind_since=dict(self._behind_since))

    async def health_lines(self) -> list[str]:
        """The /health report."""
        s = self.settings
        report = await gather(self.store, s.database_path, s.data_dir, self.live_state(),
                              self.clock.now())
        self._behind_since = dict(report.live.behind_since) if report.live else {}
        return render(report)

    async def _start_jobs(self) -> None:
        """The dispatcher, the first reconcile, and the scheduler with every periodic job."""
        s = self.settings
        self._start_metrics()
        self._stack.push_async_callback(self.tasks.close)
        self.tasks.spawn("dispatcher", self.dispatcher.run())
        self.tasks.spawn("reconcile:start", self.run_reconcile("start"))
        self.tasks.spawn("archive-index", self.indexer.run())
        if s.media:  # off: posts still record their media, to be fetched if turned on later
            self.tasks.spawn("media", self.media.run())
        if self.ocr is not None:  # off: stored pictures wait, to be read if turned on later
            self.tasks.spawn("ocr", self.ocr.run())
        # The scheduler only decides when; each run is a task owned (and awaited at shutdown)
        # by the app, and a run still going on when the next is due is not started twice.
        scheduler = AsyncIOScheduler(timezone=dt.UTC)
        jobs = (
            (self.run_heartbeat, "heartbeat", dt.timedelta(seconds=HEARTBEAT_SECONDS),
             self.clock.now()),
            (self.run_scheduled_reconcile, "reconcile", s.reconcile_interval, None),
            (self.run_deletion_check, "deletion-check", s.deletion_check_interval, None),
            (self.run_preview, "preview", s.preview_interval, self.clock.now()),
            *([(self.backups.run, "backup", self.backups.check_every, self.clock.now())]
              if s.backup_interval > dt.timedelta(0) else []),
            (self.run_warnings, "warnings", dt.timedelta(minutes=1), None),
            *([(self.run_retention, "retention", dt.timedelta(hours=1), self.clock.now())]
              if s.retention_days else []),
            *([(self.refresh_metrics, "metrics", dt.timedelta(seconds=METRICS_REFRESH),
                self.clock.now())] if s.metrics_port else []),
        )
        for func, job_id, every, first in jobs:
            # preview polls are jittered so that many instances do not hit t.me in step
            jitter = every.total_seconds() / 5 if job_id == "preview" else None
            scheduler.add_job(self._start_job, "interval", args=(f"job:{job_id}", func),
                              seconds=every.total_seconds(), id=job_id, replace_existing=True,
                              coalesce=True, max_instances=1, next_run_time=first,
                              jitter=jitter)
        scheduler.start()
        self._stack.callback(scheduler.shutdown, wait=False)
        self.scheduler = scheduler
        missed = await self.digests.attach(scheduler, self._start_job_now)
        if missed:
            log.info("%d digests missed while down are being sent", missed)

    async def _start_job(
        self, name: str, func: Callable[[], Coroutine[Any, Any, Any]]
    ) -> None:
        # Runs in the event loop (a coroutine job), so the owned task can be created here.
        self.tasks.spawn_once(name, func)

    def _start_job_now(self, name: str, func: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        self.tasks.spawn_once(name, func)

    # ---------------------------------------------------------------- callbacks
    async def _chat_dead(self) -> None:
        # its rules stop matching until /start (its digest job finds the chat dead and skips)
        await self._rules.rebuild()

    async def _on_post(self, post: Post) -> None:
        self.last_update_at = self.clock.now()
        await self.ingest.ingest(post)

    async def _on_edit(self, post: Post) -> None:
        self.last_update_at = self.clock.now()
        await self.ingest.apply_edit(post)

    async def _on_delete(self, channel_id: int, message_ids: list[int]) -> None:
        self.last_update_at = self.clock.now()
        await self.ingest.apply_deletions(channel_id, message_ids)

    async def _on_reconnect(self) -> None:
        log.info("user client reconnected; catching up")
        self.tasks.spawn("reconcile:reconnect", self.run_reconcile("reconnect"))

    async def _on_watched(self, channel: Channel, chat_id: int, top_id: int,
                          since: dt.date | None) -> None:
        limit = None if since else self.settings.backfill_posts
        if not since and not limit:
            return
        start = (dt.datetime.combine(since, dt.time(), tzinfo=self.settings.timezone)
                 if since else None)
        self.tasks.spawn(f"backfill:{channel.id}", self.backfiller.run_reporting_failure(
            channel, chat_id, limit, start, top_id))

    # ---------------------------------------------------------------- jobs' bodies
    async def run_reconcile(self, reason: str) -> None:
        """Catch up every channel (at start, after reconnects, on the schedule)."""
        started = time.monotonic()
        try:
            await self.reconciler.run(reason)
            self.last_reconcile_at = self.clock.now()
            self.warnings.reconcile_succeeded()
        except Exception:
            # A failed run is retried by the next trigger; the cursor never moved past a gap.
            log.exception("reconcile (%s) failed", reason)
            self.warnings.reconcile_failed()
        if self.metrics is not None:
            self.metrics.reconcile_seconds.observe(time.monotonic() - started)

    async def run_scheduled_reconcile(self) -> None:
        """The periodic reconcile job."""
        await self.run_reconcile("schedule")

    async def run_deletion_check(self) -> None:
        """Re-read recent posts for deletions and edits Telegram did not push."""
        try:
            deleted, edited = await self.deletion_checker.run()
        except Exception:
            log.exception("deletion check failed")
            return
        if deleted or edited:
            log.info("deletion check: %d deleted, %d edited", deleted, edited)

    async def run_preview(self) -> None:
        """Poll the channels read through their web preview (never raises)."""
        stored = await self.preview.poll_all()
        if stored:
            log.info("web preview: %d new posts", stored)

    def _poll_preview_soon(self) -> None:
        self.tasks.spawn_once("job:preview", self.run_preview)

    async def run_heartbeat(self) -> None:
        """Touch the heartbeat file while both clients are connected (read by the health check);
        write status.json either way (read by ``chanwatch health --verbose``)."""
        if self.user.client.is_connected() and self.bot.client.is_connected():
            # A few bytes: written inline, so shutdown never has a thread to wait for.
            self.settings.heartbeat_path.write_text(to_iso(self.clock.now()) + "\n")
        try:
            self.live_state().write(self.settings.data_dir)
        except OSError as exc:  # a full disk: the heartbeat above says more
            log.warning("status.json not written: %s", exc)

    async def stop(self) -> None:
        """Stop tasks, disconnect clients, let the current write finish, close the database."""
        await self._stack.aclose()
